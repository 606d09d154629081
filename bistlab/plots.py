"""Plotly figures for notebooks and reports, and a display helper that embeds plotly.js once.

In task notebooks, :func:`show` emits plotly's own output type (small files, rendered by
JupyterLab). In the report, :func:`show_embedded` emits each figure as plain HTML; its first call
in a kernel also embeds plotly's JavaScript, so the HTML export is self-contained and offline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go

__all__ = ["show", "show_embedded", "optimization_history", "split_dirhits", "holdout_cumulative", "holdout_dirhit_by_task"]

_JS_EMBEDDED = False


def show(fig: go.Figure) -> Any:
    """Display ``fig`` as plotly's own output type: small notebooks, rendered by JupyterLab."""
    return fig.show(renderer="plotly_mimetype")


def show_embedded(fig: go.Figure) -> Any:
    """Display ``fig`` as HTML for an offline export; plotly.js is embedded with the first figure only."""
    global _JS_EMBEDDED
    from IPython.display import HTML, display

    html = fig.to_html(full_html=False, include_plotlyjs=not _JS_EMBEDDED, config={"displaylogo": False})
    _JS_EMBEDDED = True
    return display(HTML(html))


def _layout(fig: go.Figure, title: str, *, height: int = 360) -> go.Figure:
    fig.update_layout(title=title, height=height, template="plotly_white", margin=dict(l=50, r=20, t=50, b=40))
    return fig


def optimization_history(trials: list[optuna.trial.FrozenTrial], *, key: str) -> go.Figure:
    """Each complete trial's average DirHit and score, with the running best score."""
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    numbers = [t.number for t in done]
    dirhits = [((t.user_attrs.get("symbol_metrics") or {}).get(key) or {}).get("avg_dirhit") for t in done]
    scores = [t.value for t in done]
    best = np.maximum.accumulate(np.array(scores, dtype=float)) if scores else []
    fig = go.Figure()
    fig.add_scatter(x=numbers, y=scores, mode="markers", name="score")
    fig.add_scatter(x=numbers, y=best, mode="lines", name="best score so far")
    fig.add_scatter(x=numbers, y=dirhits, mode="markers", name="avg DirHit %", yaxis="y2", marker_symbol="diamond")
    fig.update_layout(yaxis=dict(title="score"), yaxis2=dict(title="DirHit %", overlaying="y", side="right"), xaxis_title="trial")
    return _layout(fig, f"{key}: optimization history")


def split_dirhits(splits: list[dict[str, Any]], *, title: str) -> go.Figure:
    """DirHit per walk-forward split beside both baselines, masked counts in the hover text."""
    names = [f"split {i}" for i in range(len(splits))]
    fig = go.Figure()
    for field, label in (("dirhit", "model"), ("persistence_dirhit", "persistence"), ("majority_dirhit", "majority")):
        fig.add_bar(
            x=names,
            y=[s.get(field) for s in splits],
            name=label,
            hovertext=[f"mask_count={s['mask_count']} ({s['mask_pct']:.1f} %)" for s in splits],
        )
    fig.add_hline(y=50, line_dash="dot", line_color="grey")
    fig.update_layout(yaxis_title="DirHit %", barmode="group")
    return _layout(fig, title)


def holdout_cumulative(dates: list[str], y_true: list[float], y_pred: list[float], *, thr: float, title: str) -> go.Figure:
    """Cumulative log return of following the model's calls on the holdout versus holding."""
    yt = np.asarray(y_true, dtype=float)
    yp = np.asarray(y_pred, dtype=float)
    calls = np.where(np.abs(yp) > thr, np.sign(yp), 0.0)
    fig = go.Figure()
    fig.add_scatter(x=dates, y=np.cumsum(yt), name="hold (sum of forward log returns)")
    fig.add_scatter(x=dates, y=np.cumsum(calls * yt), name="follow the model's calls")
    fig.update_layout(yaxis_title="cumulative log return (overlapping for h > 1)")
    return _layout(fig, title)


def holdout_dirhit_by_task(table: pd.DataFrame) -> go.Figure:
    """Holdout DirHit per task with its 95 % Wilson interval, and the best baseline."""
    t = table.dropna(subset=["holdout_dirhit"])
    fig = go.Figure()
    fig.add_scatter(
        x=t["task"],
        y=t["holdout_dirhit"],
        mode="markers",
        name="holdout DirHit (95 % CI)",
        error_y=dict(type="data", symmetric=False, array=t["ci_high"] - t["holdout_dirhit"], arrayminus=t["holdout_dirhit"] - t["ci_low"]),
    )
    fig.add_scatter(x=t["task"], y=t["best_baseline_dirhit"], mode="markers", name="best baseline", marker_symbol="x")
    fig.add_hline(y=50, line_dash="dot", line_color="grey")
    fig.update_layout(yaxis_title="DirHit %", xaxis_title="task")
    return _layout(fig, "Holdout DirHit by task (never seen by HPO)", height=420)
