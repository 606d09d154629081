"""What the report knows about a task's Optuna study: a compact record of its trials (kept as
``study.json`` with the report, so it outlives the study), parameter importances, and what each
feature group or option went with."""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import optuna

from bistlab.search.hpo import trial_attrs
from bistlab.core.jsonio import read_json_or_none, write_json_atomic
from bistlab.core.db_urls import storage_path
from bistlab.search.studies import read_study
from bistlab.core.workspace import Workspace
from bistlab.core.records import BestParams

__all__ = ["MIN_TRIALS_FOR_IMPORTANCE", "study_record", "cached_study_record", "flag_effects"]

logger = logging.getLogger(__name__)

MIN_TRIALS_FOR_IMPORTANCE = 5
UNUSED_IN_HPO_PREFIXES = ("ml_adaptive_k_", "ml_pattern_weight_scale_")
"""Parameters drawn and recorded but not used while HPO scores a trial (adaptive learning is off
in HPO): left out of the importances, whose values for them would be noise."""
COMPLETE = optuna.trial.TrialState.COMPLETE


def _study_storages(ws: Workspace, cycle: int, best: BestParams) -> list[str]:
    urls = [ws.study_storage(cycle, best.key)]
    if best.storage and best.storage not in urls:
        urls.append(best.storage)
    return [u for u in urls if (p := storage_path(u)) is None or p.exists()]  # loading would create an empty file


def _importances(study: optuna.Study, n_complete: int) -> tuple[dict[str, float], str]:
    if n_complete < MIN_TRIALS_FOR_IMPORTANCE:
        return {}, f"too few complete trials ({n_complete}) for parameter importances (need at least {MIN_TRIALS_FOR_IMPORTANCE})"
    names = sorted({p for t in study.get_trials(deepcopy=False, states=(COMPLETE,)) for p in t.params})
    params = [p for p in names if not p.startswith(UNUSED_IN_HPO_PREFIXES)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = optuna.importance.get_param_importances(study, params=params)
    except Exception as err:  # noqa: BLE001 - importances are a nicety; say why they are missing
        return {}, f"parameter importances unavailable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    note = (
        f"PED-ANOVA (Optuna's default) over {n_complete} complete trials, conditional parameters included; "
        "adaptive-learning parameters, unused while HPO scores a trial, left out"
    )
    if n_complete < 20:
        note += f"; with only {n_complete} trials these are rough"
    return {k: float(v) for k, v in values.items()}, note


def _trial_entry(t: optuna.trial.FrozenTrial, key: str) -> dict[str, Any]:
    attrs = trial_attrs(t)
    sm = (attrs.get("symbol_metrics") or {}).get(key) or {}
    return {
        "number": t.number,
        "state": "COMPLETE",
        "value": t.value,
        "avg_dirhit": sm.get("avg_dirhit"),
        "model_choice": attrs.get("model_choice"),
        "features_enabled": attrs.get("features_enabled") or {},
        "splits": [{k: s.get(k) for k in ("dirhit", "dirhit_hits", "mask_count", "mask_pct")} for s in sm.get("split_metrics") or []],
        "duration_seconds": t.duration.total_seconds() if t.duration else None,
    }


def _other_states(trials: list[optuna.trial.FrozenTrial]) -> dict[str, dict[str, Any]]:
    """Counts of the trials that did not complete, by state, with their reasons."""
    other: dict[str, dict[str, Any]] = {}
    for t in trials:
        if t.state == COMPLETE:
            continue
        entry = other.setdefault(t.state.name, {"count": 0, "reasons": {}})
        entry["count"] += 1
        reason = (trial_attrs(t).get("fail_reason") or "")[:160]
        if reason:
            entry["reasons"][reason] = entry["reasons"].get(reason, 0) + 1
    return other


def study_record(ws: Workspace, cycle: int, *, best: BestParams) -> dict[str, Any] | None:
    """A compact, JSON-ready record of the task's study, or ``None`` when the study is gone.

    Holds ``n_trials``, per complete trial ``number``, ``value``, ``avg_dirhit`` and its splits
    (``dirhit``, ``dirhit_hits``, ``mask_count``, ``mask_pct``), the failed / pruned counts with
    reasons, and the parameter importances (or why there are none).
    """
    for url in _study_storages(ws, cycle, best):
        try:
            study = read_study(url, best.study_name)
        except Exception as err:  # noqa: BLE001 - a missing, unreachable or unreadable study
            logger.info("%s: study %s not loadable from %s: %s", best.key, best.study_name, url, err)
            continue
        trials = study.get_trials(deepcopy=False)
        complete = [_trial_entry(t, best.key) for t in trials if t.state == COMPLETE]
        importances, note = _importances(study, len(complete))
        return {
            "study_name": best.study_name,
            "storage": url,
            "n_trials": len(trials),
            "n_complete": len(complete),
            "best_trial_number": best.best_trial_number,
            "trials": complete,
            "other_states": _other_states(trials),
            "importances": importances,
            "importance_note": note,
        }
    return None


def cached_study_record(ws: Workspace, cycle: int, *, best: BestParams, archive: bool) -> dict[str, Any] | None:
    """The study record, from the report's ``study.json`` while it matches the selection, else
    freshly read (and kept when ``archive``); the old copy when the study is gone."""
    cache = ws.task(cycle, best.key).study_copy
    cached = read_json_or_none(cache)
    if cached and cached.get("n_trials") == best.n_trials and cached.get("best_trial_number") == best.best_trial_number:
        return cached
    record = study_record(ws, cycle, best=best)
    if record is None:
        return cached  # the study is gone: an older copy is better than nothing
    if archive:
        write_json_atomic(cache, record)
    return record


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def flag_effects(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each feature group or model-side option went with in the search: the complete trials
    with it on against those with it off.

    Args:
        trials: a study record's complete trials (:func:`study_record`), each with
            ``features_enabled``, ``avg_dirhit`` (percent) and ``value`` (the score).

    Returns:
        One row per flag seen both on and off: ``flag``, ``n_on``, ``n_off``, the mean DirHit
        (percent) and mean score of each side, and ``dirhit_on_minus_off`` (points). An
        association within the search (the sampler chose what to try), not a causal effect.
    """
    rows = []
    for flag in sorted({f for t in trials for f in (t.get("features_enabled") or {})}):
        sides = {on: [t for t in trials if (t.get("features_enabled") or {}).get(flag) is on] for on in (True, False)}
        if not sides[True] or not sides[False]:
            continue
        dirhit = {on: _mean([t.get("avg_dirhit") for t in side]) for on, side in sides.items()}
        score = {on: _mean([t.get("value") for t in side]) for on, side in sides.items()}
        rows.append(
            {
                "flag": flag,
                "n_on": len(sides[True]),
                "n_off": len(sides[False]),
                "dirhit_on": dirhit[True],
                "dirhit_off": dirhit[False],
                "score_on": score[True],
                "score_off": score[False],
                "dirhit_on_minus_off": dirhit[True] - dirhit[False] if dirhit[True] is not None and dirhit[False] is not None else None,
            }
        )
    return rows
