"""The cycle report: a table of every task and ``reports/cycle_<N>.html``.

The table is built from the state file and each task's JSON results; the HTML is the executed
``cycle_report`` notebook exported by nbconvert (no code cells, plotly.js embedded once, no
network needed to open it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from bistlab import notebooks
from bistlab.config import Workspace
from bistlab.jsonio import read_json
from bistlab.metrics import wilson_interval
from bistlab.pipeline import TaskPaths
from bistlab.state import StateFile

__all__ = ["cycle_table", "render_report", "REPORT_COLUMNS", "style_table", "report_intro", "report_notes"]

logger = logging.getLogger(__name__)

REPORT_COLUMNS = [
    "task",
    "symbol",
    "horizon",
    "status",
    "trials",
    "hpo_dirhit",
    "wfv_dirhit",
    "holdout_dirhit",
    "holdout_count",
    "ci_low",
    "ci_high",
    "persistence_dirhit",
    "majority_dirhit",
    "best_baseline_dirhit",
    "holdout_nrmse",
    "wfv_nrmse",
    "holdout_mask_pct",
    "valid_splits",
    "low_support",
    "usable",
    "note",
]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return read_json(path) if path.exists() else None
    except (OSError, ValueError) as err:
        logger.warning("unreadable result %s: %s", path, err)
        return None


def cycle_table(ws: Workspace, cycle: int) -> pd.DataFrame:
    """One row per task of ``cycle``: DirHits with counts and 95 % Wilson intervals, baselines, support."""
    state = StateFile(ws.state_file).read()
    rows = []
    for t in sorted(state.cycle_tasks(cycle), key=lambda t: (t.horizon, t.symbol)):
        paths = TaskPaths.of(ws, cycle, t.symbol, t.horizon)
        best = _read(paths.best_params) or {}
        ev = _read(paths.evaluation) or {}
        hold = ev.get("holdout") or {}
        verdict = ev.get("verdict") or {}
        wfv = ev.get("wfv") or {}
        ci = wilson_interval(hold.get("dirhit_hits", 0), hold.get("mask_count", 0)) if hold else None
        rows.append(
            {
                "task": t.key,
                "symbol": t.symbol,
                "horizon": t.horizon,
                "status": t.status,
                "trials": best.get("n_complete"),
                "hpo_dirhit": best.get("hpo_dirhit"),
                "wfv_dirhit": ev.get("wfv_dirhit"),
                "holdout_dirhit": hold.get("dirhit"),
                "holdout_count": hold.get("mask_count"),
                "ci_low": ci[0] if ci else None,
                "ci_high": ci[1] if ci else None,
                "persistence_dirhit": hold.get("persistence_dirhit"),
                "majority_dirhit": hold.get("majority_dirhit"),
                "best_baseline_dirhit": verdict.get("best_baseline_dirhit"),
                "holdout_nrmse": hold.get("nrmse"),
                "wfv_nrmse": wfv.get("avg_nrmse"),
                "holdout_mask_pct": hold.get("mask_pct"),
                "valid_splits": len(best.get("counted_splits") or []) if best else None,
                "low_support": bool(best.get("low_support")) if best else None,
                "usable": verdict.get("usable"),
                "note": t.error or ("LOW_SUPPORT: no trial passed the 5 / 2.5 % support filter; selected under the 0/0.0 fallback" if best.get("low_support") else ""),
            }
        )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _fmt(v: Any, spec: str = "{:.1f}") -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "–"
    return spec.format(v)


def style_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as a person reads it: every holdout DirHit with its count and interval."""
    out = pd.DataFrame(
        {
            "task": table["task"],
            "status": table["status"],
            "trials": table["trials"].map(lambda v: _fmt(v, "{:.0f}")),
            "HPO DirHit % (biased by search)": table["hpo_dirhit"].map(_fmt),
            "WFV DirHit %": table["wfv_dirhit"].map(_fmt),
            "holdout DirHit %": table["holdout_dirhit"].map(_fmt),
            "holdout n": table["holdout_count"].map(lambda v: _fmt(v, "{:.0f}")),
            "holdout 95 % CI": [
                f"{_fmt(lo)}–{_fmt(hi)}" if lo is not None and not pd.isna(lo) else "–" for lo, hi in zip(table["ci_low"], table["ci_high"])
            ],
            "persistence %": table["persistence_dirhit"].map(_fmt),
            "majority %": table["majority_dirhit"].map(_fmt),
            "holdout nRMSE": table["holdout_nrmse"].map(lambda v: _fmt(v, "{:.3f}")),
            "WFV nRMSE": table["wfv_nrmse"].map(lambda v: _fmt(v, "{:.3f}")),
            "support (holdout mask %, splits)": [
                f"{_fmt(p)} %, {_fmt(s, '{:.0f}')}" for p, s in zip(table["holdout_mask_pct"], table["valid_splits"])
            ],
            "LOW_SUPPORT": table["low_support"].map(lambda v: "LOW_SUPPORT" if v else ""),
            "usable": table["usable"].map(lambda v: "usable" if v else ("no" if v is not None and not pd.isna(v) else "–")),
            "note": table["note"],
        }
    )
    return out


def render_report(ws: Workspace, cycle: int) -> Path:
    """Execute the cycle_report notebook and export it to ``reports/cycle_<N>.html``."""
    executed = notebooks.execute(
        "cycle_report",
        ws.cycle_dir(cycle) / "cycle_report.ipynb",
        parameters={"workspace": str(ws.root), "db_url": ws.db_url, "cycle": cycle},
        cwd=ws.root,
    )
    return notebooks.to_html(executed, ws.reports / f"cycle_{cycle}.html")


def report_intro(ws: Workspace, cycle: int, table: pd.DataFrame) -> str:
    """The report's opening: what the numbers are and the cycle's counts, in Markdown."""
    counts = table["status"].value_counts().to_dict()
    n_low = int(table["low_support"].fillna(False).astype(bool).sum())
    n_usable = int(table["usable"].fillna(False).astype(bool).sum())
    return "\n".join(
        [
            f"# bistlab — cycle {cycle}",
            "",
            f"**{len(table)} tasks**: {counts.get('completed', 0)} completed, {counts.get('failed', 0)} failed, "
            f"{counts.get('skipped', 0)} skipped, {n_low} LOW_SUPPORT, **{n_usable} usable**.",
            "",
            "How to read it. *DirHit* is the percentage of rows whose predicted direction is right, counted only where "
            "both the realised and the predicted forward log return exceed the threshold (the mask). *HPO DirHit* is the "
            "selected trial's walk-forward DirHit: it is **biased upward** by the search that picked it. *WFV DirHit* "
            "re-measures the same configuration on the same splits after training (parity). *Holdout DirHit* is the "
            "honest number: the most recent rows, never seen by HPO, predicted online with refits on past data only; it "
            "is shown with its count and 95 % Wilson interval beside two naive baselines on the same rows (persistence: "
            "the sign of the last h-day return; majority: the training window's majority direction). A model is "
            "**usable** only if its holdout interval's lower bound beats 50 % and the best baseline.",
        ]
    )


def report_notes(ws: Workspace, cycle: int, table: pd.DataFrame) -> str:
    """LOW_SUPPORT tasks, failures and skips with reasons, and reproducibility facts, in Markdown."""
    lines = ["## Notes", ""]
    low = table[table["low_support"].fillna(False).astype(bool)]
    if len(low):
        lines.append("**LOW_SUPPORT** (no trial passed the 5 / 2.5 % support filter on at least 2 splits; the 0/0.0 fallback chose the trial): " + ", ".join(low["task"]) + ".")
    else:
        lines.append("No task is LOW_SUPPORT.")
    for _, row in table[table["status"].isin(["failed", "skipped"])].iterrows():
        lines.append(f"- `{row['task']}` {row['status']}: {row['note']}")
    removed: dict[str, set[str]] = {}
    for _, row in table.iterrows():
        best = _read(TaskPaths.of(ws, cycle, row["symbol"], int(row["horizon"])).best_params) or {}
        for name, reason in (best.get("space_removed") or {}).items():
            removed.setdefault(f"**{name}** — {reason}", set()).add(row["task"])
    if removed:
        lines += ["", "### Left out of the search space", ""]
        lines += [f"- {what} ({', '.join(sorted(tasks)) if len(tasks) < len(table) else 'every task'})" for what, tasks in sorted(removed.items())]
    lines += ["", "## Reproducibility", ""]
    fingerprints: dict[str, str] = {}
    versions: dict[str, str] = {}
    spec_settings: dict[str, Any] = {}
    for _, row in table.iterrows():
        meta = _read(TaskPaths.of(ws, cycle, row["symbol"], int(row["horizon"])).model_meta)
        if meta:
            fingerprints[row["symbol"]] = meta["data_fingerprint"]
            versions = meta["package_versions"]
            spec = meta["evaluation_spec"]
            spec_settings = {"dirhit_threshold": spec["dirhit_threshold"], **spec["filter"], "n_splits": len(spec["splits"]), "refit_every": spec["refit_every"]}
    lines.append("Data fingerprints: " + (", ".join(f"{s} `{f}`" for s, f in sorted(fingerprints.items())) or "none") + ".")
    lines.append("")
    lines.append("Evaluation settings: " + (", ".join(f"{k} = {v}" for k, v in spec_settings.items()) or "none") + ".")
    lines.append("")
    lines.append("Package versions: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown") + ".")
    lines.append("")
    lines.append(f"Executed notebooks of every task: `runs/cycle_{cycle}/<SYMBOL>_<h>d/` in the workspace.")
    return "\n".join(lines)
