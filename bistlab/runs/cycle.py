"""The cycle: every (symbol, horizon) task through its stages (HPO, training, evaluation notebooks).

A cycle runs horizon-first (all symbols at h=1, then all at the next horizon, ...). Its number
rises only when every task of the current cycle has ended; until then ``run_cycle`` resumes the
current one: ended tasks are skipped, a task whose study already has enough complete trials goes
straight to selection, one with fewer continues the same study. A new cycle warm-starts each
study with the previous cycle's best parameters and cleans up all but the last
``keep_cycles`` earlier cycles' studies and runs (reports are never deleted).

A task is a list of :class:`Stage` s (:data:`STAGES`), each a papermill notebook with its
parameters, a test that it is already done, and the state it records; :func:`execute_task` runs
them in order. Tasks run on one of the :mod:`bistlab.runs.executors` (serial, a local process pool, or a
Dask cluster); in every case the driver owns ``runs/state.json`` updates through the locked
:class:`~bistlab.core.state.StateFile` and the executed notebooks end up in the task's run folder. A
graceful stop (``bistlab cycle stop`` or Ctrl-C) lets running trials finish, then pauses.

Before anything starts, :func:`check_runnable` refuses what would fail later or half-way, each
with one clear error: a workspace that cannot be written, another cycle running in it, an
unreadable state file, symbols that break the symbol rule or are not stored, horizons beyond
every symbol's data, unknown model families, an unknown ``BISTLAB_CALENDAR``, an Optuna
storage that cannot be reached, an as-of date outside the stored prices (or another than the
unfinished cycle's own).

An **as-of cycle** (``CycleConfig.as_of``) keeps its date in the state's config (a resume keeps
it); its price snapshot is the store cut at that date (:func:`bistlab.evaluation.universe.load_universe`), so
no task sees a later row; it starts cold (the previous cycle's best parameters were chosen on later
rows); when it ends, its final models are frozen on the rows up to the date and scored on every
later session (:func:`bistlab.runs.forward.forward_cycle`) instead of forecasting today.
With ``CycleConfig.use_mlflow`` (kept by a resume), an ended cycle is recorded in MLflow after its
report: a run for the cycle, a nested run per task with its holdout figures and verdict
(:mod:`bistlab.runs.cycle_tracking`); a tracking failure is logged and never fails the cycle.
:func:`run_cycle` holds the workspace's :class:`~bistlab.core.state.CycleLock` for its whole run.
"""

from __future__ import annotations

import logging
import signal
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import optuna

from bistlab.data import sessions
from bistlab.core.clock import utcnow
from bistlab.config import CycleConfig
from bistlab.runs.cycle_tracking import track_cycle_safely
from bistlab.errors import BistlabError, ConfigError
from bistlab.runs.executors import ProgressFn, executor_for
from bistlab.runs.forward import forward_cycle
from bistlab.lstm.tracking import check_mlflow
from bistlab.models import available_models
from bistlab.evaluation.panel import UNIVERSE_SYMBOL, is_universe
from bistlab.runs.predict import update_predictions
from bistlab.report.render import render_report
from bistlab.models.space import ENSEMBLE
from bistlab.core.state import CycleLock, CycleState, StateFile, TaskState, TaskStatus
from bistlab.search.storage import make_storage
from bistlab.data.stores import StoredSymbols
from bistlab.evaluation.universe import load_universe
from bistlab.core.names import parse_study_name
from bistlab.core.workspace import Workspace
from bistlab.core.records import BestParams

__all__ = [
    "CycleResult",
    "run_cycle",
    "check_runnable",
    "plan_tasks",
    "open_cycle",
    "cleanup_cycles",
    "request_stop",
    "warm_start_params",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleResult:
    """What a run of :func:`run_cycle` left: the cycle, its tasks, the report, whether it paused."""

    cycle: int
    tasks: dict[str, TaskState]
    report: Path | None
    paused: bool = False


# ---------------------------------------------------------------- the cycle


def plan_tasks(symbols: Sequence[str], horizons: Sequence[int], *, universe: bool = False) -> list[tuple[str, int]]:
    """Tasks in horizon-first order; with ``universe``, each horizon's universe task first."""
    return [(s, int(h)) for h in horizons for s in ([UNIVERSE_SYMBOL] if universe else []) + list(symbols)]


def open_cycle(state_file: StateFile, tasks: Sequence[tuple[str, int]], *, config: dict[str, Any] | None = None) -> CycleState:
    """Resume the current cycle if it has not ended, else start the next one with ``tasks`` pending."""

    def change(state: CycleState) -> None:
        state.paused = False
        if state.cycle > 0 and not state.cycle_ended():
            return
        state.cycle += 1
        state.config = dict(config or {})
        for symbol, horizon in tasks:
            t = TaskState(symbol=symbol, horizon=horizon, cycle=state.cycle)
            state.tasks[t.key] = t
        logger.info("starting cycle %d with %d tasks", state.cycle, len(tasks))

    return state_file.update(change)


def request_stop(ws: Workspace) -> Path:
    """Ask running cycles in ``ws`` to stop gracefully: running trials finish, then they pause."""
    ws.runs.mkdir(parents=True, exist_ok=True)
    ws.stop_file.write_text(utcnow() + "\n")
    return ws.stop_file


def cleanup_cycles(ws: Workspace, current: int, *, keep: int) -> list[int]:
    """Delete the studies and runs of cycles before ``current - keep``; reports are never touched.

    Returns:
        The cycle numbers cleaned up.
    """
    removed = set()
    for number, folder in ws.cycle_folders():
        if 0 < number < current - keep:
            shutil.rmtree(folder, ignore_errors=True)
            removed.add(number)
    if ws.optuna_url and removed:
        storage = make_storage(ws.optuna_url)
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if (parse_study_name(summary.study_name) or ("", 0))[1] in removed:
                optuna.delete_study(study_name=summary.study_name, storage=storage)
    if removed:
        logger.info("cleaned up cycles %s (keeping %d before cycle %d)", sorted(removed), keep, current)
    return sorted(removed)


def warm_start_params(ws: Workspace, task: TaskState) -> dict[str, Any] | None:
    """The previous cycle's best parameters of a task (``None`` in cycle 1 or when unreadable)."""
    if task.cycle <= 1:
        return None
    previous = ws.task(task.cycle - 1, task.key)
    best = previous.read(BestParams)
    if best is None and previous.best_params.exists():
        logger.warning("%s: previous cycle's best params unreadable; starting cold", task.key)
    return best.best_params if best else None


def _order(state: CycleState, config: CycleConfig) -> list[TaskState]:
    rank = {h: i for i, h in enumerate(config.horizons)}
    return sorted(state.cycle_tasks(), key=lambda t: (rank.get(t.horizon, len(rank)), not is_universe(t.symbol), t.symbol))


def check_runnable(ws: Workspace, config: CycleConfig, *, resume: bool = False) -> list[tuple[str, int]]:
    """Check that :func:`run_cycle` can run, before anything starts (see the module docstring).

    Returns:
        The tasks a new cycle starts with (:func:`plan_tasks`): the symbols it covers (``config.symbols``
        or every stored symbol under the symbol rule) at ``config.horizons``, with the universe tasks
        when :meth:`~bistlab.data.stores.StoredSymbols.wants_universe`.

    Raises:
        WorkspaceError: the workspace cannot be written.
        CycleLockedError: another cycle runs in the workspace.
        StateFileError: the state file cannot be read.
        ConfigError, DataError: bad symbols, horizons beyond the data, unknown models, an unknown
            calendar, an unreachable Optuna storage.
        BistlabError: ``resume`` with no unfinished cycle, or an empty price store.
    """
    ws.check_writable()
    CycleLock(ws).check_free()
    current = StateFile(ws.state_file).read()
    if resume and (current.cycle == 0 or current.cycle_ended()):
        raise BistlabError("there is no unfinished cycle to resume: `bistlab cycle run` starts the next one")
    recorded = current.config.get("as_of") if current.cycle > 0 and not current.cycle_ended() else None
    if config.as_of is not None and current.cycle > 0 and not current.cycle_ended() and config.as_of != recorded:
        rule = f"the unfinished cycle {current.cycle}'s own as-of date ({recorded or 'none: every row'}), which it keeps until it ends"
        raise ConfigError("as_of", rule, config.as_of)
    stored = StoredSymbols.read(ws)  # the store's summary, read once
    symbols = stored.select(config.symbols)
    stored.check_as_of(symbols, config.as_of)
    stored.check_horizons(symbols, config.horizons)
    tasks = plan_tasks(symbols, config.horizons, universe=stored.wants_universe(config.universe))
    _check_models(config.models)
    sessions.check_setting()
    check_mlflow(config.use_mlflow)
    if ws.optuna_url:
        make_storage(ws.optuna_url)
    return tasks


def _check_models(models: tuple[str, ...] | None) -> None:
    available = available_models()
    unknown = [m for m in models or () if m != ENSEMBLE and m not in available]
    if unknown:
        rule = f"model families from {', '.join(sorted(available))} (or {ENSEMBLE!r}, their ensemble)"
        raise ConfigError("models", rule, ",".join(unknown))


class GracefulInterrupt:
    """First Ctrl-C: request a graceful stop; the second one interrupts at once."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.previous: Any = None

    def __enter__(self) -> "GracefulInterrupt":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.ws.stop_requested():
            raise KeyboardInterrupt
        request_stop(self.ws)
        logger.warning("stop requested: running trials finish, then the cycle pauses (Ctrl-C again to abort)")

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _close_cycle(ws: Workspace, state: CycleState, *, as_of: str | None, report: bool, track: bool = False, workers: int = 1) -> Path | None:
    """What follows a cycle's last task (called once every task has ended): the forecasts (an as-of
    cycle: its frozen models' forward record instead), then the report (its task pages on the cycle's
    ``workers``), then with ``track`` the MLflow runs (:func:`bistlab.runs.cycle_tracking.track_cycle_safely`,
    never failing the cycle). Returns the report's path (``None``: not rendered)."""
    if as_of:
        try:
            forward_cycle(ws, state.cycle)
        except BistlabError as err:
            logger.warning("cycle %d: no forward record: %s", state.cycle, err)
    elif report:
        update_predictions(ws, state.cycle)
    path = render_report(ws, state.cycle, workers=workers) if report else None
    if track:
        track_cycle_safely(ws, state.cycle, report=path)
    return path


def run_cycle(ws: Workspace, config: CycleConfig, *, progress: ProgressFn | None = None, report: bool = True, resume: bool = False) -> CycleResult:
    """Run (or resume) a cycle over the store's symbols and ``config.horizons``, then render its report.

    Args:
        ws: the workspace.
        config: what to run and where.
        progress: called with ("start" | "queued" | "end", task, state) around each task.
        report: render the cycle report when the cycle has ended.
        resume: only continue an unfinished cycle; never start a new one.

    Raises:
        BistlabError: anything :func:`check_runnable` refuses (another cycle running:
            :class:`~bistlab.errors.CycleLockedError`); a state file that cannot be written
            mid-cycle (:class:`~bistlab.errors.WorkspaceError`; the state is as it was before).
    """
    tasks = check_runnable(ws, config, resume=resume)
    with CycleLock(ws):
        ws.stop_file.unlink(missing_ok=True)
        state_file = StateFile(ws.state_file)
        current = state_file.read()
        started_new = current.cycle == 0 or current.cycle_ended()
        state = open_cycle(state_file, tasks, config=config.to_dict())
        as_of = state.config.get("as_of")  # the cycle's own: a resumed cycle keeps it
        pending = [t for t in _order(state, config) if t.status not in TaskStatus.ENDED]
        load_universe(ws, as_of=as_of).save(ws.universe_snapshot(state.cycle))  # the store read once for the whole run
        warm = {t.key: None if as_of else warm_start_params(ws, t) for t in pending}  # before cleanup; an as-of cycle starts cold
        if started_new and state.cycle > 1:
            cleanup_cycles(ws, state.cycle, keep=config.keep_cycles)
        with GracefulInterrupt(ws):
            paused = executor_for(ws, config).run(pending, warm=warm, progress=progress)
        state = state_file.update(lambda s: setattr(s, "paused", paused))
        track = config.use_mlflow or bool(state.config.get("use_mlflow"))  # the cycle's own setting is kept; a resume may turn it on
        path = _close_cycle(ws, state, as_of=as_of, report=report, track=track, workers=config.workers) if state.cycle_ended() else None
    return CycleResult(cycle=state.cycle, tasks={t.key: t for t in state.cycle_tasks()}, report=path, paused=paused)
