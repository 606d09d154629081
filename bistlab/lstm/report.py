"""The job report ``reports/hyperopt_<job_id>.html`` and the figures the notebook shows.

One offline, self-contained file (plotly.js embedded once), in the cycle report's style
(:mod:`bistlab.report.htmlfmt`): the job's status, config, device, seeds, timings and time estimate
against the actual time; per group its trials (value, raw and penalized, state, pruned or
interrupted), best values and a chart of the epoch metric; F1 beside its two baselines; the call
DirHit with its count and interval; mode-collapse events; and the holdout evaluation of the final
configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from bistlab.core.db_urls import storage_url
from bistlab.core.job_records import JobResults, JobState, JobStatus
from bistlab.core.workspace import Workspace
from bistlab.report.htmlfmt import esc, html_table, num, page
from bistlab.lstm import files
from bistlab.lstm.barriers import CLASS_NAMES
from bistlab.lstm.groups import DEFAULT_PARAMS, GROUPS
from bistlab.lstm.metrics import LSTM_RULE, verdict_text
from bistlab.lstm.optimizer import PENALTY_FACTOR, PRECISION_FLOOR
from bistlab.evaluation.dirhit import DirHit
from bistlab.evaluation.intervals import INTERVAL_METHOD
from bistlab.core.names import group_study_name
from bistlab.report.plots import figure_html
from bistlab.search.studies import read_study

__all__ = ["trial_records", "group_history_figure", "epoch_curves_figure", "summary_tables", "render_job_report", "dirhit_text"]


def trial_records(ws: Workspace, job_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every trial of every group study of the job as a compact record, by group (in run order).

    A group whose study file or study does not exist yet (a running job is creating it) is left out.
    """
    state = files.read_state(ws, job_id)
    cfg = state.config
    out: dict[str, list[dict[str, Any]]] = {}
    for group in state.progress.groups_planned:
        path = ws.job(job_id).study(cfg["study_name"], group)
        if not path.exists():
            continue
        try:
            study = read_study(storage_url(path), group_study_name(cfg["study_name"], group))
        except KeyError:  # the file is there, the study not yet
            continue
        out[group] = [_record(t) for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]
    return out


def _record(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    a = t.user_attrs
    return {
        "number": t.number,
        "state": "INTERRUPTED" if a.get("interrupted") else t.state.name,
        "value": t.value,
        "raw_value": a.get("raw_value"),
        "penalized_value": a.get("penalized_value"),
        "mode_collapse": bool(a.get("mode_collapse")),
        "mode_collapse_reason": a.get("mode_collapse_reason"),
        "low_precision": bool(a.get("low_precision_penalty")),
        "penalty_reason": a.get("penalty_reason"),
        "warnings": a.get("mode_collapse_warnings") or [],
        "epoch_values": a.get("epoch_values") or [],
        "pruned_at_epoch": a.get("pruned_at_epoch"),
        "rerun_of": a.get("rerun_of"),
        "params": dict(t.params),
        "f1": a.get("f1_mean"),
        "majority_f1": a.get("majority_f1_mean"),
        "random_f1": a.get("random_f1_mean"),
        "precision": a.get("precision_mean"),
        "call_dirhit": a.get("call_dirhit"),
        "seconds": (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None,
    }


def _layout(fig: go.Figure, title: str, *, height: int = 340) -> go.Figure:
    fig.update_layout(title=title, height=height, template="plotly_white", margin=dict(l=50, r=20, t=50, b=40))
    return fig


def group_history_figure(records: list[dict[str, Any]], *, group: str, metric: str = "val_f1") -> go.Figure:
    """Each trial's value (penalized where mode collapse halved it) and raw value, with the running best."""
    done = [r for r in records if r["state"] == "COMPLETE"]
    best, running = float("-inf"), []
    for r in done:
        best = max(best, r["value"])
        running.append(best)
    fig = go.Figure()
    fig.add_scatter(x=[r["number"] for r in done], y=[r["value"] for r in done], mode="markers", name="value (objective)")
    fig.add_scatter(x=[r["number"] for r in done], y=[r["raw_value"] for r in done], mode="markers", marker_symbol="circle-open", name="raw value (before penalty)")
    fig.add_scatter(x=[r["number"] for r in done], y=running, mode="lines", name="best so far")
    fig.update_layout(xaxis=dict(title="trial", tickformat="d"), yaxis_title=f"mean {metric} over splits")
    return _layout(fig, f"{group}: trials ({len(done)} complete of {len(records)})")


def epoch_curves_figure(records: list[dict[str, Any]], *, group: str, metric: str = "val_f1") -> go.Figure:
    """The mean validation metric after each epoch, one line per trial (what the pruner saw)."""
    fig = go.Figure()
    for r in records:
        if r["epoch_values"]:
            dash = {"PRUNED": "dot", "INTERRUPTED": "dash"}.get(r["state"], "solid")
            fig.add_scatter(x=list(range(len(r["epoch_values"]))), y=r["epoch_values"], mode="lines+markers", line=dict(dash=dash), name=f"trial {r['number']} ({r['state'].lower()})")
    fig.update_layout(xaxis=dict(title="epoch", tickformat="d"), yaxis_title=f"mean validation {metric}")
    return _layout(fig, f"{group}: validation {metric} per epoch (dotted: pruned, dashed: interrupted)")


def dirhit_text(d: dict[str, Any] | None) -> str:
    """A call DirHit record as text with its count and 95 % interval (the one place a DirHit is printed here)."""
    if not d:
        return "–"
    return DirHit.rate(d.get("hits"), d.get("count"), d.get("n_eff")).text()


def summary_tables(job: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Tables of a job loaded with :func:`bistlab.lstm.jobs.load_job`: ``groups`` (one row per
    group: best value, trials, why it ended, best parameters), ``best_params`` (beside the
    defaults) and ``holdout`` (F1 beside both baselines, the call DirHit with count and interval)."""
    results = job["results"] if isinstance(job["results"], JobResults) else JobResults.from_dict(job["results"])
    groups = pd.DataFrame([
        {"group": g, "best value": r["best_value"], "best trial": r["best_trial_number"], "complete": r["n_complete"], "pruned": r["n_pruned"],
         "interrupted": r["n_interrupted"], "mode collapse": r["n_mode_collapse"], "ended": r["stopped_reason"],
         "improvement over the incumbent": r.get("improvement"), "incumbent's seed spread": (r.get("seed_spread") or {}).get("spread"),
         "best parameters": ", ".join(f"{k}={_fmt_text(v)}" for k, v in r["best_params"].items())}
        for g, r in results.group_results.items()
    ])
    best = pd.DataFrame([{"parameter": k, "best": v, "default": DEFAULT_PARAMS.get(k)} for k, v in results.best_params.items()])
    h = results.holdout or {}
    holdout = pd.DataFrame([
        {"figure": "macro F1", "value": h.get("val_f1")}, {"figure": "majority-class F1", "value": h.get("majority_f1")},
        {"figure": "class-frequency random F1", "value": h.get("random_f1")}, {"figure": "macro precision", "value": h.get("val_precision")},
        {"figure": "call DirHit", "value": dirhit_text(h.get("call_dirhit"))},
        {"figure": "verdict", "value": verdict_text(h) or "not recorded"},
    ]) if h else pd.DataFrame({"figure": ["holdout"], "value": ["not evaluated yet"]})
    return {"groups": groups, "best_params": best, "holdout": holdout}


def _fmt_text(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _dirhit_html(d: dict[str, Any] | None) -> str:
    return f'<span class="dirhit">{esc(dirhit_text(d))}</span>'


def _kv_table(rows: list[tuple[str, Any]]) -> str:
    return html_table(["", ""], [[esc(k), v if isinstance(v, str) and v.startswith("<") else esc(v)] for k, v in rows])


def _fmt_param(v: Any) -> str:
    return num(v, "{:.4g}") if isinstance(v, float) else esc(v)


def _header(state: JobState, results: JobResults) -> str:
    cfg = state.config
    cls = {JobStatus.COMPLETED: "good", JobStatus.FAILED: "bad", JobStatus.PAUSED: ""}.get(state.status, "info")
    banner = f'<div class="banner {cls}">status <b>{esc(state.status)}</b>' + (f" — {esc(state.error)}" if state.error else "") + "</div>"
    if results.budget_exhausted:
        banner += f'<div class="banner">{esc(results.budget_exhausted)}</div>'
    est, ref = state.time_estimate or {}, state.time_estimate_refined or {}
    rows = [
        ("mode", cfg["mode"] + (f" ({cfg['target_group']})" if cfg.get("target_group") else "")),
        ("symbols, horizon", f"{', '.join((state.data or {}).get('symbols', {}).keys()) or cfg['symbols']}, h = {cfg['horizon']} trading days"),
        ("device, torch threads", f"{state.device}, {state.torch_threads}"),
        ("seed", cfg["seed"]),
        ("parameters not searched come from", state.base_params_source),
        ("time estimate before the start", f"{num(est.get('estimated_hours'), '{:.3f}')} h for at most {est.get('total_trials')} trials ({num(est.get('seconds_per_epoch'), '{:.2f}')} s per measured epoch)"),
        ("latest refined estimate", f"{num(ref.get('estimated_total_hours'), '{:.3f}')} h in all ({ref.get('trials_measured', 0)} trials measured, {num(ref.get('mean_trial_seconds'), '{:.1f}')} s each)"),
        ("actual running time", f"{num((state.elapsed_seconds or 0) / 3600, '{:.3f}')} h ({num(state.elapsed_seconds, '{:.0f}')} s)"),
        ("started, finished", f"{state.started_at} — {state.finished_at or '…'}"),
        ("data fingerprint", state.data_fingerprint),
        ("bistlab version", state.bistlab_version),
    ]
    skipped = (state.data or {}).get("skipped") or {}
    if skipped:
        rows.append(("symbols left out", "; ".join(f"{k}: {v}" for k, v in skipped.items())))
    return f"<h1>LSTM hyperopt job {esc(state.job_id)}</h1>{banner}<h2>Job</h2>{_kv_table(rows)}"


def _best_params(results: JobResults) -> str:
    best = results.best_params
    rows = [[esc(k), _fmt_param(v), _fmt_param(DEFAULT_PARAMS.get(k)), esc(next((g for g, pg in GROUPS.items() if k in pg.params), ""))] for k, v in best.items()]
    return "<h2>Best parameters</h2>" + html_table(["parameter", "best", "default", "group"], rows)


def _scores_row(label: str, d: dict[str, Any]) -> list[str]:
    return [esc(label), num(d.get("f1")), num(d.get("majority_f1")), num(d.get("random_f1")), num(d.get("precision")), _dirhit_html(d.get("call_dirhit"))]


SCORE_COLUMNS = ["", "macro F1", "majority-class F1", "class-frequency random F1", "macro precision", "call DirHit (BUY/SELL vs realised h-day log return)"]


def _holdout(results: JobResults) -> str:
    h = results.holdout
    if not h:
        return "<h2>Holdout</h2><p>Not evaluated yet: the final configuration is fit and evaluated once, after the last group.</p>"
    d = {"f1": h["val_f1"], "majority_f1": h["majority_f1"], "random_f1": h["random_f1"], "precision": h["val_precision"], "call_dirhit": h["call_dirhit"]}
    dist = ", ".join(f"{c} {100 * p:.0f} %" for c, p in zip(CLASS_NAMES, h["pred_dist"]))
    truth = ", ".join(f"{c} {100 * p:.0f} %" for c, p in zip(CLASS_NAMES, h["true_dist"]))
    best = results.best_value
    text = (
        f"<p>The best configuration, fit on all {h['train_rows']} development rows for {h['epochs']} epochs, evaluated once on "
        f"{h['holdout_rows']} holdout rows never seen by the search. Accuracy {num(h['val_accuracy'])}, macro recall {num(h['val_recall'])}. "
        f"Predictions: {esc(dist)}; truth: {esc(truth)}.</p>"
        f'<p class="biased">The search\'s best value ({num(best)}) is biased upward by the search itself; the holdout is the honest figure.</p>'
    )
    if h.get("mode_collapse_warning"):
        w = h["mode_collapse_warning"]
        text += f'<div class="banner bad">Mode collapse on the holdout: {esc(w["class"])} for {100 * w["share"]:.0f} % of predictions.</div>'
    return "<h2>Holdout evaluation of the final configuration</h2>" + _verdict_html(h) + html_table(SCORE_COLUMNS, [_scores_row("holdout", d)]) + _f1_html(h) + _directions_html(h) + text


def _verdict_html(h: dict[str, Any]) -> str:
    """The job's verdict banner: the usable rule on the holdout DirHit of the calls, with its numbers."""
    words = verdict_text(h)
    if words is None:
        return '<div class="banner">No verdict: this job was evaluated before verdicts were kept.</div>'
    cls = "good" if h["verdict"]["usable"] else "bad"
    return f'<div class="banner {cls}" id="verdict"><b>Verdict</b>: {esc(words)}.</div><p><small>Rule: {esc(LSTM_RULE)}.</small></p>'


def _f1_html(h: dict[str, Any]) -> str:
    f1 = h.get("f1_interval") or {}
    if f1.get("low") is None:
        return ""
    return (
        f"<p>Holdout macro F1 {num(f1['value'])} (95 % CI {num(f1['low'])}–{num(f1['high'])}, {esc(f1['method'])}) beside the majority-class "
        f"F1 {num(h['majority_f1'])} and the class-frequency random F1 {num(h['random_f1'])} on the same rows.</p>"
    )


def _directions_html(h: dict[str, Any]) -> str:
    """The holdout DirHit of the calls beside both direction baselines on the same rows."""
    figs = h.get("figures") or {}
    if not figs:
        return ""
    names = (("model", "the LSTM's BUY/SELL calls (moves above the threshold)"), ("persistence", "persistence (sign of the last h-day return)"), ("majority", "majority direction of the development rows"))
    rows = [[esc(label), f'<span class="dirhit">{esc(DirHit(**figs[k]).text())}</span>'] for k, label in names if figs.get(k)]
    return "<h3>Direction on the holdout: the calls beside both baselines, same rows</h3>" + html_table(["", "DirHit"], rows)


def _trial_rows(records: list[dict[str, Any]], group: str) -> list[list[str]]:
    own = GROUPS[group].params if group in GROUPS else tuple(DEFAULT_PARAMS)
    rows = []
    for r in records:
        note = []
        if r["pruned_at_epoch"] is not None:
            note.append(f"pruned after epoch {r['pruned_at_epoch']}")
        if r["state"] == "INTERRUPTED":
            note.append("interrupted (run again on resume)")
        if r["rerun_of"] is not None:
            note.append(f"re-run of trial {r['rerun_of']}")
        if r["low_precision"]:
            note.append("low precision: value halved")
        if r["mode_collapse"]:
            note.append("mode collapse: an epoch > 90 % one class")
        params = ", ".join(f"{k}={_fmt_param(r['params'].get(k))}" for k in own if k in r["params"])
        rows.append([str(r["number"]), esc(r["state"]), num(r["value"], "{:.4f}"), num(r["raw_value"], "{:.4f}"), num(r["penalized_value"], "{:.4f}"),
                     num(r["majority_f1"]), num(r["random_f1"]), _dirhit_html(r["call_dirhit"]), params, esc("; ".join(note))])
    return rows


def _group_section(group: str, result: dict[str, Any] | None, records: list[dict[str, Any]], metric: str) -> str:
    title = f"<h3>{esc(group)}</h3>"
    if result:
        best = ", ".join(f"{k} = {_fmt_param(v)}" for k, v in result["best_params"].items()) or "none (no complete trial)"
        title += (f"<p>Ended: {esc(result['stopped_reason'])}. Best value {num(result['best_value'], '{:.4f}')} (trial {result['best_trial_number']}): {best}. "
                  f"{result['n_complete']} complete, {result['n_pruned']} pruned, {result['n_interrupted']} interrupted, {result['n_failed']} failed, "
                  f"{result['n_mode_collapse']} with mode collapse, {result.get('n_low_precision', 0)} penalized for low precision.</p>"
                  + _spread_words(result))
    else:
        title += "<p>In progress or not reached.</p>"
    cols = ["trial", "state", "value", "raw", "penalized", "majority F1", "random F1", "call DirHit", "parameters", "note"]
    charts = figure_html(group_history_figure(records, group=group, metric=metric)) + figure_html(epoch_curves_figure(records, group=group, metric=metric)) if records else ""
    return title + html_table(cols, _trial_rows(records, group)) + charts


def _spread_words(result: dict[str, Any]) -> str:
    """The group's improvement over its incumbent beside the incumbent's seed spread, and the choice."""
    spread = result.get("seed_spread") or {}
    if not result.get("selection"):
        return ""
    if spread.get("measured"):
        vals = ", ".join(f"{v:.4f}" for v in spread["values"])
        noise = f"the incumbent's values over {len(spread['values'])} seeds: {vals} (spread {spread['spread']:.4f}; convergence threshold {result.get('convergence_threshold')})"
    else:
        noise = f"seed spread not measured ({spread.get('reason')})"
    return f"<p>Improvement over the incumbent {num(result.get('improvement'), '{:+.4f}')}; {esc(noise)}. {esc(result['selection'])}.</p>"


def _collapse_section(records: dict[str, list[dict[str, Any]]]) -> str:
    rows = []
    for group, recs in records.items():
        for r in recs:
            if r["low_precision"] or r["warnings"]:
                warn = "; ".join(f"epoch {w['epoch']} split {w['split']}: {w['class']} {100 * w['share']:.0f} %" for w in r["warnings"])
                rows.append([esc(group), str(r["number"]), "yes" if r["low_precision"] else "no", esc(r["penalty_reason"] or r["mode_collapse_reason"] or ""), esc(warn)])
    intro = (f"<p>A warning when more than 90 % of an epoch's validation predictions are one class; after a trial, a mean macro precision "
             f"below {PRECISION_FLOOR} multiplies its value by {PENALTY_FACTOR} (raw and penalized values are kept).</p>")
    if not rows:
        return "<h2>Mode-collapse events</h2>" + intro + "<p>None.</p>"
    return "<h2>Mode-collapse events</h2>" + intro + html_table(["group", "trial", "penalized (low precision)", "reason", "warnings (> 90 % one class)"], rows)


def _methods() -> str:
    return (
        "<h2>Method</h2><ul>"
        "<li>Labels: triple barrier on closes (BUY if the close rises by take_profit before it falls by stop_loss within h rows, SELL "
        "in the opposite case, else the sign of the h-day log return if its size exceeds threshold, else HOLD).</li>"
        "<li>Evaluation: purged walk-forward splits (purge h rows) on the development range, early stopping with the best epoch restored; "
        "a trial's value is the mean over splits of the best epoch's metric; macro metrics over SELL, HOLD and BUY.</li>"
        "<li>Baselines on the same rows: the training majority class; class-frequency random predictions (F1 of the expected confusion matrix).</li>"
        f"<li>Call DirHit: BUY/SELL calls against the sign of the realised h-day log return; interval: {esc(INTERVAL_METHOD)}.</li>"
        "<li>F1 values of the triple_barrier group are on labels that change with its parameters; the call DirHit stays comparable.</li></ul>"
    )


def render_job_report(ws: Workspace, job_id: str) -> Path:
    """Write ``reports/hyperopt_<job_id>.html`` from the job's files and studies; returns its path."""
    state = files.read_state(ws, job_id)
    results = files.read_results(ws, job_id) or JobResults(job_id=job_id)
    records = trial_records(ws, job_id)
    metric = state.config["primary_metric"]
    groups = "".join(_group_section(g, results.group_results.get(g), records.get(g, []), metric) for g in state.progress.groups_planned)
    config = f"<h2>Configuration</h2><pre>{esc(json.dumps(state.config, indent=2))}</pre>"
    body = (
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n' + _header(state, results) + _best_params(results) + _holdout(results)
        + "<h2>Groups</h2>" + groups + _collapse_section(records) + _methods() + config
    )
    path = ws.hyperopt_report(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(f"LSTM hyperopt {job_id}", body), encoding="utf-8")
    return path
