"""Small tables that notebooks display after each step: what was done, with which numbers.

Every DirHit is shown with its count and 95 % Wilson interval; a mean over splits is shown with
the count and interval of the pooled splits.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd

from bistlab.metrics import DirHit, split_figures, usable_verdict
from bistlab.selection import FALLBACK_FILTER, SupportFilter, filtered_dirhit

__all__ = ["hpo_summary", "training_summary", "evaluation_summary", "load_best_params"]


def _table(items: list[tuple[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["item", "value"]).set_index("item")


def _mean_with_interval(value: float | None, splits: list[dict[str, Any]], counted: list[int] | tuple[int, ...], *, horizon: int | None = None) -> str:
    """``"55.3 % (mean of 4 splits, pooled n=340, n_eff=52, 95 % CI 49.9–60.6)"``: the interval of the mean."""
    if value is None or not counted:
        return "undefined (n=0)"
    return DirHit.mean_of_splits([splits[i] for i in counted], value=value, horizon=horizon).text()


def _counted_by_mean(splits: list[dict[str, Any]], value: float | None) -> tuple[int, ...]:
    """The splits whose mean DirHit is ``value``: the support filter's, else the fallback's, else the
    subset that reproduces it (for an evaluation.json read without its best_params.json)."""
    if value is None:
        return ()
    for flt in (SupportFilter(), FALLBACK_FILTER):
        res = filtered_dirhit(splits, flt)
        if res is not None and abs(res[0] - value) < 1e-9:
            return res[1]
    defined = [i for i, s in enumerate(splits) if s.get("dirhit") is not None]
    for size in range(len(defined), 0, -1):
        for subset in itertools.combinations(defined, size):
            if abs(sum(splits[i]["dirhit"] for i in subset) / size - value) < 1e-9:
                return subset
    return ()


def load_best_params(ws: Any, symbol: str, horizon: int, *, cycle: int) -> dict[str, Any] | None:
    """The task's ``best_params.json`` (``None`` when absent), for :func:`evaluation_summary`."""
    from bistlab.jsonio import read_json

    path = Path(ws.task_dir(cycle, f"{symbol}_{horizon}d")) / "best_params.json"
    return read_json(path) if path.exists() else None


def hpo_summary(result: dict[str, Any]) -> pd.DataFrame:
    """What HPO selected and how (``best_params.json``)."""
    key = f"{result['symbol']}_{result['horizon']}d"
    splits = result["symbol_metrics"][key]["split_metrics"]
    items = [
        ("study", result["study_name"]),
        ("trials (complete / total)", f"{result['n_complete']} / {result['n_trials']}"),
        ("trials passing the support filter", result["n_qualified"]),
        ("selected trial", result["best_trial_number"]),
        ("HPO DirHit (biased upward by the search)", _mean_with_interval(result["hpo_dirhit"], splits, result["counted_splits"], horizon=result["horizon"])),
        ("counted splits", result["counted_splits"]),
        ("score", result["best_value"]),
        ("LOW_SUPPORT", "yes: no trial passed the support filter; 0/0.0 fallback used" if result["low_support"] else "no"),
        ("filter used", result["filter_used"]),
        ("model", result["model_choice"]),
        ("feature groups on", ", ".join(["core"] + [g for g, on in result["features_enabled"].items() if on])),
        ("removed from the space", result["space_removed"] or "nothing"),
        ("data fingerprint", result["data_fingerprint"]),
    ]
    return _table(items)


def training_summary(meta: dict[str, Any]) -> pd.DataFrame:
    """What was trained, on which rows (``model.json``)."""
    items = [
        ("model", meta["config"]["model_choice"]),
        ("trained on rows", f"{meta['trained_rows'][0]}–{meta['trained_rows'][1] - 1} ({meta['trained_dates'][0]} to {meta['trained_dates'][1]})"),
        ("features", len(meta["features"])),
        ("artifact", meta["model_file"]),
        ("data fingerprint", meta["data_fingerprint"]),
        ("LOW_SUPPORT", "yes" if meta["low_support"] else "no"),
        ("package versions", ", ".join(f"{k} {v}" for k, v in meta["package_versions"].items())),
    ]
    return _table(items)


def evaluation_summary(ev: dict[str, Any], *, best: dict[str, Any] | None = None) -> pd.DataFrame:
    """Parity with HPO and the holdout verdict (``evaluation.json``; ``best``: the task's
    ``best_params.json``, for the HPO DirHit's count and the splits the WFV DirHit counted)."""
    h = ev["holdout"]
    horizon = int(ev["horizon"])
    wfv_splits = (ev.get("wfv") or {}).get("split_metrics") or []
    if best is not None:
        res = filtered_dirhit(wfv_splits, SupportFilter(**best["filter_used"]))
        wfv_counted = res[1] if res else ()
        key = f"{best['symbol']}_{best['horizon']}d"
        hpo = _mean_with_interval(ev["hpo_dirhit"], best["symbol_metrics"][key]["split_metrics"], best["counted_splits"], horizon=horizon)
    else:
        wfv_counted = _counted_by_mean(wfv_splits, ev["wfv_dirhit"])
        hpo = _mean_with_interval(ev["hpo_dirhit"], wfv_splits, wfv_counted, horizon=horizon) + " (counts of the same splits after training)"
    n = h["mask_count"]
    figs = split_figures(h, horizon=horizon)
    verdict = usable_verdict(h, horizon=horizon)
    base = {k: figs[k].text() if k in figs else "undefined (n=0)" for k in ("persistence", "majority")}
    if h.get("persistence_no_direction"):
        base["persistence"] += f"; {h['persistence_no_direction']} rows without a past direction not counted"
    items = [
        ("HPO DirHit (biased upward by the search)", hpo),
        ("WFV DirHit after training (same splits)", _mean_with_interval(ev["wfv_dirhit"], wfv_splits, wfv_counted, horizon=horizon)),
        ("parity gap WFV − HPO", "undefined" if ev["wfv_parity_gap"] is None else f"{ev['wfv_parity_gap']:+.4f} points"),
        (f"holdout DirHit, online ({ev['holdout_dates'][0]} to {ev['holdout_dates'][1]})", figs["model"].text()),
        ("holdout mask", f"{n} of {h['n_test']} rows ({h['mask_pct']:.1f} %)"),
        ("holdout call DirHit (|pred| > thr)", f"{figs['call'].text()}; coverage {h['call_coverage_pct']:.1f} % of rows"),
        ("persistence baseline DirHit (same rows)", base["persistence"]),
        ("majority baseline DirHit (same rows)", base["majority"]),
        ("holdout nRMSE", "undefined" if h["nrmse"] is None else f"{h['nrmse']:.3f}"),
        ("passes the usable rule (this task alone)", f"{'YES' if verdict['passes_rule'] else 'no'} (one-sided p = {verdict['p_value']:.4f}) — rule: {verdict['rule']}"),
        ("usable", "decided over the cycle's tasks (false-discovery control): see the cycle report"),
        ("LOW_SUPPORT", "yes" if ev["low_support"] else "no"),
    ]
    return _table(items)
