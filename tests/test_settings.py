"""Numbers from the environment: the default when unset, the value when sound, a SettingError naming the variable."""

from __future__ import annotations

import pytest

from chargewatch import settings


def test_unset_or_empty_gives_the_default_and_a_sound_value_is_taken():
    assert settings.number({}, "CHARGEWATCH_X", 10.0) == 10.0
    assert settings.number({"CHARGEWATCH_X": "  "}, "CHARGEWATCH_X", 10.0) == 10.0
    assert settings.number({"CHARGEWATCH_X": " 2.5 "}, "CHARGEWATCH_X", 10.0) == 2.5
    assert settings.integer({"CHARGEWATCH_X": "1048576"}, "CHARGEWATCH_X", 1) == 1048576


@pytest.mark.parametrize(("raw", "kwargs", "reason"), [
    ("ten", {}, "not a number"), ("nan", {}, "at least 0"), ("inf", {}, "at least 0"), ("-1", {}, "at least 0"),
    ("0", {"above": True}, "more than 0"), ("1.5", {"integer": True}, "whole number"), ("²", {}, "not a number"),
])
def test_a_malformed_value_is_refused_naming_the_variable(raw, kwargs, reason):
    read = settings.integer if kwargs.pop("integer", False) else settings.number
    with pytest.raises(settings.SettingError) as refused:
        read({"CHARGEWATCH_X": raw}, "CHARGEWATCH_X", 1, **kwargs)
    assert str(refused.value).startswith(f"CHARGEWATCH_X={raw!r}: ") and reason in str(refused.value)
