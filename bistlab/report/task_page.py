"""One task's page of the cycle report: ``reports/cycle_<N>/<SYMBOL>_<h>d/index.html``.

The page loads the cycle's shared ``../plotly.min.js`` (no network, no copy of plotly.js per
page) and holds: the verdict with the usable rule's numbers, LOW_SUPPORT and fallback in words,
the ladder of DirHits (HPO, WFV after training, holdout, call DirHit, both baselines), the
split-by-split tables with the support filter's decision per split, the multiple-testing figures,
the optimization history and parameter importances, the best trial's configuration, the
comparison with the previous cycle, the forecast, and the evaluation spec and wall times.
A universe task's page also holds its universe section (:mod:`bistlab.report.universe`: pooled
figures with date-block bootstrap intervals, the verdict, the rank IC by date, per symbol) and its
forecasts, one per symbol. It is built from the same layers as the main report
(:mod:`bistlab.report.data`, :mod:`bistlab.report.words`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from bistlab.report import plots
from bistlab.report.htmlfmt import dirhit_html, esc, html_table, link, num, page, pct
from bistlab.evaluation.dirhit import DirHit, split_figures
from bistlab.models.options import OPTIONS
from bistlab.report.assemble import CycleReport
from bistlab.report.data import TaskRecord
from bistlab.report.studies import flag_effects
from bistlab.report.universe import universe_task_html
from bistlab.report.words import low_support_text, method_html, rule_text, task_sentences, verdict_words
from bistlab.report.summary import PANEL_SPLIT_CAVEAT
from bistlab.search.selection import SupportFilter
from bistlab.core.state import TaskStatus
from bistlab.core.workspace import ASSET_HREF, PLOTLY_JS, Workspace
from bistlab.core.records import BestParams, Evaluation, ModelMeta

__all__ = ["task_page_html", "write_task_page", "split_rows", "SPLIT_COLUMNS"]

logger = logging.getLogger(__name__)

_OPTION_NAMES = {o.name for o in OPTIONS}

SPLIT_COLUMNS = [
    "split",
    "train dates",
    "test dates",
    "n_test",
    "mask_count",
    "mask_pct",
    "DirHit %",
    "persistence % (same rows)",
    "majority % (same rows)",
    "call DirHit %",
    "nRMSE",
    "passes the support filter",
    "counted",
]


def _support_reason(split: dict[str, Any], flt: SupportFilter) -> str:
    if split.get("dirhit") is None:
        return "no: empty mask (no DirHit)"
    reasons = []
    if split.get("mask_count", 0) < flt.min_mask_count:
        reasons.append(f"mask_count {split.get('mask_count')} < {flt.min_mask_count}")
    if split.get("mask_pct", 0.0) < flt.min_mask_pct:
        reasons.append(f"mask_pct {split.get('mask_pct', 0.0):.1f} % < {flt.min_mask_pct:g} %")
    return "no: " + ", ".join(reasons) if reasons else "yes"


def split_rows(splits: list[dict[str, Any]], spec: dict[str, Any], *, flt: SupportFilter, counted: list[int]) -> list[list[str]]:
    """HTML rows of a split-by-split table: dates, mask, DirHit with count and CI, baselines, support."""
    rows = []
    spec_splits = spec.get("splits") or []
    for i, s in enumerate(splits):
        sp = spec_splits[i] if i < len(spec_splits) else {}
        figs = split_figures(s, horizon=spec.get("horizon"))
        rows.append(
            [
                str(i),
                esc(" … ".join(sp.get("train_dates") or []) or "–"),
                esc(" … ".join(sp.get("test_dates") or []) or "–"),
                str(s.get("n_test")),
                str(s.get("mask_count")),
                pct(s.get("mask_pct")),
                dirhit_html(figs["model"]),
                dirhit_html(figs["persistence"]) if "persistence" in figs else "–",
                dirhit_html(figs["majority"]) if "majority" in figs else "–",
                dirhit_html(figs["call"]) + f"<br><small>coverage {pct(s.get('call_coverage_pct'))}</small>",
                num(s.get("nrmse")),
                esc(_support_reason(s, flt)),
                "yes" if i in counted else "no",
            ]
        )
    return rows


def _figure(fig_fn: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> str:
    try:
        return plots.figure_html(fig_fn(*args, **kwargs))
    except Exception as err:  # noqa: BLE001 - a figure must not cost the page
        logger.warning("figure %s not drawn: %s", getattr(fig_fn, "__name__", fig_fn), err)
        return f"<p>(figure not drawn: {esc(type(err).__name__)}: {esc(err)})</p>"


def _code(value: Any) -> str:
    return f"<code>{esc(json.dumps(value))}</code>"


def _config_html(best: BestParams) -> str:
    config = best.config
    enabled, params = config.get("features_enabled") or {}, config.get("feature_params") or {}
    groups = [[esc(g), "on (always)" if g not in enabled else ("on" if enabled[g] else "off"), _code(params.get(g, {})) if g in params else ""] for g in sorted(set(params) | set(enabled)) if g not in _OPTION_NAMES]
    options = [[esc(o), "on" if enabled.get(o) else "off", _code(params.get(o, {})) if enabled.get(o) else ""] for o in sorted(_OPTION_NAMES) if o in enabled]
    models = [[esc(f), _code(p)] for f, p in sorted((config.get("model_params") or {}).items())]
    parts = [
        f"<p>Model choice: <b>{esc(config.get('model_choice'))}</b>; model seed {esc(config.get('seed'))}. "
        f"Adaptive learning (off in HPO, recorded for the online evaluation): {_code(config.get('adaptive') or {})}.</p>",
        "<h3>Feature groups</h3>",
        html_table(["group", "state", "parameters"], groups),
        "<h3>Model-side options</h3>",
        html_table(["option", "state", "parameters"], options) if options else "<p>None applies to this model choice and horizon.</p>",
        "<h3>Model hyperparameters</h3>",
        html_table(["family", "hyperparameters"], models),
    ]
    if best.space_removed:
        parts.append("<h3>Left out of the search space</h3><ul>" + "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in sorted(best.space_removed.items())) + "</ul>")
    parts.append(f"<details><summary>Raw Optuna parameters of trial {esc(best.best_trial_number)}</summary><pre>{esc(json.dumps(best.best_params, indent=1))}</pre></details>")
    return "\n".join(parts)


def _flag_effects_html(study: dict[str, Any], *, key: str) -> str:
    """Per feature group / option: the complete trials with it on against those with it off."""
    rows = flag_effects(study.get("trials") or [])
    head = "<h3>What each feature group and option went with</h3>"
    if not rows:
        return head + "<p>No flag was tried both on and off among the complete trials (or this study predates the record).</p>"
    table = [[esc(r["flag"]), f"{r['n_on']} / {r['n_off']}", num(r["score_on"]), num(r["score_off"]), num(r["dirhit_on_minus_off"], "{:+.2f}")] for r in rows]
    return "\n".join(
        [
            head,
            "<p>Means over the complete trials with the flag on against those with it off: the score, and the difference "
            "of the trials' mean split DirHit (points; the hover shows both sides). The sampler chose what to try, "
            "so this is an association within the search, not a controlled effect; few trials on one side mean little.</p>",
            html_table(["flag", "trials on / off", "mean score on", "mean score off", "mean DirHit on − off (points)"], table, table_id="flag-effects"),
            _figure(plots.flag_effects, rows, key=key),
        ]
    )


def _agreement_words(rec: TaskRecord) -> str:
    h = rec.holdout
    parts = [f"{share:.0f} % of its calls in the {name} direction" for name, share in (("persistence", h.agree_persistence_pct), ("majority", h.agree_majority_pct)) if share is not None]
    return "; ".join(parts) or "not recorded"


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "–"}[value]


def _previous_html(rec: TaskRecord) -> str:
    p = rec.previous
    if not p.get("available"):
        return f"<p>{esc(p.get('reason'))}.</p>"
    rows = [
        ["holdout DirHit", dirhit_html(p["holdout_figure"]) if p.get("evaluated") else "not evaluated", dirhit_html(rec.holdout_figure()) if rec.ev else "–"],
        ["HPO DirHit (biased)", dirhit_html(p["hpo_figure"]), dirhit_html(rec.hpo_figure()) if rec.best else "–"],
        ["passes the usable rule (task alone)", _yes_no(p.get("usable")), _yes_no(rec.passes_rule)],
        ["LOW_SUPPORT", _yes_no(p.get("low_support")), "yes" if rec.low_support else "no"],
        ["model choice", esc((p.get("model_choice") or [None])[0]), esc((p.get("model_choice") or [None, None])[1])],
    ]
    changes = [[esc(k), esc(v[0]), esc(v[1])] for k, v in (p.get("changed") or {}).items()]
    changes += [[esc(k), "absent", "added"] for k in p.get("added") or []] + [[esc(k), "present", "removed"] for k in p.get("removed") or []]
    return "\n".join(
        [
            f"<p>Compared with cycle {p['cycle']} (read from its {esc(p.get('source'))}). "
            + (f"Holdout DirHit changed by <b>{p['holdout_delta']:+.1f} points</b>. " if p.get("holdout_delta") is not None else "")
            + (f"Usable flipped: <b>{esc(p['usable_flip'])}</b>. " if p.get("usable_flip") else "")
            + ("The prices changed between the cycles. " if p.get("data_changed") else "")
            + "</p>",
            html_table(["", f"cycle {p['cycle']}", f"cycle {rec.cycle}"], rows),
            f"<h3>Parameters changed ({len(changes)})</h3>",
            html_table(["parameter", "before", "after"], changes) if changes else "<p>No parameter changed.</p>",
        ]
    )


def _universe_prediction_html(rec: TaskRecord, frame: Any) -> str:
    """A universe task's forecasts, one per symbol: directions counted, the extremes, all in a table."""
    made = frame.dropna(subset=["expected_log_return"]).sort_values("expected_log_return", ascending=False)
    if made.empty:
        return f"<p>No forecast: {esc(frame['note'].iloc[0] or '')}</p>"
    counts = ", ".join(f"{n} {esc(d)}" for d, n in sorted(made["direction"].value_counts().items()))
    top = ", ".join(f"{esc(p['symbol'])} {p['expected_log_return']:+.4f}" for _, p in made.head(5).iterrows())
    bottom = ", ".join(f"{esc(p['symbol'])} {p['expected_log_return']:+.4f}" for _, p in made.tail(5).iloc[::-1].iterrows())
    rows = [[esc(p["symbol"]), esc(p["as_of"]), f"<b>{esc(p['direction'])}</b>", num(p["expected_log_return"], "{:+.5f}"), num(p["expected_return_pct"], "{:+.3f}")] for _, p in made.sort_values("symbol").iterrows()]
    skill = "<b class=\"usable\">usable</b>" if rec.usable else "<b>not usable</b>: no demonstrated skill"
    return (
        f"<p>{len(made)} forecasts, one per symbol, as of <b>{esc(made['as_of'].iloc[0])}</b>, of the {esc(rec.target)} log return over the next "
        f"{rec.horizon} trading days: {counts}. Highest: {top}. Lowest: {bottom}. Skill of this configuration on the holdout: "
        f"{dirhit_html(rec.holdout_figure(), inline=True) if rec.ev else 'not evaluated'}, {skill}.</p>"
        + f"<details><summary>All {len(made)} forecasts</summary>"
        + html_table(["symbol", "as of", "direction", f"expected {rec.target} log return", "expected %"], rows, table_id="universe-forecasts")
        + "</details>"
    )


def _prediction_html(rep: CycleReport, rec: TaskRecord) -> str:
    frame = rep.predictions
    if frame is None or rec.key not in set(frame["task"]):
        return f"<p>{esc(rep.predictions_note)}</p>"
    if rec.is_universe:
        return _universe_prediction_html(rec, frame[frame["task"] == rec.key])
    p = frame[frame["task"] == rec.key].iloc[0]
    if p["expected_log_return"] is None or p["expected_log_return"] != p["expected_log_return"]:
        return f"<p>No forecast: {esc(p['note'])}</p>"
    skill = (
        f" Skill of this configuration on the holdout: {dirhit_html(rec.holdout_figure(), inline=True)}, "
        + ("<b class=\"usable\">usable</b>." if rec.usable else "<b>not usable</b>: no demonstrated skill.")
        if rec.ev
        else " Not evaluated on the holdout: skill unknown."
    )
    return (
        f"<p>As of <b>{esc(p['as_of'])}</b> (model refit on every labelled row up to {esc(p['last_label_date'])}): expected log return "
        f"over the next {rec.horizon} trading days <b>{p['expected_log_return']:+.5f}</b> ({p['expected_return_pct']:+.3f} %), direction "
        f"<b>{esc(p['direction'])}</b> (flat within ±{p['dirhit_threshold']}).{skill}</p>"
    )


# ---------------------------------------------------------------- the page's sections


def _header(rep: CycleReport, rec: TaskRecord) -> list[str]:
    paths = rep.ws.task(rep.cycle, rec.key)
    nav = [link(Workspace.report_href(rep.cycle, from_task_page=True), f"← cycle {rep.cycle} report")]
    nav += [link(paths.notebook_html(n).name, f"{n} notebook") for n in ("hpo", "train", "evaluate") if paths.notebook_html(n).exists()]
    nav += [link(r.FILE, r.FILE) for r in (BestParams, ModelMeta, Evaluation) if (paths.report_folder / r.FILE).exists()]
    nav += [link(paths.study_copy.name, paths.study_copy.name)] if paths.study_copy.exists() else []
    body = [f"<nav>{' · '.join(nav)}</nav>", f"<h1>{esc(_title(rep, rec))}</h1>", f"<p>Status: <b>{esc(rec.status)}</b>" + (f" — {esc(rec.error)}" if rec.error else "") + "</p>"]
    if rec.status in (TaskStatus.SKIPPED, TaskStatus.FAILED):
        body.append(f'<div class="banner bad"><b>{esc(rec.status)}</b>: {esc(rec.error or "no reason recorded")}</div>')
    if rec.low_support:
        body.append(f'<div class="banner"><span class="lowsupport">{esc(low_support_text(rec))}</span></div>')
    if rec.ev:
        body.append(f'<div class="banner {"good" if rec.usable else "info"}">{verdict_words(rec)}<br><small>Rule: {esc(rule_text(rec))}.</small></div>')
    body.append("<h2>In short</h2><ul>" + "".join(f"<li>{s}</li>" for s in task_sentences(rec)) + "</ul>")
    return body


def _title(rep: CycleReport, rec: TaskRecord) -> str:
    return f"{rec.key} — cycle {rep.cycle}"


def _holdout_rows_words(rec: TaskRecord) -> str:
    ev, h = rec.ev, rec.ev.holdout
    span = esc(" … ".join(ev.holdout_dates))
    if rec.panel:
        m = rec.panel
        return f"{span}; {h.mask_count} of {h.n_test} rows (date × symbol) masked ({pct(h.mask_pct)}) on {m.get('mask_dates')} of {m.get('n_dates')} dates; date-block bootstrap interval"
    return f"{span}; {h.mask_count} of {h.n_test} rows masked ({pct(h.mask_pct)})"


def _ladder_holdout(rec: TaskRecord) -> list[list[str]]:
    ev, h = rec.ev, rec.ev.holdout
    gap = ev.wfv_parity_gap
    base = rec.baseline_figures()
    skipped = h.persistence_no_direction
    call = rec.call_figure()
    rows = [
        ["WFV DirHit after training (same splits: parity)", dirhit_html(rec.wfv_figure()) + (f"<br><small>Δ vs HPO {gap:+.4f} points</small>" if gap is not None else ""), num(ev.wfv.get("avg_nrmse")), "same splits, refit after training" + ("; pooled panel rows (interval indicative only)" if rec.is_universe else "")],
        ["holdout DirHit (online, never seen by HPO)", dirhit_html(rec.holdout_figure()), num(h.nrmse), _holdout_rows_words(rec)],
        ["holdout call DirHit (|prediction| > threshold)", dirhit_html(call) if call is not None else "–", "", f"coverage {pct(h.call_coverage_pct)} of the holdout" + ("; no interval fit for a panel was recorded" if call is None else "")],
        ["persistence baseline (same rows)", dirhit_html(base["persistence"]) if "persistence" in base else "undefined (n=0)", "", "sign of the last h-day return" + (f"; {skipped} rows without a past direction not counted" if skipped else "")],
        ["majority baseline (same rows)", dirhit_html(base["majority"]) if "majority" in base else "undefined (n=0)", "", "training window's majority direction"],
    ]
    if rec.is_universe and h.model_metrics:
        rows.append(["ensemble members on the holdout", "–", "", "not shown for a panel: no date-block interval was recorded for them"])
    for fam, m in sorted(({} if rec.is_universe else h.model_metrics or {}).items()):
        fig = DirHit.rate(m.get("dirhit") and m["dirhit"] * m["mask_count"] / 100.0, m.get("mask_count"), m.get("n_eff"))
        rows.append([f"ensemble member {fam} on the holdout", dirhit_html(fig), num(m.get("nrmse")), "its own mask"])
    rows.append(["agreement with the baselines", "–", "", _agreement_words(rec)])
    return rows


def _ladder_html(rec: TaskRecord) -> list[str]:
    hpo_nrmse = (rec.best.symbol_metrics.get(rec.key) or {}).get("avg_nrmse")
    ladder = [["HPO DirHit (selected trial; biased upward by the search)", dirhit_html(rec.hpo_figure(), css="biased"), num(hpo_nrmse), "walk-forward splits before the holdout" + ("; pooled panel rows (interval indicative only)" if rec.is_universe else "")]]
    if rec.ev:
        ladder += _ladder_holdout(rec)
    return ["<h2>DirHit, from optimistic to honest</h2>", html_table(["measure", "DirHit", "nRMSE", "rows"], ladder, table_id="ladder")]


def _splits_html(rec: TaskRecord) -> list[str]:
    best, spec = rec.best, rec.best.evaluation_spec
    flt = SupportFilter(**spec["filter"])
    body = [
        "<h2>Walk-forward splits</h2>",
        f"<p>Support filter: a split counts if its DirHit is defined, mask_count ≥ {flt.min_mask_count} and mask_pct ≥ {flt.min_mask_pct:g} %; "
        f"a trial qualifies with at least {flt.min_valid_splits} counted splits. "
        + ("This task is LOW_SUPPORT: the selected trial's splits were counted under the fallback filter (any split with a DirHit)." if rec.low_support else "The fallback was not used.")
        + "</p>",
        f"<h3>HPO: selected trial {best.best_trial_number}</h3>",
        html_table(SPLIT_COLUMNS, split_rows(rec.hpo_splits(), spec, flt=flt, counted=list(best.counted_splits)), table_id="hpo-splits"),
    ]
    if rec.ev:
        body.append("<h3>After training (parity)</h3>")
        body.append(html_table(SPLIT_COLUMNS, split_rows(rec.wfv_splits(), spec, flt=flt, counted=rec.wfv_counted()), table_id="wfv-splits"))
        body.append(_figure(plots.split_dirhits, rec.wfv_splits(), title="After training: DirHit per walk-forward split (model and baselines)"))
        p = rec.ev.holdout_predictions
        if rec.is_universe:
            body.append(f"<p><small>{esc(PANEL_SPLIT_CAVEAT[0].upper() + PANEL_SPLIT_CAVEAT[1:])}.</small></p>")
        elif p.get("dates"):
            body.append(_figure(plots.holdout_cumulative, p["dates"], p["y_true"], p["y_pred"], thr=spec["dirhit_threshold"], title="Holdout: following the model's calls"))
    return body


def _search_html(rec: TaskRecord) -> list[str]:
    st = rec.study
    if not st:
        return ["<h2>The search</h2>", "<p>The study is no longer available (removed before this report was first rendered): no optimization history or importances.</p>"]
    others = ", ".join(f"{v['count']} {k.lower()}" for k, v in (st.get("other_states") or {}).items())
    body = ["<h2>The search</h2>", f"<p>{st['n_complete']} complete trials of {st['n_trials']}" + (f" ({esc(others)})" if others else "") + f"; study <code>{esc(st['study_name'])}</code>.</p>"]
    reasons = [f"{esc(k)} ({c}×)" for v in (st.get("other_states") or {}).values() for k, c in v.get("reasons", {}).items()]
    if reasons:
        body.append("<details><summary>Why trials did not complete</summary><ul>" + "".join(f"<li>{r}</li>" for r in reasons) + "</ul></details>")
    body.append(_figure(plots.optimization_history, st["trials"], key=rec.key, selected=rec.best.best_trial_number))
    if st.get("importances"):
        body.append(_figure(plots.param_importances, dict(list(st["importances"].items())[:20]), key=rec.key, method="PED-ANOVA"))
    body.append(f"<p><small>Parameter importances: {esc(st.get('importance_note') or '')}.</small></p>")
    body.append(_flag_effects_html(st, key=rec.key))
    return body


def _honesty_html(rec: TaskRecord) -> list[str]:
    if not rec.honesty:
        return []
    hh, pbo = rec.honesty, rec.honesty.pbo
    items = [
        ["trials (complete / all)", f"{hh.n_complete} / {hh.n_trials}"],
        ["HPO DirHit (selected trial; biased upward by the search)", dirhit_html(rec.hpo_figure(), inline=True, css="biased")],
        ["holdout DirHit", dirhit_html(rec.holdout_figure(), inline=True) if rec.ev else "not evaluated"],
        ["holdout − HPO DirHit (95 % CI)", esc(rec.gap_text(unit=" points"))],
        ["best − median trial DirHit", num(hh.best_minus_median, "{:+.1f} points")],
        ["best-of-N coin-flip reference", f"{pct(hh.noise_max_dirhit)} (N={hh.n_complete}, n={hh.pooled_count})"],
        ["P(selected trial's pooled DirHit > reference)", num(hh.deflated_prob, "{:.2f}")],
        ["PBO (CSCV)", f"{pbo.pbo:.2f} over {pbo.n_combinations} combinations of {pbo.n_trials} trials × {pbo.n_splits} splits" if pbo.pbo is not None else esc(pbo.reason)],
        ["in-sample winners' mean out-of-sample rank", f"{pbo.mean_oos_rank_pct:.0f} % (100 % = best)" if pbo.mean_oos_rank_pct is not None else "–"],
    ]
    return ["<h3>Multiple testing</h3>", html_table(["figure", "value"], items, table_id="honesty"), f"<details><summary>Method and limits</summary>{method_html()}</details>"]


def _reproducibility_html(rec: TaskRecord) -> list[str]:
    best, spec, meta = rec.best, rec.best.evaluation_spec, rec.meta
    walls = rec.wall_seconds()
    repro = [
        ["data fingerprint", f"<code>{esc(best.data_fingerprint)}</code> ({spec.get('n_rows')} rows)"],
        ["trained on rows", esc(f"{meta.trained_rows[0]}–{meta.trained_rows[1] - 1} ({' … '.join(meta.trained_dates)}); {len(meta.features)} features") if meta else "–"],
        ["wall time (s)", esc(", ".join(f"{k} {v:.1f}" for k, v in walls.items() if v is not None) or "–")],
        ["timestamps (UTC)", esc(", ".join(f"{k} {v}" for k, v in rec.timestamps.items() if v) or "–")],
        ["results read from", esc(rec.source)],
    ]
    body = ["<h2>Reproducibility</h2>", html_table(["item", "value"], repro), f"<details><summary>evaluation_spec</summary><pre>{esc(json.dumps(spec, indent=1))}</pre></details>"]
    if meta:
        body.append(f"<details><summary>Features ({len(meta.features)})</summary><p><code>{esc(', '.join(meta.features))}</code></p></details>")
    return body


def task_page_html(rep: CycleReport, rec: TaskRecord) -> str:
    """The task's page as one HTML document."""
    body = _header(rep, rec)
    universe = ["<h2>The universe holdout</h2>", universe_task_html(rep, rec, figures=True)] if rec.is_universe and rec.ev else []
    if not rec.best:
        body += universe + ["<p>No HPO result: nothing more to show.</p>"]
        return page(_title(rep, rec), "\n".join(body), scripts=[ASSET_HREF.format(PLOTLY_JS)] if universe else [])
    body += _ladder_html(rec) + universe
    body += _splits_html(rec) + _search_html(rec) + _honesty_html(rec)
    body += ["<h2>Configuration of the selected trial</h2>", _config_html(rec.best)]
    body += [f"<h2>Since cycle {rep.cycle - 1}</h2>" if rep.cycle > 1 else "<h2>Previous cycle</h2>", _previous_html(rec)]
    body += ["<h2>Forecast</h2>", _prediction_html(rep, rec)]
    body += _reproducibility_html(rec)
    return page(_title(rep, rec), "\n".join(body), scripts=[ASSET_HREF.format(PLOTLY_JS)])


def write_task_page(rep: CycleReport, rec: TaskRecord) -> Path:
    """Write ``reports/cycle_<N>/<SYMBOL>_<h>d/index.html``; returns its path."""
    path = rep.ws.task(rep.cycle, rec.key).page
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(task_page_html(rep, rec), encoding="utf-8")
    return path
