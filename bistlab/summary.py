"""Small tables that notebooks display after each step: what was done, with which numbers.

Every DirHit is shown with its count and the 95 % interval of that very number (a mean over
splits with the interval of the mean; intervals at the effective count of overlapping labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bistlab.metrics import DirHit, split_figures, usable_verdict
from bistlab.workspace import BestParams, Evaluation, ModelMeta

__all__ = ["hpo_summary", "training_summary", "evaluation_summary"]


def _table(items: list[tuple[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["item", "value"]).set_index("item")


def _mean_with_interval(value: float | None, splits: list[dict[str, Any]], counted: Sequence[int], *, horizon: int) -> str:
    """``"55.3 % (mean of 4 splits, pooled n=340, n_eff=52, 95 % CI 49.9–60.6)"``: the interval of the mean."""
    if value is None or not counted:
        return "undefined (n=0)"
    return DirHit.mean_of_splits([splits[i] for i in counted], value=value, horizon=horizon).text()


def hpo_summary(best: BestParams) -> pd.DataFrame:
    """What HPO selected and how (``best_params.json``)."""
    items = [
        ("study", best.study_name),
        ("trials (complete / total)", f"{best.n_complete} / {best.n_trials}"),
        ("trials passing the support filter", best.n_qualified),
        ("selected trial", best.best_trial_number),
        ("HPO DirHit (biased upward by the search)", _mean_with_interval(best.hpo_dirhit, best.splits, best.counted_splits, horizon=best.horizon)),
        ("counted splits", best.counted_splits),
        ("score", best.best_value),
        ("LOW_SUPPORT", "yes: no trial passed the support filter; 0/0.0 fallback used" if best.low_support else "no"),
        ("filter used", best.filter_used),
        ("model", best.model_choice),
        ("feature groups on", ", ".join(["core"] + [g for g, on in best.features_enabled.items() if on])),
        ("removed from the space", best.space_removed or "nothing"),
        ("data fingerprint", best.data_fingerprint),
    ]
    if best.study_restart_note:
        items.append(("study restarted", best.study_restart_note))
    return _table(items)


def training_summary(meta: ModelMeta) -> pd.DataFrame:
    """What was trained, on which rows (``model.json``)."""
    items = [
        ("model", meta.config["model_choice"]),
        ("trained on rows", f"{meta.trained_rows[0]}–{meta.trained_rows[1] - 1} ({meta.trained_dates[0]} to {meta.trained_dates[1]})"),
        ("features", len(meta.features)),
        ("artifact", meta.model_file),
        ("data fingerprint", meta.data_fingerprint),
        ("LOW_SUPPORT", "yes" if meta.low_support else "no"),
        ("package versions", ", ".join(f"{k} {v}" for k, v in meta.package_versions.items())),
    ]
    return _table(items)


def _baselines(ev: Evaluation, figs: dict[str, DirHit]) -> dict[str, str]:
    base = {k: figs[k].text() if k in figs else "undefined (n=0)" for k in ("persistence", "majority")}
    if ev.holdout.persistence_no_direction:
        base["persistence"] += f"; {ev.holdout.persistence_no_direction} rows without a past direction not counted"
    return base


def evaluation_summary(ev: Evaluation, *, best: BestParams | None = None) -> pd.DataFrame:
    """Parity with HPO and the holdout verdict (``evaluation.json``; ``best``: the task's selection,
    for the HPO DirHit's own splits; without it, the HPO DirHit is shown with the counts of the
    same splits after training)."""
    h, horizon = ev.holdout, ev.horizon
    wfv_splits = ev.wfv.get("split_metrics") or []
    if best is not None:
        hpo = _mean_with_interval(ev.hpo_dirhit, best.splits, best.counted_splits, horizon=horizon)
    else:
        hpo = _mean_with_interval(ev.hpo_dirhit, wfv_splits, ev.wfv_counted_splits, horizon=horizon) + " (counts of the same splits after training)"
    figs = split_figures(h, horizon=horizon)
    verdict = usable_verdict(h, horizon=horizon)
    base = _baselines(ev, figs)
    items = [
        ("HPO DirHit (biased upward by the search)", hpo),
        ("WFV DirHit after training (same splits)", _mean_with_interval(ev.wfv_dirhit, wfv_splits, ev.wfv_counted_splits, horizon=horizon)),
        ("parity gap WFV − HPO", "undefined" if ev.wfv_parity_gap is None else f"{ev.wfv_parity_gap:+.4f} points"),
        (f"holdout DirHit, online ({ev.holdout_dates[0]} to {ev.holdout_dates[1]})", figs["model"].text()),
        ("holdout mask", f"{h.mask_count} of {h.n_test} rows ({h.mask_pct:.1f} %)"),
        ("holdout call DirHit (|pred| > thr)", f"{figs['call'].text()}; coverage {h.call_coverage_pct:.1f} % of rows"),
        ("persistence baseline DirHit (same rows)", base["persistence"]),
        ("majority baseline DirHit (same rows)", base["majority"]),
        ("holdout nRMSE", "undefined" if h.nrmse is None else f"{h.nrmse:.3f}"),
        ("passes the usable rule (this task alone)", f"{'YES' if verdict['passes_rule'] else 'no'} (one-sided p = {verdict['p_value']:.4f}) — rule: {verdict['rule']}"),
        ("usable", "decided over the cycle's tasks (false-discovery control): see the cycle report"),
        ("LOW_SUPPORT", "yes" if ev.low_support else "no"),
    ]
    return _table(items)
