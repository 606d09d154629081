"""Selection of a study's best trial with the support filter and the LOW_SUPPORT fallback.

A split counts only if its DirHit is defined, ``mask_count >= min_mask_count`` and
``mask_pct >= min_mask_pct``; a trial qualifies if at least ``min_valid_splits`` splits count.
The best trial is the qualified one with the highest filtered DirHit, then score, then the most
recent. If none qualifies, the task is LOW_SUPPORT: the filter falls back to 0/0.0 (any split
with a DirHit, at least one) and every place the result appears says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from bistlab.errors import SelectionError
from bistlab.search.hpo import trial_attrs
from bistlab.core.workspace import task_key

__all__ = ["SupportFilter", "Selection", "filtered_dirhit", "select_best_trial"]


@dataclass(frozen=True)
class SupportFilter:
    """Support filter thresholds."""

    min_mask_count: int = 5
    min_mask_pct: float = 2.5
    min_valid_splits: int = 2

    def counts(self, split: dict[str, Any]) -> bool:
        return (
            split.get("dirhit") is not None
            and split.get("mask_count", 0) >= self.min_mask_count
            and split.get("mask_pct", 0.0) >= self.min_mask_pct
        )


FALLBACK_FILTER = SupportFilter(min_mask_count=0, min_mask_pct=0.0, min_valid_splits=1)


@dataclass(frozen=True)
class Selection:
    """The outcome of selection for one (symbol, horizon) study.

    Attributes:
        trial_number: the selected trial.
        params: its Optuna parameters.
        filtered_dirhit: mean DirHit over the splits that passed the filter used, percent.
        counted_splits: indices of those splits.
        score: the trial's objective value (``None`` if it had none).
        low_support: True when no trial passed the support filter and the fallback was used.
        filter_used: the thresholds that selected the trial.
        n_complete: complete trials in the study.
        n_qualified: trials that passed the (non-fallback) support filter.
    """

    trial_number: int
    params: dict[str, Any]
    filtered_dirhit: float
    counted_splits: tuple[int, ...]
    score: float | None
    low_support: bool
    filter_used: dict[str, Any]
    n_complete: int
    n_qualified: int
    user_attrs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def filtered_dirhit(splits: Sequence[dict[str, Any]], flt: SupportFilter) -> tuple[float, tuple[int, ...]] | None:
    """Mean DirHit over the splits ``flt`` counts, with their indices; ``None`` if too few count."""
    counted = tuple(i for i, s in enumerate(splits) if flt.counts(s))
    if len(counted) < max(1, flt.min_valid_splits):
        return None
    return sum(splits[i]["dirhit"] for i in counted) / len(counted), counted


def _candidates(
    trials: Sequence[optuna.trial.FrozenTrial], key: str, flt: SupportFilter, spec_id: str | None = None
) -> list[tuple[tuple, optuna.trial.FrozenTrial, float, tuple[int, ...]]]:
    out = []
    for t in trials:
        if t.state != optuna.trial.TrialState.COMPLETE:
            continue
        attrs = trial_attrs(t)
        if spec_id is not None and attrs.get("spec_id", spec_id) != spec_id:
            continue  # scored on other splits or other prices: never ranked with these
        entry = (attrs.get("symbol_metrics") or {}).get(key)
        if not entry:
            continue
        res = filtered_dirhit(entry.get("split_metrics") or [], flt)
        if res is None:
            continue
        value = t.value if t.value is not None and math.isfinite(t.value) else -math.inf
        recency = t.datetime_complete.timestamp() if t.datetime_complete else 0.0
        out.append(((res[0], value, recency, t.number), t, res[0], res[1]))
    return out


def select_best_trial(
    trials: Sequence[optuna.trial.FrozenTrial],
    *,
    symbol: str,
    horizon: int,
    flt: SupportFilter | None = None,
    study_name: str = "?",
    spec_id: str | None = None,
) -> Selection:
    """Pick the best trial of a (symbol, horizon) study.

    Args:
        trials: the study's trials (any state; only complete ones are considered).
        symbol: the task's symbol.
        horizon: h, trading days.
        flt: the support filter; defaults to 5 / 2.5 % / 2 splits.
        study_name: used in error messages.
        spec_id: the evaluation spec the trials must have been scored on
            (:attr:`bistlab.evaluation.walkforward.EvaluationSpec.spec_id`); trials recorded with another are
            left out. ``None``: every trial.

    Raises:
        SelectionError: no complete trial has even one split with a defined DirHit.
    """
    flt = flt or SupportFilter()
    key = task_key(symbol, horizon)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and (spec_id is None or trial_attrs(t).get("spec_id", spec_id) == spec_id)]
    qualified = _candidates(trials, key, flt, spec_id)
    low_support = not qualified
    used = flt
    pool = qualified
    if low_support:
        used = FALLBACK_FILTER
        pool = _candidates(trials, key, FALLBACK_FILTER, spec_id)
    if not pool:
        raise SelectionError(
            f"`complete trials with a defined DirHit` must be at least 1 but got 0 (of {len(complete)} complete, {len(trials)} total)",
            study_name=study_name,
        )
    _, best, dirhit, counted = max(pool, key=lambda c: c[0])
    return Selection(
        trial_number=best.number,
        params=dict(best.params),
        filtered_dirhit=float(dirhit),
        counted_splits=counted,
        score=best.value,
        low_support=low_support,
        filter_used=asdict(used),
        n_complete=len(complete),
        n_qualified=len(qualified),
        user_attrs=trial_attrs(best),
    )
