"""Evaluate the driver-comment classifiers on the labelled EN/DE set: the old keyword matcher (before) and
the rule classifier (after), on the dev half (tuned on) and the held-out half.

    .venv/bin/python bench/feedback_classifier.py [--errors dev|held_out]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chargewatch.feedback.classifier import RuleTopics
from chargewatch.feedback.evaluation import Scores, score
from chargewatch.feedback.fault_reports import reported_faults
from chargewatch.feedback.topics import KeywordTopics, parse_topics

DATA = Path(__file__).resolve().parent.parent / "tests" / "feedback" / "data" / "comments_eval.jsonl"
# The keyword topics as they were before the rule classifier (the "before" figures).
BEFORE_TOPICS = Path(__file__).resolve().parent / "keyword_topics_before.json"


def load(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# The fault topics of the keyword era (fault_reports.FAULT_TOPICS before the rule classifier).
BEFORE_FAULT_TOPICS = frozenset({"connector_stuck", "broken", "payment", "card_not_accepted", "screen_unreadable"})


def evaluate(rows: list[dict]) -> dict[str, Scores]:
    keyword = KeywordTopics(parse_topics(json.loads(BEFORE_TOPICS.read_text(encoding="utf-8"))))
    keyword_new_topics = KeywordTopics()
    rules = RuleTopics()
    return {
        "before (keyword)": score(rows, lambda text: {t: "neg" for t in keyword.topics_of(text)},
                                  lambda text: bool(keyword.topics_of(text) & BEFORE_FAULT_TOPICS)),
        "keyword matcher with the new topic list": score(
            rows, lambda text: {t: "neg" for t in keyword_new_topics.topics_of(text)},
            lambda text: bool(reported_faults(text, keyword_new_topics))),
        "after (rules)": score(rows, lambda text: {t: s.value[:3] for t, s in rules.analyse(text).sentiments().items()},
                               lambda text: bool(reported_faults(text, rules))),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--errors", choices=["dev", "held_out"], help="print the rule classifier's mistakes")
    args = parser.parse_args()
    rows = load()
    for split in ("dev", "held_out", None):
        chosen = [row for row in rows if split is None or row["split"] == split]
        print(f"== {split or 'all'} ==")
        for name, scores in evaluate(chosen).items():
            print("\n".join(scores.lines(name)))
    if args.errors:
        rules = RuleTopics()
        for row in rows:
            if row["split"] != args.errors:
                continue
            got = {t: s.value[:3] for t, s in rules.analyse(row["text"]).sentiments().items()}
            fault = bool(reported_faults(row["text"], rules))
            if got != row["topics"] or fault != row["fault"]:
                print(f"{row['id']:4} {row['text']!r}\n     want {row['topics']} fault={row['fault']}"
                      f"  got {got} fault={fault}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
