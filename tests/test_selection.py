"""Selection of a study's best trial: support filter, tie-breaks and the LOW_SUPPORT fallback (DESIGN.md "Definitions")."""

from __future__ import annotations

import datetime as dt

import optuna
import pytest

from bistlab.errors import SelectionError
from bistlab.evaluation.metrics import split_metrics, symbol_metrics
from bistlab.search.selection import Selection, SupportFilter, filtered_dirhit, select_best_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)

KEY = "ABC_1d"
DIST = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}


def S(dirhit, mask_count=20, mask_pct=10.0):  # noqa: N802 - one split's metrics, short for tables below
    return {"dirhit": dirhit, "mask_count": mask_count, "mask_pct": mask_pct, "nrmse": 1.0}


def _trial(splits, value=10.0, *, key=KEY, state=optuna.trial.TrialState.COMPLETE, x=0.5, attrs=True):
    user_attrs = {"symbol_metrics": {key: {"split_metrics": splits}}} if attrs else {}
    return optuna.trial.create_trial(
        state=state,
        params={"x": x},
        distributions=DIST,
        value=value if state == optuna.trial.TrialState.COMPLETE else None,
        user_attrs=user_attrs,
    )


def _study(*trials) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for t in trials:
        study.add_trial(t)
    return study


def _select(study, **kwargs) -> Selection:
    return select_best_trial(study.trials, symbol="ABC", horizon=1, study_name="ABC_1d_c1", **kwargs)


# --- the support filter --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("split", "counts"),
    [
        (S(60.0, 5, 2.5), True),  # both exactly at the thresholds
        (S(60.0, 4, 10.0), False),  # mask_count 4 < 5
        (S(60.0, 50, 2.4), False),  # mask_pct 2.4 < 2.5
        (S(60.0, 5, 2.4999), False),
        (S(None, 50, 10.0), False),  # no DirHit
        ({"dirhit": 60.0}, False),  # no support recorded
    ],
)
def test_support_filter_boundaries(split, counts):
    assert SupportFilter().counts(split) is counts


def test_filtered_dirhit_returns_mean_and_indices():
    splits = [S(90.0, 4), S(70.0, 5), S(50.0, 50, 2.4), S(60.0, 50, 2.5), S(None, 0, 0.0)]
    # counted: 1 (70) and 3 (60) -> (70 + 60) / 2 = 65
    assert filtered_dirhit(splits, SupportFilter()) == (pytest.approx(65.0), (1, 3))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (SupportFilter(), None),  # only split 1 counts: fewer than 2
        (SupportFilter(min_valid_splits=1), (70.0, (1,))),
        (SupportFilter(min_valid_splits=0), (70.0, (1,))),  # never fewer than one counted split
        (SupportFilter(min_mask_count=0, min_mask_pct=0.0, min_valid_splits=1), (80.0, (0, 1))),  # (90+70)/2
        (SupportFilter(min_mask_count=0, min_mask_pct=0.0, min_valid_splits=3), None),
    ],
)
def test_filtered_dirhit_needs_min_valid_splits(flt, expected):
    splits = [S(90.0, 4), S(70.0, 5), S(None, 0, 0.0)]
    assert filtered_dirhit(splits, flt) == expected


def test_filtered_dirhit_of_no_splits_is_none():
    assert filtered_dirhit([], SupportFilter(min_valid_splits=0)) is None


def test_selection_drops_the_splits_the_filter_excludes():
    study = _study(_trial([S(90.0, 4, 10.0), S(70.0, 5, 10.0), S(50.0, 50, 2.4), S(60.0, 50, 2.5)], value=7.0, x=0.25))
    sel = _select(study)
    assert sel.trial_number == 0
    assert sel.counted_splits == (1, 3)
    assert sel.filtered_dirhit == pytest.approx(65.0)  # (70 + 60) / 2, not the unfiltered 67.5
    assert sel.low_support is False
    assert sel.filter_used == {"min_mask_count": 5, "min_mask_pct": 2.5, "min_valid_splits": 2}
    assert (sel.params, sel.score, sel.n_complete, sel.n_qualified) == ({"x": 0.25}, 7.0, 1, 1)


# --- picking the best ----------------------------------------------------------------------------


def test_a_high_dirhit_on_one_counting_split_loses_to_a_qualified_trial():
    study = _study(
        # unfiltered mean (90 + 90 + 85) / 3 = 88.3 and the best score, but only split 0 counts
        _trial([S(90.0, 20, 10.0), S(90.0, 4, 10.0), S(85.0, 3, 1.0)], value=50.0),
        # qualified: (58 + 56) / 2 = 57
        _trial([S(58.0), S(56.0)], value=30.0),
        # qualified but worse: 52
        _trial([S(52.0), S(52.0)], value=45.0),
    )
    sel = _select(study)
    assert sel.trial_number == 1
    assert sel.filtered_dirhit == pytest.approx(57.0)
    assert sel.counted_splits == (0, 1)
    assert (sel.low_support, sel.n_qualified, sel.n_complete) == (False, 2, 3)


@pytest.mark.parametrize(
    ("trials", "winner"),
    [
        # equal filtered DirHit 60 ((55 + 65) / 2 == (60 + 60) / 2): the higher score wins
        ([([S(60.0), S(60.0)], 35.0), ([S(55.0), S(65.0)], 38.0)], 1),
        ([([S(60.0), S(60.0)], 40.0), ([S(55.0), S(65.0)], 38.0)], 0),
        # equal DirHit and score: the most recent wins
        ([([S(60.0), S(60.0)], 35.0), ([S(55.0), S(65.0)], 38.0), ([S(60.0), S(60.0)], 38.0)], 2),
        ([([S(60.0), S(60.0)], 38.0), ([S(60.0), S(60.0)], 38.0)], 1),
        # a higher filtered DirHit wins whatever the score
        ([([S(61.0), S(61.0)], -100.0), ([S(60.0), S(60.0)], 40.0)], 0),
    ],
)
def test_ties_on_filtered_dirhit_go_to_score_then_recency(trials, winner):
    study = _study(*(_trial(splits, value) for splits, value in trials))
    assert _select(study).trial_number == winner


def test_most_recent_means_latest_completion():
    # trial 0 finished after trial 1 (e.g. two workers): equal DirHit and score -> trial 0
    base = dt.datetime(2025, 1, 6, 12, 0, 0)

    def frozen(number, minutes):
        return optuna.trial.FrozenTrial(
            number=number,
            state=optuna.trial.TrialState.COMPLETE,
            value=20.0,
            datetime_start=base,
            datetime_complete=base + dt.timedelta(minutes=minutes),
            params={"x": 0.5},
            distributions=DIST,
            user_attrs={"symbol_metrics": {KEY: {"split_metrics": [S(60.0), S(60.0)]}}},
            system_attrs={},
            intermediate_values={},
            trial_id=number,
        )

    assert select_best_trial([frozen(0, 30), frozen(1, 10)], symbol="ABC", horizon=1).trial_number == 0
    assert select_best_trial([frozen(0, 10), frozen(1, 30)], symbol="ABC", horizon=1).trial_number == 1


# --- LOW_SUPPORT ---------------------------------------------------------------------------------


def test_no_qualified_trial_falls_back_to_any_split_with_a_dirhit():
    study = _study(
        # fallback: split 0 only -> 90
        _trial([S(90.0, 3, 2.0), S(None, 0, 0.0)], value=5.0),
        # fallback: (70 + 66) / 2 = 68; neither split has 5 masked rows
        _trial([S(70.0, 4, 10.0), S(66.0, 4, 10.0)], value=25.0),
        # no DirHit anywhere
        _trial([S(None, 0, 0.0), S(None, 0, 0.0)], value=-1.0),
    )
    sel = _select(study)
    assert sel.low_support is True
    assert sel.trial_number == 0
    assert sel.filtered_dirhit == pytest.approx(90.0)
    assert sel.counted_splits == (0,)
    assert sel.filter_used["min_mask_count"] == 0
    assert sel.filter_used["min_mask_pct"] == 0.0
    assert (sel.n_qualified, sel.n_complete) == (0, 3)
    assert sel.to_dict()["low_support"] is True


def test_one_qualified_trial_means_no_fallback():
    study = _study(
        _trial([S(95.0, 3, 2.0), S(95.0, 3, 2.0)], value=60.0),  # best under the fallback, unqualified
        _trial([S(51.0), S(51.0)], value=1.0),
    )
    sel = _select(study)
    assert (sel.trial_number, sel.low_support, sel.n_qualified) == (1, False, 1)


def test_a_stricter_filter_can_force_low_support():
    study = _study(_trial([S(60.0, 20, 10.0), S(70.0, 20, 10.0)]))
    sel = _select(study, flt=SupportFilter(min_mask_count=21))
    assert sel.low_support is True
    assert sel.filtered_dirhit == pytest.approx(65.0)


# --- what is ignored -----------------------------------------------------------------------------


def test_failed_pruned_and_unrelated_trials_are_ignored():
    great = [S(99.0), S(99.0)]
    study = _study(
        _trial(great, state=optuna.trial.TrialState.FAIL),
        _trial(great, state=optuna.trial.TrialState.PRUNED),
        _trial(great, value=99.0, key="ABC_3d"),  # another horizon
        _trial(great, value=99.0, key="XYZ_1d"),  # another symbol
        _trial(great, value=99.0, attrs=False),  # no symbol_metrics at all
        _trial([S(55.0), S(57.0)], value=1.0, x=0.1),
    )
    sel = _select(study)
    assert sel.trial_number == 5
    assert sel.params == {"x": 0.1}
    assert sel.filtered_dirhit == pytest.approx(56.0)
    assert (sel.n_complete, sel.n_qualified) == (4, 1)


def test_nothing_usable_is_a_selection_error():
    great = [S(99.0), S(99.0)]
    study = _study(
        _trial(great, state=optuna.trial.TrialState.FAIL),
        _trial(great, state=optuna.trial.TrialState.PRUNED),
        _trial(great, value=99.0, key="ABC_7d"),
        _trial([S(None, 0, 0.0), S(None, 0, 0.0)], value=0.0),  # complete, but no DirHit
        _trial([], value=0.0),
    )
    with pytest.raises(SelectionError) as info:
        _select(study)
    assert info.value.study_name == "ABC_1d_c1"
    assert "ABC_1d_c1" in str(info.value)


def test_an_empty_study_is_a_selection_error():
    with pytest.raises(SelectionError):
        select_best_trial([], symbol="ABC", horizon=1)


def test_selection_reads_what_symbol_metrics_writes():
    # splits as the objective records them: 3 masked rows of 6 (50 %), then 2 right of 2
    a = split_metrics([0.01, -0.02, 0.003, 0.02, -0.01, 0.0], [0.02, 0.01, 0.01, -0.001, -0.03, 0.02])
    b = split_metrics([0.02] * 6, [0.01] * 6)  # 6 masked rows, all right: 100
    sm = symbol_metrics([a, b], symbol="ABC", horizon=1)
    trial = optuna.trial.create_trial(
        params={"x": 0.5}, distributions=DIST, value=1.0, user_attrs={"symbol_metrics": {KEY: sm}}
    )
    study = _study(trial)
    sel = _select(study)
    # split a has only 3 masked rows: under the 5-row filter nothing qualifies -> fallback (66.7 + 100) / 2
    assert sel.low_support is True
    assert sel.filtered_dirhit == pytest.approx((200 / 3 + 100) / 2)
    sel = _select(study, flt=SupportFilter(min_mask_count=3))
    assert sel.low_support is False and sel.counted_splits == (0, 1)
