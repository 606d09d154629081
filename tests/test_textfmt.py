"""Durations in human units and one trial count with its meaning."""

from __future__ import annotations

import math

import pytest

from bistlab.core.textfmt import duration_text, trials_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (math.nan, "–"), (0.0, "0.0 s"), (4.26, "4.3 s"), (42.4, "42 s"), (210, "3.5 min"), (5399, "90.0 min"), (7500, "2 h 05 min"), (-3, "0.0 s")],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        ((12, 12), {"complete": 8, "pruned": 4, "failed": 2}, "12 of 12 (8 complete, 4 pruned, 2 failed)"),
        ((12, 12), {"complete": 12, "pruned": 0, "failed": 0}, "12 of 12 (12 complete)"),
        ((12, 12), {"complete": 9, "pruned": 3, "failed": 0, "empty": 2}, "12 of 12 (9 complete, 3 pruned, 2 empty mask)"),
        ((5, None), {"complete": 5, "failed": 2}, "5 (5 complete, 2 failed)"),
        ((8, 12), {"complete": 8, "total": 14}, "8 of 12 (8 complete, 14 run)"),  # an older record: no states kept
    ],
)
def test_trials_text(args, kwargs, text):
    assert trials_text(*args, **kwargs) == text
