"""Scoring a comment classifier against a labelled set (tests/feedback/data/comments_eval.jsonl).

Each labelled comment has ``topics`` (topic id -> "neg" complaint / "pos" praise), ``fault`` (does
it report a charger fault) and ``negation`` (does a negation scope over a topic). The figures:

- micro-F1 over (comment, topic, sentiment) triples: a complaint found as praise is a miss and a
  false find;
- negation errors: share of negation-marked comments where a complaint was found that the label
  does not have (the failure "not too short" → complaint);
- fault recall over comments labelled fault, false incidents over comments labelled no fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SentimentsOf = Callable[[str], Mapping[str, str]]  # comment -> {topic id: "neg" | "pos"}
FaultOf = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Scores:
    comments: int
    precision: float
    recall: float
    micro_f1: float
    negation_comments: int
    negation_errors: int
    faults: int
    faults_found: int
    no_faults: int
    false_incidents: int

    @property
    def negation_error_rate(self) -> float:
        return self.negation_errors / self.negation_comments if self.negation_comments else 0.0

    @property
    def fault_recall(self) -> float:
        return self.faults_found / self.faults if self.faults else 1.0

    @property
    def false_incident_rate(self) -> float:
        return self.false_incidents / self.no_faults if self.no_faults else 0.0

    def lines(self, name: str) -> list[str]:
        return [
            f"{name}: {self.comments} comments",
            f"  micro-F1 {self.micro_f1:.3f} (precision {self.precision:.3f}, recall {self.recall:.3f})",
            f"  negation errors {self.negation_errors}/{self.negation_comments} ({self.negation_error_rate:.1%})",
            f"  fault recall {self.faults_found}/{self.faults} ({self.fault_recall:.1%}), "
            f"false incidents {self.false_incidents}/{self.no_faults} ({self.false_incident_rate:.1%})",
        ]


def score(rows: Sequence[Mapping[str, Any]], sentiments_of: SentimentsOf, fault_of: FaultOf) -> Scores:
    true_positive = false_positive = false_negative = 0
    negation_comments = negation_errors = faults = found = no_faults = false_incidents = 0
    for row in rows:
        expected = {(topic, value) for topic, value in row["topics"].items()}
        predicted_map = sentiments_of(row["text"])
        predicted = set(predicted_map.items())
        true_positive += len(expected & predicted)
        false_positive += len(predicted - expected)
        false_negative += len(expected - predicted)
        if row["negation"]:
            negation_comments += 1
            wrong = {t for t, v in predicted_map.items() if v == "neg" and row["topics"].get(t) != "neg"}
            negation_errors += bool(wrong)
        reported = fault_of(row["text"])
        if row["fault"]:
            faults += 1
            found += reported
        else:
            no_faults += 1
            false_incidents += reported
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(len(rows), precision, recall, f1, negation_comments, negation_errors, faults, found, no_faults,
                  false_incidents)
