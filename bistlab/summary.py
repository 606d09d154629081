"""Small tables that notebooks display after each step: what was done, with which numbers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bistlab.metrics import dirhit_with_interval

__all__ = ["hpo_summary", "training_summary", "evaluation_summary"]


def _pct(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.2f} %"


def _table(items: list[tuple[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["item", "value"]).set_index("item")


def _pooled(splits: list[dict[str, Any]], counted: list[int]) -> str:
    hits = sum(splits[i]["dirhit_hits"] for i in counted)
    count = sum(splits[i]["mask_count"] for i in counted)
    return dirhit_with_interval(hits, count)


def hpo_summary(result: dict[str, Any]) -> pd.DataFrame:
    """What HPO selected and how (``best_params.json``)."""
    key = f"{result['symbol']}_{result['horizon']}d"
    splits = result["symbol_metrics"][key]["split_metrics"]
    items = [
        ("study", result["study_name"]),
        ("trials (complete / total)", f"{result['n_complete']} / {result['n_trials']}"),
        ("trials passing the support filter", result["n_qualified"]),
        ("selected trial", result["best_trial_number"]),
        ("HPO DirHit (mean over counted splits; biased upward by the search)", _pct(result["hpo_dirhit"])),
        ("pooled over counted splits", _pooled(splits, result["counted_splits"])),
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


def evaluation_summary(ev: dict[str, Any]) -> pd.DataFrame:
    """Parity with HPO and the holdout verdict (``evaluation.json``)."""
    h = ev["holdout"]
    v = ev["verdict"]
    items = [
        ("HPO DirHit (biased upward by the search)", _pct(ev["hpo_dirhit"])),
        ("WFV DirHit after training (same splits)", _pct(ev["wfv_dirhit"])),
        ("parity gap WFV − HPO", "undefined" if ev["wfv_parity_gap"] is None else f"{ev['wfv_parity_gap']:+.4f} points"),
        (f"holdout DirHit, online ({ev['holdout_dates'][0]} to {ev['holdout_dates'][1]})", dirhit_with_interval(h["dirhit_hits"], h["mask_count"])),
        ("holdout mask", f"{h['mask_count']} of {h['n_test']} rows ({h['mask_pct']:.1f} %)"),
        ("holdout call DirHit (|pred| > thr) and coverage", f"{_pct(h['call_dirhit'])} on {h['call_count']} rows ({h['call_coverage_pct']:.1f} %)"),
        ("persistence baseline DirHit (same rows)", _pct(h["persistence_dirhit"])),
        ("majority baseline DirHit (same rows)", _pct(h["majority_dirhit"])),
        ("holdout nRMSE", "undefined" if h["nrmse"] is None else f"{h['nrmse']:.3f}"),
        ("usable", f"{'YES' if v['usable'] else 'no'} — rule: {v['rule']}"),
        ("LOW_SUPPORT", "yes" if ev["low_support"] else "no"),
    ]
    return _table(items)
