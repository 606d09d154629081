"""A task's stages: HPO + selection, training and evaluation, each a papermill notebook.

:data:`STAGES` lists them in order, each with its parameters, a test that it is already done, and
the state it records; :func:`execute_task` runs them (stages already done are not redone: a task
whose selection is on disk goes on to training; HPO itself resumes its study, or only selects
again when it has enough trials, which also recovers a missing or corrupt ``best_params.json``).
:func:`attempt_task` runs a task with retries and says how it ended (:class:`Outcome`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bistlab.core import faults
from bistlab.runs import notebooks
from bistlab.core.clock import utcnow
from bistlab.config import CycleConfig
from bistlab.errors import BistlabError, DataError, NotebookError, StateFileError, StopRequested, TaskError, WorkspaceError
from bistlab.core.state import TaskState, TaskStatus
from bistlab.evaluation.universe import Universe, load_task
from bistlab.data.validate import constant_close
from bistlab.core.workspace import TaskPaths, Workspace
from bistlab.core.records import BestParams, Evaluation

__all__ = ["Outcome", "Stage", "STAGES", "execute_task", "attempt_task", "Update"]

logger = logging.getLogger(__name__)

Update = Callable[..., None]
"""Records state changes of one task: ``update(status=..., ...)``."""


class Outcome(str, Enum):
    """How one run of a task ended."""

    ENDED = "ended"  # completed or skipped
    FAILED = "failed"
    PAUSED = "paused"


def _hpo_done(task: TaskState, paths: TaskPaths) -> bool:
    """HPO is done when the task moved on to training with a readable selection (else it reruns,
    resuming its study or, with enough trials, only selecting again: a missing or corrupt
    ``best_params.json`` is recovered that way)."""
    return task.status == TaskStatus.TRAINING and paths.read(BestParams) is not None


def _hpo_parameters(config: CycleConfig, warm_start: dict[str, Any] | None) -> dict[str, Any]:
    return {"n_trials": config.n_trials, "seed": config.seed, "models": list(config.models) if config.models else None, "warm_start": warm_start, "pruner": config.pruner, "target": config.universe_target, "holdout_rows": config.holdout_rows}


def _hpo_recorded(paths: TaskPaths) -> dict[str, Any]:
    best = paths.read(BestParams)
    return {
        "status": TaskStatus.TRAINING,
        "hpo_completed_at": utcnow(),
        "best_params_file": str(paths.best_params),
        "hpo_dirhit": best.hpo_dirhit,
        "low_support": best.low_support,
        "note": best.study_restart_note,
    }


def _evaluation_recorded(paths: TaskPaths) -> dict[str, Any]:
    ev = paths.read(Evaluation)
    return {
        "status": TaskStatus.COMPLETED,
        "completed_at": utcnow(),
        "training_dirhit_wfv": ev.wfv_dirhit,
        "training_dirhit_online": ev.holdout.dirhit,
        "holdout_count": ev.holdout.mask_count,
        "usable": ev.verdict["usable"],
        "error": None,
    }


@dataclass(frozen=True)
class Stage:
    """One stage of a task: a notebook, its parameters, the test that it is done, what it records.

    Attributes:
        name: the stage (and its notebook's) name.
        done: ``(task, paths) -> bool``: already done, skip it.
        started: state recorded before it runs.
        recorded: ``(paths) -> state`` recorded after it ran.
        parameters: ``(config, warm_start) -> parameters`` beyond the common ones.
        pause_after: honour a stop request (and the fault point ``after_<name>``) once it ran.
    """

    name: str
    done: Callable[[TaskState, TaskPaths], bool] = field(default=lambda task, paths: False)
    started: Callable[[TaskState], dict[str, Any]] = field(default=lambda task: {})
    recorded: Callable[[TaskPaths], dict[str, Any]] = field(default=lambda paths: {})
    parameters: Callable[[CycleConfig, dict[str, Any] | None], dict[str, Any]] = field(default=lambda config, warm: {})
    pause_after: bool = False


STAGES: tuple[Stage, ...] = (
    Stage(
        "hpo",
        done=_hpo_done,
        started=lambda task: {"status": TaskStatus.HPO, "started_at": task.started_at or utcnow(), "error": None},
        recorded=_hpo_recorded,
        parameters=_hpo_parameters,
        pause_after=True,
    ),
    Stage("train", recorded=lambda paths: {"training_completed_at": utcnow()}),
    Stage("evaluate", recorded=_evaluation_recorded),
)
"""A task's stages, in order: HPO + selection, training, evaluation."""


def _common_parameters(ws: Workspace, task: TaskState, config: CycleConfig) -> dict[str, Any]:
    snapshot = ws.universe_snapshot(task.cycle)
    return {
        "universe_file": str(snapshot) if snapshot.exists() else None,
        "workspace": str(ws.root),
        "db_url": ws.db_url,
        "optuna_url": ws.optuna_url,
        "symbol": task.symbol,
        "horizon": task.horizon,
        "cycle": task.cycle,
        "n_jobs": config.n_jobs,
    }


def _run_notebook(ws: Workspace, task: TaskState, stage: Stage, parameters: dict[str, Any]) -> None:
    """Execute the stage's notebook into the task's run folder.

    Raises:
        StopRequested: the notebook paused on a stop request.
        TaskError: the notebook raised (the executed copy, with its traceback, is kept).
    """
    try:
        notebooks.execute(stage.name, ws.task(task.cycle, task.key).notebook(stage.name), parameters=parameters, cwd=ws.root)
    except NotebookError as err:
        if err.ename == "StopRequested":
            raise StopRequested(err.evalue, task=task.key) from err
        raise TaskError(str(err), symbol=task.symbol, horizon=task.horizon, stage=stage.name) from err


def _pause_if_stopped(ws: Workspace, task: TaskState, when: str) -> None:
    if ws.stop_requested():
        raise StopRequested(f"{task.key}: paused {when}", task=task.key)


def _skip_reason(ws: Workspace, task: TaskState) -> str | None:
    """Why the task's own data cannot make a task: too few rows for the horizon, rows that fail
    validation, gone from the store, or a constant close; ``None`` when it can.

    Raises:
        DataError: not about this symbol's data (the price store cannot be opened): the attempt fails.
    """
    snapshot = ws.universe_snapshot(task.cycle)  # the cycle's prices, read once per run (else the store)
    try:
        data = load_task(ws, task.symbol, task.horizon, universe=Universe.load(snapshot) if snapshot.exists() else None)
    except DataError as err:
        if err.symbol != task.symbol:
            raise
        return f"skipped: {err}"
    flat = constant_close(data.frame)
    return f"skipped: {task.key}: {flat}" if flat else None


def _skipped_for_data(ws: Workspace, task: TaskState, update: Update) -> bool:
    reason = _skip_reason(ws, task)
    if reason:
        update(status=TaskStatus.SKIPPED, error=reason, completed_at=utcnow())
    return reason is not None


def execute_task(ws: Workspace, task: TaskState, config: CycleConfig, *, update: Update, warm_start: dict[str, Any] | None = None) -> None:
    """Run a task's :data:`STAGES` in order, each a papermill notebook; stages already done are skipped.

    The notebooks read the prices from the cycle's snapshot when there is one
    (``Workspace.universe_snapshot``), else from the store.

    Args:
        ws: the workspace the notebooks run in.
        task: the task's state as last recorded.
        config: the cycle's settings.
        update: records state changes, ``update(status=..., ...)``.
        warm_start: the previous cycle's best parameters.

    Raises:
        StopRequested: a stop was requested; the task keeps its current stage for the resume.
        TaskError: a stage's notebook failed.
    """
    paths = ws.task(task.cycle, task.key)
    _pause_if_stopped(ws, task, "before it started")
    if _skipped_for_data(ws, task, update):
        return
    common = _common_parameters(ws, task, config)
    for stage in STAGES:
        if stage.done(task, paths):
            continue
        if started := stage.started(task):
            update(**started)
        _run_notebook(ws, task, stage, {**common, **stage.parameters(config, warm_start)})
        update(**stage.recorded(paths))
        if stage.pause_after:
            faults.point(f"after_{stage.name}")
            _pause_if_stopped(ws, task, f"after {stage.name}")


CAUGHT = (BistlabError, OSError, ValueError, KeyError, RuntimeError)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def attempt_task(run: Callable[[], None], *, key: str, retries: int, current: int, update: Update) -> Outcome:
    """Run a task, retrying a failure up to ``retries`` times; a stop request pauses it.

    Raises:
        WorkspaceError, StateFileError: the cycle's state cannot be written or read: the cycle stops.
    """
    count = current
    for attempt in range(retries + 1):
        try:
            run()
            return Outcome.ENDED
        except StopRequested:
            return Outcome.PAUSED
        except (WorkspaceError, StateFileError):
            raise  # the cycle's own files: no task can go on, and the state is as it was
        except CAUGHT as err:
            count += 1
            logger.warning("%s attempt %d failed: %s", key, attempt + 1, _one_line(err))
            update(status=TaskStatus.FAILED, error=_one_line(err), retry_count=count)
    return Outcome.FAILED
