"""How numbers read in the report."""

from __future__ import annotations

import math

import pytest

from bistlab.report.htmlfmt import num, pct


@pytest.mark.parametrize(
    ("value", "spec", "expected"),
    [
        (-0.001, "{:+.2f}", "+0.00"),
        (-0.0, "{:+.1f} points", "+0.0 points"),
        (-0.006, "{:+.2f}", "-0.01"),
        (1.5, "{:+.1f}", "+1.5"),
        (-0.0004, "{:.3f}", "0.000"),
        (3, "{:d}", "3"),
        (None, "{:.3f}", "–"),
        (math.nan, "{:.3f}", "–"),
    ],
)
def test_num_never_shows_a_negative_zero(value, spec, expected):
    assert num(value, spec) == expected


@pytest.mark.parametrize(("value", "expected"), [(54.25, "54.2 %"), (None, "–")])
def test_pct(value, expected):
    assert pct(value) == expected
