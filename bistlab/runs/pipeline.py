"""The three steps of a task (HPO + selection, training, evaluation) as plain functions.

The notebooks, the CLI and the tests call these. Each step reads what the previous one wrote in
the task's run folder (:class:`~bistlab.core.workspace.TaskPaths`) and writes its own record there:
:class:`~bistlab.core.records.BestParams` (HPO), ``model.pkl`` + :class:`~bistlab.core.records.ModelMeta`
(training), :class:`~bistlab.core.records.Evaluation`.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import optuna

from bistlab.core import faults
from bistlab.config import EvalSettings
from bistlab.evaluation.dataset import TaskData
from bistlab.errors import BistlabError, StopRequested
from bistlab.evaluation.walkforward import (
    EvaluationSpec,
    check_spec,
    evaluate_holdout_online,
    evaluate_splits,
    fit_model,
    make_evaluation_spec,
    settings_from_spec,
)
from bistlab.search.hpo import finished_trials, open_task_study, run_hpo, trial_counts
from bistlab.runs.predict import forecast_task
from bistlab.search.pruning import DEFAULT_PRUNER
from bistlab.evaluation.metrics import majority_direction, split_metrics, symbol_metrics
from bistlab.evaluation.dirhit import DirHit, usable_verdict
from bistlab.search.objectives import cycle_metric_name, name_metric
from bistlab.core.repro import package_versions
from bistlab.search.selection import SupportFilter, filtered_dirhit, select_best_trial
from bistlab.models.space import SearchSpace, TrialConfig
from bistlab.evaluation.panel import PanelTask, is_universe
from bistlab.evaluation.panel_calendar import PanelSettings
from bistlab.evaluation.panel_metrics import panel_metrics
from bistlab.evaluation.universe_rule import universe_verdict
from bistlab.evaluation.universe import Universe, load_task
from bistlab.core.names import task_key
from bistlab.core.workspace import TaskPaths, Workspace
from bistlab.core.names import study_name
from bistlab.core.records import BestParams, Evaluation, ModelMeta

__all__ = ["hpo_step", "write_best_params", "train_step", "evaluate_step", "read_step_input"]

logger = logging.getLogger(__name__)


def hpo_step(
    ws: Workspace,
    symbol: str,
    horizon: int,
    *,
    cycle: int,
    n_trials: int,
    seed: int = 0,
    n_jobs: int = 1,
    warm_start: dict[str, Any] | None = None,
    settings: EvalSettings | None = None,
    models: Sequence[str] | None = None,
    show_progress_bar: bool = False,
    universe: Universe | None = None,
    pruner: str = DEFAULT_PRUNER,
    target: str | None = None,
    holdout_rows: int | None = None,
) -> BestParams:
    """Run (or resume) the task's study, select the best trial and write ``best_params.json``.

    ``models`` restricts the model families searched (default: every available one);
    ``universe`` is the prices as the cycle read them (default: read the store now); ``pruner``
    names the :mod:`bistlab.search.pruning` pruner that may stop a trial after a split. The symbol
    ``UNIVERSE`` is the universe task (:mod:`bistlab.evaluation.panel`), whose ``target`` is ``excess``
    (default) or ``raw``. ``holdout_rows`` fixes the holdout's rows (sessions for a universe
    task; default: 10 % of the rows, 40 to 120), recorded in the evaluation spec so that every
    later step keeps it.

    Raises:
        StopRequested: a stop was requested before the study had ``n_trials`` complete trials.
    """
    started = time.time()
    faults.step("hpo_step", task_key(symbol, horizon))  # BISTLAB_STEP_FAULT: the reliability tests' bug in one step
    task = _hpo_task(ws, symbol, horizon, settings=settings, universe=universe, target=target, holdout_rows=holdout_rows)
    spec = make_evaluation_spec(task)
    ws.task(cycle, task.key).folder.mkdir(parents=True, exist_ok=True)
    ws.cycle_studies_dir(cycle).mkdir(parents=True, exist_ok=True)
    study, restart_note = open_task_study(ws.study_storage(cycle, task.key), study_name(symbol, horizon, cycle), spec, seed=seed, pruner=pruner)
    name_metric(study, cycle_metric_name(horizon))  # optuna-dashboard shows it instead of "Objective 0"
    space = task.search_space(models=models)
    done = len(finished_trials(study))
    if done < n_trials:
        logger.info("%s cycle %d: %d of %d trials finished; running the rest", task.key, cycle, done, n_trials)
        run_hpo(
            task,
            spec,
            study=study,
            n_trials=n_trials,
            space=space,
            seed=seed,
            n_jobs=n_jobs,
            warm_start=warm_start,
            stop=ws.stop_requested,
            show_progress_bar=show_progress_bar,
        )
        done = len(finished_trials(study))
        if done < n_trials and ws.stop_requested():
            raise StopRequested(f"{task.key}: paused by a stop request after {done} of {n_trials} trials", task=task.key)
    return write_best_params(ws, study, task=task, spec=spec, cycle=cycle, space=space, wall_seconds=time.time() - started, restart_note=restart_note, n_requested=n_trials)


def _hpo_task(
    ws: Workspace, symbol: str, horizon: int, *, settings: EvalSettings | None, universe: Universe | None, target: str | None, holdout_rows: int | None
) -> TaskData:
    """The task HPO searches: a universe task's panel settings (``target``), a fixed holdout (``holdout_rows``)."""
    panel = PanelSettings(target=target or "excess") if is_universe(symbol) else None
    if holdout_rows is not None:
        settings = replace(settings or EvalSettings(), holdout_rows=int(holdout_rows))
    return load_task(ws, symbol, horizon, settings=settings, universe=universe, panel=panel)


def write_best_params(
    ws: Workspace,
    study: optuna.Study,
    *,
    task: TaskData,
    spec: EvaluationSpec,
    cycle: int,
    space: SearchSpace,
    wall_seconds: float | None = None,
    restart_note: str | None = None,
    n_requested: int | None = None,
) -> BestParams:
    """Select from ``study`` and write the task's ``best_params.json`` (also used to recover it).

    Only trials scored on ``spec`` are ranked; ``restart_note`` says why the study is a fresh one;
    ``n_requested`` is the trials the cycle asked for.
    """
    s = task.settings
    flt = SupportFilter(s.min_mask_count, s.min_mask_pct, s.min_valid_splits)
    sel = select_best_trial(study.trials, symbol=task.symbol, horizon=task.horizon, flt=flt, study_name=study.study_name, spec_id=spec.spec_id)
    attrs = sel.user_attrs
    sm = attrs["symbol_metrics"][task.key]
    counts = trial_counts(study.trials)
    best = BestParams(
        symbol=task.symbol,
        horizon=task.horizon,
        cycle=cycle,
        study_name=study.study_name,
        storage=ws.study_storage(cycle, task.key),
        n_trials=len(study.trials),
        n_complete=sel.n_complete,
        n_pruned=counts["pruned"],
        n_failed=counts["failed"],
        n_empty=counts["empty"],
        n_requested=n_requested,
        n_qualified=sel.n_qualified,
        best_trial_number=sel.trial_number,
        best_params=sel.params,
        best_value=sel.score,
        hpo_dirhit=sel.filtered_dirhit,
        hpo_avg_dirhit=sm["avg_dirhit"],
        counted_splits=list(sel.counted_splits),
        low_support=sel.low_support,
        filter_used=sel.filter_used,
        config=attrs["config"],
        features_enabled=attrs["features_enabled"],
        feature_params=attrs["feature_params"],
        model_choice=attrs["model_choice"],
        symbol_metrics={task.key: sm},
        space_removed=space.removed,
        evaluation_spec=spec.to_dict(),
        data_fingerprint=task.fingerprint,
        hpo_wall_seconds=wall_seconds,
        study_restart_note=restart_note,
        options_skipped=attrs.get("options_skipped") or {},
    )
    ws.task(cycle, task.key).write(best)
    low = " (LOW_SUPPORT)" if sel.low_support else ""
    logger.info("%s cycle %d: best trial %d, HPO DirHit %.2f%%%s", task.key, cycle, sel.trial_number, sel.filtered_dirhit, low)
    return best


def read_step_input(ws: Workspace, symbol: str, horizon: int, *, cycle: int, universe: Universe | None = None) -> tuple[BestParams, EvaluationSpec, TrialConfig, TaskData]:
    """What training and evaluation start from: the task's selection, its spec and configuration,
    and the task's data checked against the spec (parity).

    Raises:
        BistlabError: ``best_params.json`` is missing or unreadable (HPO has not finished).
        DataError: the prices changed since HPO.
    """
    paths = TaskPaths.of(ws, cycle, symbol, horizon)
    best = paths.read(BestParams)
    if best is None:
        raise BistlabError(f"`{paths.best_params}` must hold the task's HPO selection but got nothing readable: run the HPO step first")
    spec = EvaluationSpec.from_dict(best.evaluation_spec)
    panel = PanelSettings.from_dict(spec.panel) if spec.panel is not None else None
    task = load_task(ws, symbol, horizon, settings=settings_from_spec(spec), universe=universe, panel=panel)
    check_spec(task, spec)
    return best, spec, TrialConfig.from_dict(best.config), task


def train_step(ws: Workspace, symbol: str, horizon: int, *, cycle: int, n_jobs: int = 1, universe: Universe | None = None) -> ModelMeta:
    """Fit the selected configuration on every row before the holdout and save it with its metadata;
    then fit the final model (every labelled row) that forecasts use, so that the cycle's forecasts,
    made in the driver before the report, reuse it instead of fitting every task's in turn."""
    started = time.time()
    faults.step("train_step", task_key(symbol, horizon))  # BISTLAB_STEP_FAULT: the reliability tests' bug in one step
    best, spec, config, task = read_step_input(ws, symbol, horizon, cycle=cycle, universe=universe)
    paths = ws.task(cycle, task.key)
    X = task.features(config)
    rows = np.arange(spec.holdout["dev_end"])
    model = fit_model(task, config, X, rows, n_jobs=n_jobs)
    with open(paths.model, "wb") as fh:
        pickle.dump(model, fh)
    meta = ModelMeta(
        symbol=symbol,
        horizon=horizon,
        cycle=cycle,
        model_file=paths.model.name,
        trained_rows=[0, int(rows.size)],
        trained_dates=[task.frame.index[0].strftime("%Y-%m-%d"), task.frame.index[rows.size - 1].strftime("%Y-%m-%d")],
        config=config.to_dict(),
        best_params=best.best_params,
        features=task.feature_names(config),
        evaluation_spec=spec.to_dict(),
        data_fingerprint=task.fingerprint,
        package_versions=package_versions(),
        low_support=best.low_support,
        train_wall_seconds=time.time() - started,
    )
    paths.write(meta)
    loader = (lambda s, h, *, settings, panel=None: universe.task(s, h, settings=settings, panel=panel)) if universe is not None else None
    forecast_task(paths, best=best, n_jobs=n_jobs, loader=loader)
    return meta


def _wfv_fields(task: TaskData, config: TrialConfig, spec: EvaluationSpec, best: BestParams, *, n_jobs: int) -> dict[str, Any]:
    """WFV after training on the HPO's own splits, filtered as the selection was (parity)."""
    settings = settings_from_spec(spec)
    wfv = symbol_metrics(evaluate_splits(task, config, spec, n_jobs=n_jobs), symbol=task.symbol, horizon=task.horizon, min_valid_splits=settings.min_valid_splits)
    filtered = filtered_dirhit(wfv["split_metrics"], SupportFilter(**best.filter_used))
    counted = filtered[1] if filtered else ()
    return {
        "wfv_dirhit": filtered[0] if filtered else None,
        "wfv_counted_splits": list(counted),
        "wfv_pooled": {
            "hits": sum(wfv["split_metrics"][i]["dirhit_hits"] for i in counted),
            "count": sum(wfv["split_metrics"][i]["mask_count"] for i in counted),
        },
        "wfv_avg_dirhit": wfv["avg_dirhit"],
        "wfv_parity_gap": (filtered[0] - best.hpo_dirhit) if filtered else None,
        "wfv": wfv,
    }


def _universe_fields(task: PanelTask, preds: np.ndarray, spec: EvaluationSpec) -> dict[str, Any]:
    """A universe task's holdout: pooled figures with date-block bootstrap intervals, the universe
    verdict, and the figures of each symbol's rows (:mod:`bistlab.evaluation.panel_metrics`)."""
    start, end = spec.holdout["start"], spec.holdout["end"]
    rows = slice(start, end)
    pm = panel_metrics(
        session=task.session[rows],
        y_true=task.labels[rows],
        y_pred=preds,
        past_target=task.past_return[rows],
        train_majority=majority_direction(task.labels[: spec.holdout["dev_end"]]),
        horizon=task.horizon,
        thr=spec.dirhit_threshold,
        tercile=task.tercile[rows] if (task.tercile[rows] >= 0).any() else None,  # None: no symbol with volume
        cost_per_side=task.panel.cost_per_side,
        symbol=task.symbols[rows],
    )
    verdict = universe_verdict(pm, target=task.panel.target)
    per_symbol = _per_symbol(task, preds, rows, thr=spec.dirhit_threshold)
    return {"verdict": verdict, "target": task.panel.target, "universe": {"metrics": pm.to_dict(), "per_symbol": per_symbol, "members": len(task.members), "excluded": task.excluded}}


def _per_symbol(task: PanelTask, preds: np.ndarray, rows: slice, *, thr: float) -> dict[str, dict[str, Any]]:
    """Each symbol's masked DirHit from the universe model over the holdout (its own rows)."""
    symbols, yt = task.symbols[rows], task.labels[rows]
    out: dict[str, dict[str, Any]] = {}
    for symbol in np.unique(symbols):
        sel = symbols == symbol
        m = split_metrics(yt[sel], preds[sel], thr=thr, past_return=task.past_return[rows][sel], horizon=task.horizon, positions=task.session[rows][sel])
        dates = task.frame.index[rows][sel]
        out[str(symbol)] = {"dirhit": m.dirhit, "hits": m.dirhit_hits, "count": m.mask_count, "n_eff": m.dirhit_n_eff, "rows": int(sel.sum()), "dates": [dates[0].strftime("%Y-%m-%d"), dates[-1].strftime("%Y-%m-%d")]}
    return out


def evaluate_step(ws: Workspace, symbol: str, horizon: int, *, cycle: int, n_jobs: int = 1, universe: Universe | None = None) -> Evaluation:
    """WFV DirHit on the HPO's own splits (parity) and online DirHit on the holdout."""
    started = time.time()
    faults.step("evaluate_step", task_key(symbol, horizon))  # BISTLAB_STEP_FAULT: the reliability tests' bug in one step
    best, spec, config, task = read_step_input(ws, symbol, horizon, cycle=cycle, universe=universe)
    wfv = _wfv_fields(task, config, spec, best, n_jobs=n_jobs)
    holdout, preds = evaluate_holdout_online(task, config, spec, n_jobs=n_jobs)
    start, end = spec.holdout["start"], spec.holdout["end"]
    universe_fields = _universe_fields(task, preds, spec) if isinstance(task, PanelTask) else {}
    ev = Evaluation(
        symbol=symbol,
        horizon=horizon,
        cycle=cycle,
        low_support=best.low_support,
        hpo_dirhit=best.hpo_dirhit,
        filter_used=best.filter_used,
        holdout=holdout,
        holdout_dates=spec.holdout["dates"],
        holdout_predictions={
            "dates": [d.strftime("%Y-%m-%d") for d in task.frame.index[start:end]],
            "y_pred": preds.tolist(),
            "y_true": task.labels[start:end].tolist(),
            **({"symbols": task.symbols[start:end].tolist()} if isinstance(task, PanelTask) else {}),
        },
        verdict=universe_fields.pop("verdict", None) or usable_verdict(holdout, horizon=horizon),
        data_fingerprint=task.fingerprint,
        dirhit_threshold=spec.dirhit_threshold,
        eval_wall_seconds=time.time() - started,
        **universe_fields,
        **wfv,
    )
    ws.task(cycle, task.key).write(ev)
    logger.debug("%s cycle %d: holdout %s", task.key, cycle, DirHit.rate(holdout.dirhit_hits, holdout.mask_count, holdout.dirhit_n_eff).text())
    return ev
