"""The report's forecast sections: the latest forecast per task (a universe task's per symbol), the
forward record of the ledger's forecasts, and an as-of cycle's frozen models scored on later sessions.
Built from a :class:`~bistlab.report.assemble.CycleReport`; DirHits in percent with count and interval.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bistlab.evaluation.forward_scores import forward_groups, read_forward
from bistlab.report.htmlfmt import dirhit_html, esc, html_table, num
from bistlab.evaluation.dirhit import DirHit
from bistlab.evaluation.intervals import INTERVAL_METHOD
from bistlab.evaluation.date_bootstrap import BOOTSTRAP_METHOD
from bistlab.report.assemble import CycleReport
from bistlab.report.words import hold_html
from bistlab.core.names import UNIVERSE_SYMBOL

__all__ = ["predictions_html", "forward_html", "as_of_forward_html"]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _prediction_figure(p: pd.Series) -> DirHit:
    """The holdout DirHit of a predictions row, as :func:`bistlab.runs.predict.predict_cycle` computed it."""
    value = None if _missing(p["holdout_dirhit"]) else float(p["holdout_dirhit"])
    n_eff = None if _missing(p.get("holdout_n_eff")) else float(p["holdout_n_eff"])
    count = int(p["holdout_count"])
    if value is None or _missing(p["holdout_ci_low"]):
        return DirHit.of_percent(value, count, n_eff)
    return DirHit(value, count, n_eff if n_eff is not None else float(count), float(p["holdout_ci_low"]), float(p["holdout_ci_high"]))


def _prediction_row(p: pd.Series) -> list[str]:
    usable = p["usable"]
    usable_txt = "–" if usable is None or (isinstance(usable, float) and pd.isna(usable)) else ('<span class="usable">usable</span>' if str(usable) == "True" else "no")
    return [
        esc(p["task"]),
        esc(p["as_of"] or "–"),
        f"<b>{esc(p['direction'])}</b>",
        num(p["expected_log_return"], "{:+.5f}"),
        num(p["expected_return_pct"], "{:+.3f}"),
        dirhit_html(_prediction_figure(p), inline=False) if not _missing(p["holdout_count"]) else "–",
        usable_txt,
        '<span class="lowsupport">LOW_SUPPORT</span>' if str(p["low_support"]) == "True" else "",
        esc(p["note"] or ""),
    ]


def _universe_prediction_row(p: pd.Series, per_symbol: dict[str, Any]) -> list[str]:
    mine = per_symbol.get(str(p["symbol"])) or {}
    fig = DirHit.rate(mine.get("hits"), mine.get("count"), mine.get("n_eff")) if mine else None
    return [
        esc(p["symbol"]),
        esc(p["as_of"] or "–"),
        f"<b>{esc(p['direction'])}</b>",
        num(p["expected_log_return"], "{:+.5f}"),
        num(p["expected_return_pct"], "{:+.3f}"),
        dirhit_html(fig, inline=False) if fig is not None else "–",
        esc(p["note"] or ""),
    ]


def _universe_predictions_html(rep: CycleReport, key: str, frame: pd.DataFrame) -> str:
    """A universe task's forecasts, one per symbol: counts by direction, the strongest calls, and
    every forecast in a collapsed table."""
    rec = next((r for r in rep.records.tasks if r.key == key), None)
    horizon = int(frame["horizon"].iloc[0])
    target = str(frame["target"].dropna().iloc[0]) if frame["target"].notna().any() else (rec.target if rec else "excess")
    counts = frame["direction"].value_counts().to_dict()
    per_symbol = ((rec.ev.universe or {}).get("per_symbol") or {}) if rec and rec.ev else {}
    skill = (
        f"Skill on the holdout, pooled over every symbol: {hold_html(rec)}; " + ("<b class=\"usable\">usable</b>." if rec.usable else "<b>not usable</b>: no demonstrated skill.")
        if rec and rec.ev
        else "Not evaluated on the holdout: skill unknown."
    )
    cols = ["symbol", "as of", "direction", "expected log return", "expected return %", "universe model's holdout DirHit on this symbol's rows", "note"]
    ranked = frame.dropna(subset=["expected_log_return"]).sort_values("expected_log_return", ascending=False)
    strongest = pd.concat([ranked.head(5), ranked.tail(5)]).drop_duplicates(subset=["symbol"]) if len(ranked) > 10 else ranked
    words = "above the date's cross-sectional median (up) or below it (down)" if target == "excess" else "up or down"
    missing = sorted(set(per_symbol) - set(frame["symbol"].astype(str)))
    if missing:
        skill += f" No forecast row for {len(missing)} symbol{'s' if len(missing) != 1 else ''} of its holdout: {esc(', '.join(missing))}."
    return "\n".join(
        [
            f"<h3>{esc(key)}: one forecast per symbol ({len(frame)})</h3>",
            f"<p>Target <b>{esc(target)}</b>: each forecast says whether the symbol ends the next {horizon} sessions {words}, "
            f"flat within the threshold. {', '.join(f'{n} {esc(d)}' for d, n in sorted(counts.items()))}. {skill} "
            "A symbol's own DirHit below rests on its few masked rows: read it with its interval.</p>",
            "<p>The strongest calls (five highest and five lowest expected returns):</p>",
            html_table(cols, [_universe_prediction_row(p, per_symbol) for _, p in strongest.iterrows()], table_id=f"predictions-{key}-strongest"),
            f"<details><summary>All {len(frame)} forecasts of {esc(key)}</summary>",
            html_table(cols, [_universe_prediction_row(p, per_symbol) for _, p in frame.sort_values("symbol").iterrows()], table_id=f"predictions-{key}"),
            "</details>",
        ]
    )


def _is_universe_row(rep: CycleReport, task: Any) -> bool:
    keys = {r.key for r in rep.records.tasks if r.is_universe}
    return str(task) in keys or str(task).startswith(f"{UNIVERSE_SYMBOL}_")


def predictions_html(rep: CycleReport) -> str:
    """The latest forecast per task (the table ``bistlab predict`` writes); a universe task's
    forecasts (one per symbol) grouped under it."""
    parts = [
        '<div class="bistlab-report">',
        "<h2>Predictions</h2>",
        "<p>The latest forecast per task: the selected configuration refit on every labelled row (not the training "
        "model, which stops before the holdout), predicting the log return over the next h trading days after the last "
        "price. Direction: up / down, or flat within the DirHit threshold. Skill is the holdout's; a forecast from a model "
        "that is not usable has no demonstrated skill.</p>",
    ]
    frame = rep.predictions
    if frame is None or frame.empty:
        parts.append(f"<p>{esc(rep.predictions_note)}</p></div>")
        return "\n".join(parts)
    parts.append(f"<p>{esc(rep.predictions_note)}.</p>")
    universe = frame["task"].map(lambda t: _is_universe_row(rep, t))
    cols = ["task", "as of", "direction", "expected log return", "expected return %", "holdout DirHit %", "usable", "LOW_SUPPORT", "note"]
    parts.append(html_table(cols, [_prediction_row(p) for _, p in frame[~universe].iterrows()], table_id="predictions"))
    for key, group in frame[universe].groupby("task", sort=True):
        parts.append(_universe_predictions_html(rep, str(key), group))
    parts.append("</div>")
    return "\n".join(parts)


def forward_html(rep: CycleReport) -> str:
    """The forward record: forecasts scored against the prices that followed them."""
    view = rep.forward
    parts = [
        '<div class="bistlab-report"><h2>Forward record: the forecasts against what followed</h2>',
        "<p>Every forecast is kept in the forecast ledger when it is made and never rewritten; once its h trading days have "
        "passed it is scored against the realised log return. This is the number that says whether the verdicts hold up: "
        "a usable model's forward DirHit should stay above its baselines. Masked as the holdout (|realised| and |expected| "
        "above the threshold); baselines known at the forecast's date on the same rows; intervals at the effective count of "
        "overlapping h-day labels, tasks treated as independent when pooled.</p>",
        f"<p>{esc(view.note if view else 'The forward record was not loaded.')}</p>",
    ]
    if not view or not view.tasks:
        parts.append("</div>")
        return "\n".join(parts)
    cols = ["forecasts", "recorded", "scored", "forward DirHit %", "persistence % (same rows)", "majority % (same rows)"]
    groups = [[esc(g.label), str(g.n_forecasts), str(g.n_scored), dirhit_html(g.dirhit), dirhit_html(g.persistence), dirhit_html(g.majority)] for g in view.groups]
    tasks = [[esc(t.label), str(t.n_forecasts), str(t.n_scored), dirhit_html(t.dirhit), dirhit_html(t.persistence), dirhit_html(t.majority)] for t in view.tasks]
    parts += [html_table(cols, groups, table_id="forward-groups"), "<h3>Per task</h3>", html_table(["task"] + cols[1:], tasks, table_id="forward-tasks"), "</div>"]
    return "\n".join(parts)


def _as_of_task_row(rep: CycleReport, s: Any) -> list[str]:
    rec = next((r for r in rep.records.tasks if r.key == s.key), None)
    usable = {True: '<span class="usable">usable</span>', False: "no", None: "–"}[s.usable]
    model, pers, major = s.figure("model"), s.figure("persistence"), s.figure("majority")
    bases = [f.value for f in (pers, major) if f.defined]
    edge = model.value - max(bases) if model.defined and bases else None
    span = f"{s.sessions}<br><small>{esc(s.first_date)} … {esc(s.last_date)}</small>" if s.sessions else "0"
    target = f"<br><small>{esc(s.target)}, {s.rows} rows of every symbol pooled</small>" if s.target != "raw" else ""
    return [
        esc(s.key) + target,
        usable,
        dirhit_html(rec.holdout_figure()) if rec and rec.ev else "–",
        span,
        dirhit_html(model),
        dirhit_html(pers),
        dirhit_html(major),
        num(edge, "{:+.1f}"),
    ]


def as_of_forward_html(rep: CycleReport) -> str:
    """An as-of cycle's forward record (:mod:`bistlab.runs.forward`): each task's frozen model on every
    session after the as-of date, and the per-symbol tasks pooled into usable against not-usable
    models; empty for a cycle without an as-of date and without a forward record."""
    as_of = rep.records.config.get("as_of")
    scores = read_forward(rep.ws, rep.cycle)
    if not as_of and not scores:
        return ""
    parts = [
        '<div class="bistlab-report"><h2>Forward record of the as-of cycle: the frozen models on every later session</h2>',
        f"<p>This cycle saw the prices up to {esc(as_of or '?')} only. Each task's final model (its selected configuration refit "
        "on every row whose label was realised by then) was kept frozen and has predicted every later session whose h-day label "
        "is known now, with the full prices' features (causal). Masked as the holdout (|realised| and |predicted| above the "
        "threshold), beside persistence and the majority direction known at the as-of date on the same rows. No search, no "
        "refit, no choice saw these sessions: this is the record that says whether the cycle's verdicts hold up. Per-symbol "
        f"intervals: the {esc(INTERVAL_METHOD)}; a universe task's: {esc(BOOTSTRAP_METHOD)}.</p>",
    ]
    if not scores:
        parts.append(f"<p>No forward record yet: <code>bistlab forward --cycle {rep.cycle}</code> scores the frozen models.</p></div>")
        return "\n".join(parts)
    cols = ["models", "tasks", "sessions scored", "forward DirHit %", "persistence % (same rows)", "majority % (same rows)"]
    groups = [[esc(g.label), str(g.n_tasks), str(g.sessions), dirhit_html(g.dirhit), dirhit_html(g.persistence), dirhit_html(g.majority)] for g in forward_groups(scores) if g.n_tasks]
    if groups:
        parts += ["<p>Per-symbol tasks pooled by their usable flag at the cycle (tasks treated as independent):</p>", html_table(cols, groups, table_id="as-of-forward-groups")]
    task_cols = ["task", "usable at the cycle", "holdout DirHit % at the cycle", "sessions scored", "forward DirHit %", "persistence % (same rows)", "majority % (same rows)", "forward − best baseline (pts)"]
    parts += ["<h3>Per task</h3>", html_table(task_cols, [_as_of_task_row(rep, s) for s in scores], table_id="as-of-forward-tasks")]
    stamp = max(s.scored_at for s in scores)
    parts.append(f"<p><small>Scored {esc(stamp)} UTC against the prices then stored; <code>bistlab forward --cycle {rep.cycle}</code> scores again as sessions are added.</small></p></div>")
    return "\n".join(parts)
