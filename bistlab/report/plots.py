"""Plotly figures for notebooks and reports, and display helpers that never repeat plotly.js.

- :func:`show` (task notebooks) emits one output with two representations: plotly's own mimetype
  (JupyterLab renders it natively with its plotly extension) and a ``text/html`` div whose script
  calls ``Plotly.newPlot`` without embedding the library. The HTML export of the notebook shows
  the figure when the page loads plotly.js itself (``bistlab.runs.notebooks.to_html(...,
  plotly_src="../plotly.min.js")``); the executed notebook stays small (no 4.8 MB per figure).
- :func:`show_embedded` (the cycle report) emits HTML only; its first call in a kernel also
  embeds plotly's JavaScript, so the report is one self-contained offline file with plotly.js
  included once.
- :func:`figure_html` is the same div for pages bistlab writes itself (the per-task pages load a
  shared ``plotly.min.js`` beside them; :func:`write_plotlyjs`).
"""

from __future__ import annotations

import html as _html
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, display
from plotly.offline import get_plotlyjs

from bistlab.search.hpo import trial_attrs
from bistlab.evaluation.dirhit import split_figures

__all__ = [
    "PLOTLY_MIMETYPE",
    "PLOTLY_CONFIG",
    "show",
    "show_embedded",
    "figure_html",
    "spec_html",
    "write_plotlyjs",
    "optimization_history",
    "param_importances",
    "flag_effects",
    "split_dirhits",
    "holdout_cumulative",
    "holdout_dirhit_by_task",
    "edge_heatmap",
    "hpo_vs_holdout",
    "rank_ic_by_date",
    "rank_ic_by_tercile",
    "TERCILE_NAMES",
]

TERCILE_NAMES = ("least liquid", "middle", "most liquid")
"""Liquidity terciles of a universe holdout (0 = least liquid by turnover over the training window)."""

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}

_JS_EMBEDDED = False


def _figure_json(fig: go.Figure) -> dict[str, Any]:
    return json.loads(fig.to_json(validate=False))


def figure_html(fig: go.Figure, *, div_id: str | None = None) -> str:
    """``fig`` as a div and a script calling ``Plotly.newPlot``, without plotly.js itself.

    The page must load plotly.js before this runs; where it has not, the div says so instead of
    raising a script error.
    """
    return spec_html(_figure_json(fig), div_id=div_id)


def spec_html(spec: dict[str, Any], *, div_id: str | None = None) -> str:
    """:func:`figure_html` from a figure's JSON (``data``, ``layout``, optional ``config``), e.g.
    the content of a plotly mimetype output."""
    div_id = div_id or f"bistlab-plot-{uuid.uuid4().hex[:12]}"
    height = (spec.get("layout") or {}).get("height") or 420
    config = {**PLOTLY_CONFIG, **(spec.get("config") or {})}
    payload = json.dumps({"data": spec.get("data", []), "layout": spec.get("layout", {}), "config": config}, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # no "</script>" inside the script
    return (
        f'<div id="{div_id}" class="plotly-graph-div bistlab-plot" style="height:{int(height)}px; width:100%;"></div>\n'
        '<script type="text/javascript">(function () {\n'
        f'  var el = document.getElementById("{div_id}"), fig = {payload};\n'
        '  if (!el) { return; }\n'
        '  if (typeof window.Plotly === "undefined") {\n'
        '    el.style.height = "auto";\n'
        '    el.textContent = "(figure not drawn: plotly.js is not loaded in this page; open the HTML report or JupyterLab)";\n'
        '    return;\n'
        '  }\n'
        '  window.Plotly.newPlot(el, fig.data, fig.layout, fig.config);\n'
        '})();</script>'
    )


def show(fig: go.Figure) -> Any:
    """Display ``fig`` for a task notebook: plotly's mimetype for JupyterLab, and an HTML div for
    the HTML export (the page loads plotly.js once; see the module docstring)."""
    spec = _figure_json(fig)
    bundle = {
        PLOTLY_MIMETYPE: {"data": spec.get("data", []), "layout": spec.get("layout", {}), "config": PLOTLY_CONFIG},
        "text/html": figure_html(fig),
        "text/plain": f"<plotly figure: {_html.escape(str((spec.get('layout') or {}).get('title', {}).get('text', '')))}>",
    }
    return display(bundle, raw=True)


def show_embedded(fig: go.Figure) -> Any:
    """Display ``fig`` as HTML for an offline export; plotly.js is embedded with the first figure only."""
    global _JS_EMBEDDED
    html = figure_html(fig)
    if not _JS_EMBEDDED:
        html = f'<script type="text/javascript">{get_plotlyjs()}</script>\n' + html
        _JS_EMBEDDED = True
    return display(HTML(html))


def write_plotlyjs(path: Path) -> Path:
    """Write plotly.js (minified, the installed plotly's version) to ``path`` unless it is already there."""
    path = Path(path)
    js = get_plotlyjs()
    if not path.exists() or path.stat().st_size != len(js.encode("utf-8")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(js, encoding="utf-8")
    return path


def _layout(fig: go.Figure, title: str, *, height: int = 360) -> go.Figure:
    fig.update_layout(title=title, height=height, template="plotly_white", margin=dict(l=50, r=20, t=50, b=40))
    return fig


def _trial_points(trials: Sequence[optuna.trial.FrozenTrial | dict[str, Any]], key: str) -> list[tuple[int, float | None, float | None]]:
    out = []
    for t in trials:
        if isinstance(t, dict):
            if t.get("state", "COMPLETE") == "COMPLETE":
                out.append((int(t["number"]), t.get("value"), t.get("avg_dirhit")))
        elif t.state == optuna.trial.TrialState.COMPLETE:
            out.append((t.number, t.value, ((trial_attrs(t).get("symbol_metrics") or {}).get(key) or {}).get("avg_dirhit")))
    return out


def optimization_history(
    trials: Sequence[optuna.trial.FrozenTrial | dict[str, Any]],
    *,
    key: str,
    selected: int | None = None,
) -> go.Figure:
    """Each complete trial's average DirHit and score, with the running best score.

    Args:
        trials: Optuna trials, or compact records (``number``, ``state``, ``value``, ``avg_dirhit``).
        key: the task key (``"<SYMBOL>_<h>d"``).
        selected: the trial chosen by selection (marked), if known.
    """
    points = _trial_points(trials, key)
    numbers = [p[0] for p in points]
    scores = [p[1] for p in points]
    dirhits = [p[2] for p in points]
    values = np.array([np.nan if v is None else v for v in scores], dtype=float)
    best = np.fmax.accumulate(values) if len(values) else []
    fig = go.Figure()
    fig.add_scatter(x=numbers, y=scores, mode="markers", name="score")
    fig.add_scatter(x=numbers, y=best, mode="lines", name="best score so far")
    fig.add_scatter(x=numbers, y=dirhits, mode="markers", name="avg DirHit % (before the support filter)", yaxis="y2", marker_symbol="diamond")
    if selected is not None and selected in numbers:
        i = numbers.index(selected)
        fig.add_scatter(
            x=[selected], y=[dirhits[i]], mode="markers", name=f"selected trial {selected}", yaxis="y2",
            marker=dict(symbol="star", size=14, color="crimson"),
        )
    fig.update_layout(yaxis=dict(title="score"), yaxis2=dict(title="DirHit %", overlaying="y", side="right"), xaxis=dict(title="trial", tickformat="d"))
    return _layout(fig, f"{key}: optimization history ({len(points)} complete trials)")


def param_importances(importances: dict[str, float], *, key: str, method: str = "fANOVA") -> go.Figure:
    """Horizontal bars of Optuna parameter importances (share of the score's variance)."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = go.Figure()
    fig.add_bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h", name="importance")
    fig.update_layout(xaxis_title=f"importance ({method}, sums to 1)", yaxis=dict(automargin=True))
    return _layout(fig, f"{key}: parameter importances for the score", height=max(260, 28 * len(items) + 100))


def flag_effects(rows: list[dict[str, Any]], *, key: str) -> go.Figure:
    """Bars of mean DirHit with each flag on minus off over the study's complete trials
    (:func:`bistlab.report.studies.flag_effects`); trial counts in the hover."""
    items = sorted((r for r in rows if r.get("dirhit_on_minus_off") is not None), key=lambda r: r["dirhit_on_minus_off"])
    fig = go.Figure()
    fig.add_bar(
        x=[r["dirhit_on_minus_off"] for r in items],
        y=[r["flag"] for r in items],
        orientation="h",
        marker_color=["seagreen" if r["dirhit_on_minus_off"] >= 0 else "indianred" for r in items],
        customdata=[[r["n_on"], r["n_off"], r["dirhit_on"], r["dirhit_off"]] for r in items],
        hovertemplate="%{y}: %{x:+.2f} points<br>on: %{customdata[2]:.1f} % (n=%{customdata[0]})<br>off: %{customdata[3]:.1f} % (n=%{customdata[1]})<extra></extra>",
        name="on − off",
    )
    fig.update_layout(xaxis_title="mean DirHit with the flag on − off (points)", yaxis=dict(automargin=True))
    return _layout(fig, f"{key}: feature groups and options, trials on vs off", height=max(260, 28 * len(items) + 100))


def split_dirhits(splits: list[dict[str, Any]], *, title: str) -> go.Figure:
    """DirHit per walk-forward split beside both baselines, with the 95 % interval of each number
    (at the effective count of overlapping labels); n in the hover."""
    names = [f"split {i}" for i in range(len(splits))]
    figures = [split_figures(s) for s in splits]
    fig = go.Figure()
    for field, label in (("model", "model"), ("persistence", "persistence"), ("majority", "majority")):
        values, plus, minus, hover = [], [], [], []
        for s, figs in zip(splits, figures):
            f = figs.get(field)
            ok = f is not None and f.defined
            values.append(f.value if ok else None)
            plus.append(f.high - f.value if ok else None)
            minus.append(f.value - f.low if ok else None)
            hover.append(f"{label}: {f.text()}; mask {s.get('mask_pct', 0.0):.1f} %" if ok else f"{label}: undefined (n={f.count if f else 0})")
        fig.add_bar(
            x=names,
            y=values,
            name=label,
            hovertext=hover,
            hoverinfo="text",
            error_y=dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1),
        )
    fig.add_hline(y=50, line_dash="dot", line_color="grey")
    fig.update_layout(yaxis_title="DirHit % (95 % CI)", barmode="group")
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


def _holdout_hover(r: pd.Series) -> str:
    """A task's holdout DirHit in the hover: count, effective count where there is one (a universe
    task's interval is a date-block bootstrap, without one), interval."""
    n_eff = r.get("holdout_n_eff")
    counts = f"n={int(r['holdout_count'])}" + (f", n_eff={float(n_eff):.0f}" if n_eff is not None and not pd.isna(n_eff) else ", pooled panel, date-block bootstrap")
    target = f"<br>target {r['target']}" if r.get("target") not in (None, "raw") and not pd.isna(r.get("target")) else ""
    return f"{r['task']}<br>holdout DirHit {float(r['holdout_dirhit']):.1f} % ({counts}, 95 % CI {float(r['ci_low']):.1f}–{float(r['ci_high']):.1f}){target}"


def holdout_dirhit_by_task(table: pd.DataFrame) -> go.Figure:
    """Holdout DirHit per task with its 95 % interval (at the effective count), and the best baseline."""
    t = table.dropna(subset=["holdout_dirhit"])
    fig = go.Figure()
    fig.add_scatter(
        x=t["task"],
        y=t["holdout_dirhit"],
        mode="markers",
        name="holdout DirHit (95 % CI)",
        hovertext=[_holdout_hover(r) for _, r in t.iterrows()],
        hoverinfo="text",
        error_y=dict(type="data", symmetric=False, array=t["ci_high"] - t["holdout_dirhit"], arrayminus=t["holdout_dirhit"] - t["ci_low"]),
    )
    fig.add_scatter(x=t["task"], y=t["best_baseline_dirhit"], mode="markers", name="best baseline", marker_symbol="x")
    _no_dirhit_markers(fig, table)
    fig.add_hline(y=50, line_dash="dot", line_color="grey")
    fig.update_layout(yaxis_title="DirHit %", xaxis_title="task", xaxis=dict(categoryorder="array", categoryarray=list(table["task"])))
    return _layout(fig, "Holdout DirHit by task (never seen by HPO)", height=420)


def _no_dirhit_markers(fig: go.Figure, table: pd.DataFrame) -> None:
    """A hollow marker on the 50 % line for every task without a holdout DirHit (no masked
    holdout row, or not evaluated), so that no task vanishes from the chart."""
    missing = table[table["holdout_dirhit"].isna()]
    if missing.empty:
        return
    why = ["no masked holdout row (n=0)" if pd.notna(r.get("holdout_count")) else f"not evaluated ({r.get('status')})" for _, r in missing.iterrows()]
    fig.add_scatter(
        x=missing["task"], y=[50.0] * len(missing), mode="markers", name="no holdout DirHit", marker=dict(symbol="circle-open", size=10, color="grey"),
        hovertext=[f"{task}: {w}" for task, w in zip(missing["task"], why)], hoverinfo="text",
    )


def edge_heatmap(table: pd.DataFrame) -> go.Figure:
    """Symbol × horizon heatmap of holdout DirHit minus the best baseline (points).

    Each cell shows the difference, its 95 % interval (``edge_low`` / ``edge_high`` when the table
    has them) and the holdout's masked rows n. ``table`` needs ``symbol``,
    ``horizon``, ``holdout_dirhit``, ``holdout_count``, ``best_baseline_dirhit``, ``usable`` and a
    ``hover`` column (text shown on hover: the DirHit with its count and interval); cells without
    a holdout DirHit stay empty and name the task's status.
    """
    symbols = sorted(table["symbol"].unique())
    horizons = sorted(int(h) for h in table["horizon"].unique())
    z = np.full((len(symbols), len(horizons)), np.nan)
    text = [["" for _ in horizons] for _ in symbols]
    hover = [["" for _ in horizons] for _ in symbols]
    for _, r in table.iterrows():
        i, j = symbols.index(r["symbol"]), horizons.index(int(r["horizon"]))
        d, b = r.get("holdout_dirhit"), r.get("best_baseline_dirhit")
        n = r.get("holdout_count")
        if d is not None and b is not None and not pd.isna(d) and not pd.isna(b):
            z[i, j] = float(d) - float(b)
            lo, hi = r.get("edge_low"), r.get("edge_high")
            ci = f"<br>[{float(lo):+.1f}, {float(hi):+.1f}]" if lo is not None and hi is not None and not pd.isna(lo) and not pd.isna(hi) else ""
            text[i][j] = f"{z[i, j]:+.1f}" + (" ✓" if r.get("usable") is True else "") + ci + f"<br>n={int(n)}"
        elif n is not None and not pd.isna(n):
            text[i][j] = f"undefined<br>n={int(n)}"
        else:
            text[i][j] = str(r.get("status") or "")
        hover[i][j] = str(r.get("hover") or "")
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{h} d" for h in horizons],
            y=symbols,
            text=text,
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="%{y} %{x}<br>%{customdata}<extra></extra>",
            colorscale="RdBu",
            zmid=0.0,
            zmin=-max(lim, 1.0),
            zmax=max(lim, 1.0),
            colorbar=dict(title="points"),
        )
    )
    fig.update_layout(xaxis_title="horizon", yaxis=dict(title="symbol", autorange="reversed", automargin=True))
    return _layout(fig, "Holdout DirHit minus the best baseline, points [95 % CI] (✓ = usable)", height=max(320, 26 * len(symbols) + 140))


def hpo_vs_holdout(table: pd.DataFrame) -> go.Figure:
    """Each task's HPO DirHit (chosen by the search) against its holdout DirHit, with the diagonal.

    Points below the diagonal lost DirHit on the holdout: the search's optimism made visible.
    ``table`` needs ``task``, ``hpo_dirhit``, ``holdout_dirhit``, ``holdout_count``, ``ci_low``, ``ci_high``.
    """
    t = table.dropna(subset=["hpo_dirhit", "holdout_dirhit"])
    fig = go.Figure()
    fig.add_scatter(
        x=t["hpo_dirhit"],
        y=t["holdout_dirhit"],
        mode="markers",
        text=t["task"],
        customdata=t["holdout_count"],
        name="task",
        error_y=dict(type="data", symmetric=False, array=t["ci_high"] - t["holdout_dirhit"], arrayminus=t["holdout_dirhit"] - t["ci_low"], thickness=1),
        hovertemplate="%{text}<br>HPO %{x:.1f} %<br>holdout %{y:.1f} % (n=%{customdata})<extra></extra>",
    )
    x = t["hpo_dirhit"].astype(float)
    lo = float(min(45.0, x.min() - 2)) if len(x) else 45.0
    hi = float(max(60.0, x.max() + 2)) if len(x) else 60.0
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="holdout = HPO", line=dict(dash="dot", color="grey"))
    fig.update_xaxes(range=[lo, hi])
    fig.add_hline(y=50, line_dash="dot", line_color="lightgrey")
    fig.update_layout(xaxis_title="HPO DirHit % (selected trial; biased upward by the search)", yaxis_title="holdout DirHit % (95 % CI)")
    return _layout(fig, "Selection optimism: HPO DirHit against holdout DirHit", height=420)


def _ic_dates(ic_by_date: list[list[float]], dates: Sequence[str] | None) -> tuple[list[Any], str]:
    """The x values of the IC bars: dates when ``dates`` (the holdout's distinct dates) match the
    sessions one to one or by offset, else the session numbers."""
    sessions = [int(s) for s, _ in ic_by_date]
    days = sorted(set(dates or []))
    if days and len(days) == len(sessions):
        return days, "date"
    if days and sessions and max(sessions) - min(sessions) + 1 == len(days):
        return [days[s - min(sessions)] for s in sessions], "date"
    return sessions, "session (index into the calendar)"


def rank_ic_by_date(metrics: dict[str, Any], *, dates: Sequence[str] | None = None, title: str, window: int | None = None) -> go.Figure:
    """A universe holdout's rank IC per date as bars, their rolling mean, and the mean rank IC
    with its 95 % interval (a band; :class:`bistlab.evaluation.panel_metrics.PanelMetrics` as a dict).

    Args:
        metrics: ``PanelMetrics.to_dict()``: ``ic_by_date`` ([session, ic] pairs), ``ic_mean``,
            ``ic_lo``, ``ic_hi``, ``horizon``.
        dates: the holdout's dates (one per row is fine), to put dates on the axis.
        title: the figure's title.
        window: sessions of the rolling mean (default ``max(10, h)``).
    """
    pairs = metrics.get("ic_by_date") or []
    x, axis = _ic_dates(pairs, dates)
    ic = pd.Series([float(v) for _, v in pairs], dtype=float)
    window = window or max(10, int(metrics.get("horizon") or 1))
    fig = go.Figure()
    fig.add_bar(x=x, y=ic, name="rank IC of the date", marker_color=["seagreen" if v >= 0 else "indianred" for v in ic], opacity=0.6)
    fig.add_scatter(x=x, y=ic.rolling(window, min_periods=max(2, window // 2)).mean(), mode="lines", name=f"rolling mean ({window} sessions)", line=dict(color="black"))
    mean, lo, hi = metrics.get("ic_mean"), metrics.get("ic_lo"), metrics.get("ic_hi")
    if mean is not None and x:
        if lo is not None and hi is not None:
            fig.add_scatter(x=[x[0], x[-1], x[-1], x[0]], y=[lo, lo, hi, hi], fill="toself", mode="lines", line=dict(width=0), fillcolor="rgba(9,105,218,0.15)", name=f"95 % CI of the mean {lo:+.3f} to {hi:+.3f}", hoverinfo="name")
        fig.add_scatter(x=[x[0], x[-1]], y=[mean, mean], mode="lines", name=f"mean rank IC {mean:+.3f} over {len(pairs)} dates", line=dict(color="#0969da", dash="dash"))
    fig.add_hline(y=0, line_color="grey")
    fig.update_layout(xaxis_title=axis, yaxis_title="Spearman rank IC across the date's symbols", bargap=0.1)
    return _layout(fig, title, height=380)


def _signed(v: float | None) -> str:
    return "?" if v is None else f"{float(v):+.3f}"


def rank_ic_by_tercile(metrics: dict[str, Any], *, title: str) -> go.Figure:
    """A universe holdout's mean rank IC per liquidity tercile with its 95 % interval (error bars)."""
    rows = sorted(metrics.get("ic_by_tercile") or [], key=lambda t: int(t["tercile"]))
    ok = [t for t in rows if t.get("ic_mean") is not None]
    names = [TERCILE_NAMES[int(t["tercile"])] if int(t["tercile"]) < len(TERCILE_NAMES) else str(t["tercile"]) for t in ok]
    means = [float(t["ic_mean"]) for t in ok]
    fig = go.Figure()
    fig.add_bar(
        x=names,
        y=means,
        name="mean rank IC (95 % CI)",
        error_y=dict(
            type="data",
            symmetric=False,
            array=[max(0.0, float(t["ic_hi"]) - m) if t.get("ic_hi") is not None else 0.0 for t, m in zip(ok, means)],
            arrayminus=[max(0.0, m - float(t["ic_lo"])) if t.get("ic_lo") is not None else 0.0 for t, m in zip(ok, means)],
        ),
        hovertext=[f"{n}: mean rank IC {m:+.3f} (95 % CI {_signed(t.get('ic_lo'))} to {_signed(t.get('ic_hi'))}; {t.get('n_dates')} dates)" for n, m, t in zip(names, means, ok)],
        hoverinfo="text",
    )
    fig.add_hline(y=0, line_color="grey")
    fig.update_layout(xaxis_title="liquidity tercile (turnover over the training window)", yaxis_title="mean rank IC")
    return _layout(fig, title, height=320)
