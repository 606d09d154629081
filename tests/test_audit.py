"""What the report derives from a study record: flags on against off."""

from __future__ import annotations

import pytest

from bistlab.report.studies import flag_effects


def _trial(value: float, dirhit: float | None, **flags: bool) -> dict:
    return {"value": value, "avg_dirhit": dirhit, "features_enabled": flags}


def test_flag_effects_compares_trials_with_the_flag_on_and_off():
    trials = [
        _trial(1.0, 60.0, candles=True, regime=False),
        _trial(3.0, 50.0, candles=True, regime=True),
        _trial(2.0, 40.0, candles=False, regime=False),
        _trial(0.0, None, candles=False, regime=True),  # an undefined DirHit counts for the score only
    ]
    rows = {r["flag"]: r for r in flag_effects(trials)}
    assert set(rows) == {"candles", "regime"}
    c = rows["candles"]
    assert (c["n_on"], c["n_off"]) == (2, 2)
    assert c["dirhit_on"] == pytest.approx(55.0) and c["dirhit_off"] == pytest.approx(40.0)
    assert c["dirhit_on_minus_off"] == pytest.approx(15.0)
    assert c["score_on"] == pytest.approx(2.0) and c["score_off"] == pytest.approx(1.0)
    assert rows["regime"]["dirhit_on_minus_off"] == pytest.approx(50.0 - 50.0)


@pytest.mark.parametrize("flags", [[True, True], [False, False]])
def test_a_flag_seen_on_one_side_only_gives_no_row(flags):
    trials = [_trial(1.0, 50.0, sentiment=f) for f in flags]
    assert flag_effects(trials) == []


def test_flag_effects_of_trials_without_a_record_is_empty():
    assert flag_effects([{"value": 1.0, "avg_dirhit": 50.0}]) == []
