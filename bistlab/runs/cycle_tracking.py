"""Optional MLflow tracking of cycles (``CycleConfig.use_mlflow``, ``bistlab cycle run --mlflow``).

When a cycle ends (after its report is rendered), :func:`run_cycle <bistlab.runs.cycle.run_cycle>`
records it from the result files on disk, so a cycle that was stopped and resumed is logged once:

- one run per cycle in the experiment :data:`EXPERIMENT` (``"bistlab cycles"``), named
  ``cycle <N>``: the cycle's configuration as parameters; the summary figures as metrics (tasks,
  completed, failed, skipped, evaluated on their holdout, usable after the cycle-wide
  false-discovery control, passing the rule alone, passes expected by pure chance, earlier looks
  at the same holdouts, wall time and the tasks' HPO/training/evaluation seconds); tags
  ``bistlab.runs.cycle``, ``bistlab.core.workspace``, ``bistlab.data_fingerprint`` (of every task's prices
  together), ``bistlab.version`` and ``bistlab.as_of`` (an as-of cycle); the HTML report as the
  artifact ``report/cycle_<N>.html``;
- one nested run per task (tag ``mlflow.parentRunId``), named ``<SYMBOL>_<h>d``: symbol,
  horizon, model choice, selected trial, features enabled and the trial's parameters
  (``trial.<name>``) as parameters; the holdout's figures as metrics (``holdout.dirhit`` with its
  95 % interval ``holdout.dirhit_low``/``_high``, ``holdout.n``, ``holdout.n_eff``, the
  persistence and majority DirHit on the same rows, ``holdout.edge`` over the best of them with its
  interval, ``holdout.p_value`` and its Benjamini–Hochberg ``holdout.q_value``, ``holdout.nrmse``,
  ``hpo.dirhit``, ``wfv.dirhit``); the verdict as metrics ``usable`` (after the control) and
  ``passes_rule`` (the task's own rule), 0 or 1, and as tags ``bistlab.verdict`` (``usable``,
  ``not usable``, ``not evaluated``) and ``bistlab.passes_rule``. A skipped or failed task has a
  run too, with its status and error as tags.

The runs' start and end times are the cycle's and the tasks' own (from the state), so MLflow's
durations are theirs. The store follows MLflow's convention, as the LSTM jobs'
(:mod:`bistlab.lstm.tracking`): ``MLFLOW_TRACKING_URI`` when set (a server, or a shared
database), else ``sqlite:///<workspace>/runs/mlflow.db`` with artifacts under ``runs/mlruns/``.
``mlflow-skinny`` is imported only here and only when tracking is on (``pip install
'bistlab[mlflow]'``); the web UI is in the full package (``pip install mlflow``, then ``mlflow ui
--backend-store-uri sqlite:///runs/mlflow.db`` in the workspace).

Tracking a cycle again (:func:`track_cycle`) creates no second run: the runs are found by their
tags ``bistlab.runs.cycle`` and ``bistlab.core.workspace`` and reused (their figures brought up to date), or
replaced when their parameters changed (MLflow keeps a parameter's first value). A failure to track
never fails the cycle (:func:`track_cycle_safely` logs it).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bistlab.errors import BistlabError
from bistlab.evaluation.honesty import CycleControl, fdr_control
from bistlab.evaluation.looks import holdout_looks
from bistlab.evaluation.dirhit import split_figures
from bistlab.core.state import CycleTasks, TaskState, TaskStatus, tasks_of_cycle
from bistlab.report.summary import edge_of, panel_figures
from bistlab.core.workspace import Workspace
from bistlab.core.records import BestParams, Evaluation, ModelMeta

__all__ = ["EXPERIMENT", "RunRecord", "CycleRecord", "tracking_uri", "cycle_record", "track_cycle", "track_cycle_safely"]

logger = logging.getLogger(__name__)

EXPERIMENT = "bistlab cycles"
"""The MLflow experiment of every cycle's runs."""

KIND, CYCLE, WORKSPACE, TASK, PARENT = "bistlab.kind", "bistlab.runs.cycle", "bistlab.core.workspace", "bistlab.task", "mlflow.parentRunId"
_PARAM_CHARS = re.compile(r"[^\w.\- /:]")
_PARAM_LEN, _TAG_LEN, _BATCH = 500, 5000, 100


def tracking_uri(ws: Workspace) -> str:
    """The cycles' MLflow tracking URI: ``MLFLOW_TRACKING_URI`` when set, else ``runs/mlflow.db`` of ``ws``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(ws.mlflow_db).resolve()}"


@dataclass(frozen=True)
class RunRecord:
    """What one MLflow run holds.

    Attributes:
        name: the run's name.
        params: parameters (text).
        metrics: metrics (finite numbers only).
        tags: tags (text).
        status: the MLflow status it ends with (``FINISHED`` or ``FAILED``).
        start_ms, end_ms: its start and end, milliseconds since the epoch (``None``: now).
    """

    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    status: str = "FINISHED"
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class CycleRecord:
    """A cycle as MLflow records it (:func:`cycle_record`).

    Attributes:
        cycle: the cycle number.
        run: the cycle's run.
        tasks: task key -> its nested run.
        report: the HTML report to log as an artifact (``None``: none rendered).
    """

    cycle: int
    run: RunRecord
    tasks: dict[str, RunRecord]
    report: Path | None


# ---------------------------------------------------------------- what is recorded, from disk


def _ms(stamp: str | None) -> int | None:
    """An ISO timestamp of the state as milliseconds since the epoch (``None`` when absent or unreadable)."""
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1000) if stamp else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    """A parameter's or tag's text: sequences comma-joined, ``None`` left out."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def _params(values: dict[str, Any]) -> dict[str, str]:
    """MLflow parameters: keys with MLflow's characters only, values as text, ``None`` left out."""
    out = {}
    for key, value in values.items():
        text = _text(value)
        if text is not None:
            out[_PARAM_CHARS.sub("_", str(key))] = text[:_PARAM_LEN]
    return out


def _metrics(values: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics: finite numbers only (an undefined figure is left out, not logged as NaN)."""
    out = {}
    for key, value in values.items():
        if isinstance(value, (int, float)) and math.isfinite(float(value)):
            out[key] = float(value)
    return out


def _holdout_metrics(ev: Evaluation) -> dict[str, float | None]:
    """A task's holdout figures: the DirHit with its interval at the effective count, its rows,
    the baselines on the same rows, the edge over the best of them, nRMSE; a universe task's pooled
    figures (date-block bootstrap intervals)."""
    panel = dict((ev.universe or {}).get("metrics") or {}) if ev.is_universe else {}
    figures = panel_figures(panel) if panel else split_figures(ev.holdout, horizon=ev.horizon)
    model = figures["model"]
    edge = edge_of(panel or ev.holdout.to_dict(), horizon=ev.horizon)
    out: dict[str, float | None] = {
        "holdout.dirhit": model.value,
        "holdout.dirhit_low": model.low,
        "holdout.dirhit_high": model.high,
        "holdout.n": model.count,
        "holdout.n_eff": model.n_eff,
        "holdout.persistence_dirhit": panel.get("persistence_dirhit") if panel else ev.holdout.persistence_dirhit,
        "holdout.majority_dirhit": panel.get("majority_dirhit") if panel else ev.holdout.majority_dirhit,
        "holdout.nrmse": ev.holdout.nrmse,
        "wfv.dirhit": ev.wfv_dirhit,
    }
    if edge is not None:
        out.update({"holdout.edge": edge.value, "holdout.edge_low": edge.low, "holdout.edge_high": edge.high})
    return out


def _verdict(key: str, ev: Evaluation | None, control: CycleControl) -> tuple[dict[str, float | None], dict[str, str]]:
    """The verdict's metrics and tags: ``usable`` after the cycle-wide control, ``passes_rule``
    (the task's own rule), the rule's p-value and its Benjamini–Hochberg adjusted value."""
    if ev is None or key not in control.kept:
        return {}, {"bistlab.verdict": "not evaluated"}
    usable = bool(control.kept[key])
    passes = bool(ev.rule_verdict().get("passes_rule"))
    metrics = {"usable": float(usable), "passes_rule": float(passes), "holdout.p_value": control.p_values.get(key), "holdout.q_value": control.q_values.get(key)}
    tags = {"bistlab.verdict": "usable" if usable else "not usable", "bistlab.passes_rule": str(passes).lower()}
    return metrics, tags


def _task_run(ws: Workspace, cycle: int, task: TaskState, control: CycleControl, tags: dict[str, str]) -> RunRecord:
    """A task's nested run from its result files (best parameters, evaluation)."""
    paths = ws.task(cycle, task.key)
    best, ev = paths.read(BestParams), paths.read(Evaluation)
    params: dict[str, Any] = {"symbol": task.symbol, "horizon": task.horizon}
    metrics: dict[str, Any] = {"hpo.dirhit": task.hpo_dirhit}
    tags = {**tags, TASK: task.key, "bistlab.status": task.status, "bistlab.error": (task.error or "")[:_TAG_LEN] or None, "bistlab.note": task.note}
    if best is not None:
        enabled = sorted(name for name, on in best.features_enabled.items() if on)
        params.update(model_choice=best.model_choice, selected_trial=best.best_trial_number, features_enabled=",".join(enabled) or "none",
                      n_trials=best.n_trials, n_complete=best.n_complete, low_support=best.low_support)
        params.update({f"trial.{k}": v for k, v in best.best_params.items()})
        metrics.update({"hpo.dirhit": best.hpo_dirhit, "hpo.best_value": best.best_value})
        tags["bistlab.data_fingerprint"] = best.data_fingerprint
    if ev is not None:
        params["target"] = ev.target
        metrics.update(_holdout_metrics(ev))
        first, last = (list(ev.holdout_dates) + [None, None])[:2]
        tags.update({"bistlab.data_fingerprint": ev.data_fingerprint, "bistlab.holdout_first": first, "bistlab.holdout_last": last})
    verdict_metrics, verdict_tags = _verdict(task.key, ev, control)
    metrics.update(verdict_metrics)
    tags.update(verdict_tags)
    return RunRecord(
        name=task.key, params=_params(params), metrics=_metrics(metrics), tags={k: v for k, v in tags.items() if v is not None},
        status="FAILED" if task.status == TaskStatus.FAILED else "FINISHED", start_ms=_ms(task.started_at or task.completed_at), end_ms=_ms(task.completed_at),
    )


def _seconds(ws: Workspace, cycle: int, tasks: list[TaskState]) -> dict[str, float]:
    """The tasks' HPO, training and evaluation wall seconds, summed over the cycle."""
    out = {"hpo_seconds": 0.0, "train_seconds": 0.0, "eval_seconds": 0.0}
    for t in tasks:
        paths = ws.task(cycle, t.key)
        best, meta, ev = paths.read(BestParams), paths.read(ModelMeta), paths.read(Evaluation)
        out["hpo_seconds"] += (best.hpo_wall_seconds or 0.0) if best else 0.0
        out["train_seconds"] += (meta.train_wall_seconds or 0.0) if meta else 0.0
        out["eval_seconds"] += (ev.eval_wall_seconds or 0.0) if ev else 0.0
    return out


def _cycle_run(ws: Workspace, cycle: int, listed: CycleTasks, control: CycleControl, tags: dict[str, str], fingerprints: dict[str, str]) -> RunRecord:
    """The cycle's run: its configuration, summary figures and tags."""
    statuses = [t.status for t in listed.tasks]
    starts = [s for s in (_ms(t.started_at) for t in listed.tasks) if s is not None]
    ends = [s for s in (_ms(t.completed_at) for t in listed.tasks) if s is not None]
    start, end = (min(starts), max(ends)) if starts and ends else (None, None)
    metrics = {
        "tasks": len(statuses),
        "tasks_completed": statuses.count(TaskStatus.COMPLETED),
        "tasks_failed": statuses.count(TaskStatus.FAILED),
        "tasks_skipped": statuses.count(TaskStatus.SKIPPED),
        "tasks_evaluated": control.n_tested,
        "usable_after_control": control.n_kept,
        "passing_alone": control.n_pass_individual,
        "expected_by_chance": control.expected_chance_individual,
        "earlier_looks": control.n_earlier,
        "wall_seconds": (end - start) / 1000.0 if start is not None and end is not None else None,
        **_seconds(ws, cycle, listed.tasks),
    }
    digest = hashlib.sha256("\n".join(f"{k}:{v}" for k, v in sorted(fingerprints.items())).encode()).hexdigest()[:16]
    params = {**listed.config, "fdr_q": control.q}
    return RunRecord(name=f"cycle {cycle}", params=_params(params), metrics=_metrics(metrics),
                     tags={**tags, KIND: "cycle", "bistlab.data_fingerprint": digest}, start_ms=start, end_ms=end)


def cycle_record(ws: Workspace, cycle: int, *, report: Path | None = None) -> CycleRecord:
    """What MLflow records of an ended cycle, read from its result files (nothing is written).

    The usable flags are those of the report: the cycle-wide false-discovery control over the
    cycle's verdicts and every other look at the same holdouts (:func:`bistlab.evaluation.looks.holdout_looks`).

    Args:
        ws: the workspace.
        cycle: the cycle number.
        report: the HTML report to log; ``None``: ``reports/cycle_<N>.html`` when it exists.

    Raises:
        BistlabError: the cycle has no tasks, or has not ended.
        DataError: the ledger's database (the looks) cannot be opened.
    """
    listed = tasks_of_cycle(ws, cycle)
    if not listed.tasks or not listed.ended:
        raise BistlabError(f"cycle {cycle} {'has no tasks' if not listed.tasks else 'has not ended'}: only an ended cycle is tracked")
    evaluations = {t.key: ev for t in listed.tasks if (ev := ws.task(cycle, t.key).read(Evaluation)) is not None}
    verdicts = {k: ev.rule_verdict() for k, ev in evaluations.items()}
    control = fdr_control(verdicts, earlier=holdout_looks(ws, cycle, evaluations).earlier())
    tags = {CYCLE: str(cycle), WORKSPACE: str(Path(ws.root).resolve()), "bistlab.version": _version()}
    if listed.config.get("as_of"):
        tags["bistlab.as_of"] = str(listed.config["as_of"])
    tasks = {t.key: _task_run(ws, cycle, t, control, {**tags, KIND: "task"}) for t in listed.tasks}
    fingerprints = {k: r.tags["bistlab.data_fingerprint"] for k, r in tasks.items() if "bistlab.data_fingerprint" in r.tags}
    report = report if report is not None else (ws.report_file(cycle) if ws.report_file(cycle).exists() else None)
    return CycleRecord(cycle=cycle, run=_cycle_run(ws, cycle, listed, control, tags, fingerprints), tasks=tasks, report=report)


def _version() -> str:
    try:
        return metadata.version("bistlab")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------- logging into MLflow


def _experiment(client: Any, ws: Workspace) -> str:
    """The id of :data:`EXPERIMENT` (created, or restored when deleted); its artifacts under
    ``runs/mlruns/`` in a workspace store (a tracking server keeps its own)."""
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    local = not os.environ.get("MLFLOW_TRACKING_URI")
    return client.create_experiment(EXPERIMENT, artifact_location=Path(ws.mlruns).resolve().as_uri() if local else None)


def _tracked(client: Any, experiment_id: str, ws: Workspace, cycle: int) -> list[Any]:
    """Every active run of the cycle in this workspace (the cycle's and its tasks'), oldest first."""
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string=f"tags.`{CYCLE}` = '{int(cycle)}'", max_results=1000, page_token=token,
                                  order_by=["attributes.start_time ASC"])
        runs.extend(r for r in page if r.data.tags.get(WORKSPACE) == str(Path(ws.root).resolve()))
        token = page.token
        if not token:
            return runs


def _reusable(run: Any, record: RunRecord) -> bool:
    """A tracked run can take ``record`` when each parameter it holds has the same value (MLflow
    keeps a parameter's first value)."""
    return all(record.params.get(k) == v for k, v in run.data.params.items())


def _log(client: Any, experiment_id: str, record: RunRecord, found: Any | None, extra_tags: dict[str, str]) -> str:
    """Write ``record`` into ``found`` (a run to reuse) or a new run; returns the run's id."""
    from mlflow.entities import Metric, Param, RunTag

    tags = {**record.tags, **extra_tags}
    if found is None:
        run_id, have = client.create_run(experiment_id, start_time=record.start_ms, tags=tags, run_name=record.name).info.run_id, {}
    else:
        run_id, have = found.info.run_id, dict(found.data.params)
    now = int(time.time() * 1000)
    params = [Param(k, v) for k, v in record.params.items() if k not in have]
    metrics = [Metric(k, v, now, 0) for k, v in record.metrics.items()]
    run_tags = [RunTag(k, v[:_TAG_LEN]) for k, v in tags.items()]
    for i in range(0, max(len(params), len(metrics), len(run_tags)), _BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + _BATCH], params=params[i : i + _BATCH], tags=run_tags[i : i + _BATCH])
    client.set_terminated(run_id, status=record.status, end_time=record.end_ms)
    return run_id


def _write(client: Any, experiment_id: str, ws: Workspace, record: CycleRecord) -> str:
    """Log the cycle and its tasks, reusing their tracked runs; delete duplicates and runs that
    cannot be reused. Returns the cycle run's id."""
    tracked = _tracked(client, experiment_id, ws, record.cycle)
    parents = [r for r in tracked if r.data.tags.get(KIND) == "cycle"]
    parent = next((r for r in parents if _reusable(r, record.run)), None)
    parent_id = _log(client, experiment_id, record.run, parent, {})
    children: dict[str, Any] = {}
    for run in tracked:
        key = run.data.tags.get(TASK)
        if run.data.tags.get(PARENT) == parent_id and key in record.tasks and key not in children and _reusable(run, record.tasks[key]):
            children[key] = run
        elif run.info.run_id != parent_id:
            client.delete_run(run.info.run_id)
    for key, task in record.tasks.items():
        _log(client, experiment_id, task, children.get(key), {PARENT: parent_id})
    if record.report is not None and Path(record.report).exists():
        client.log_artifact(parent_id, str(record.report), artifact_path="report")
    return parent_id


def track_cycle(ws: Workspace, cycle: int, *, report: Path | None = None) -> str:
    """Record an ended cycle in MLflow (see the module docstring); tracking it again updates the
    same runs.

    Args:
        ws: the workspace.
        cycle: the cycle number.
        report: the HTML report to log; ``None``: ``reports/cycle_<N>.html`` when it exists.

    Returns:
        The id of the cycle's run.

    Raises:
        ConfigError: mlflow is not installed.
        BistlabError: the cycle has no tasks or has not ended.
        Exception: whatever the tracking store raises (unreachable server, ...).
    """
    from bistlab.lstm.tracking import check_mlflow

    check_mlflow(True)
    from mlflow.tracking import MlflowClient

    record = cycle_record(ws, cycle, report=report)
    uri = tracking_uri(ws)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        Path(ws.mlflow_db).parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri)
    run_id = _write(client, _experiment(client, ws), ws, record)
    logger.info("cycle %d tracked in MLflow: run %s (%d task runs) in %s", cycle, run_id, len(record.tasks), uri)
    return run_id


def track_cycle_safely(ws: Workspace, cycle: int, *, report: Path | None = None) -> str | None:
    """:func:`track_cycle`, logging a failure instead of raising it (tracking never fails a cycle).

    Returns:
        The id of the cycle's run, or ``None`` when tracking failed.
    """
    try:
        return track_cycle(ws, cycle, report=report)
    except Exception:  # noqa: BLE001 - a tracking store's failure must not fail the cycle
        logger.exception("cycle %d: MLflow tracking failed (the cycle and its report are unaffected)", cycle)
        return None
