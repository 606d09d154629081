"""The cycle: every (symbol, horizon) task through HPO, training and evaluation notebooks.

A cycle runs horizon-first (all symbols at h=1, then all at the next horizon, ...). Its number
rises only when every task of the current cycle has ended; until then ``run_cycle`` resumes the
current one: ended tasks are skipped, a task whose study already has enough complete trials goes
straight to selection, one with fewer continues the same study. A new cycle warm-starts each
study with the previous cycle's best parameters and cleans up all but the last
``keep_cycles`` earlier cycles' studies and runs (reports are never deleted).

Tasks run one at a time, on ``workers`` local processes, or on a Dask distributed cluster; in
every case the driver owns ``runs/state.json`` updates through the locked :class:`StateFile`
and the executed notebooks end up under ``runs/cycle_<N>/<SYMBOL>_<h>d/``. A graceful stop
(``bistlab cycle stop`` or Ctrl-C) lets running trials finish, then pauses.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bistlab import faults, notebooks
from bistlab.config import DEFAULT_HORIZONS, Workspace
from bistlab.dataset import task_key
from bistlab.errors import BistlabError, ConfigError, InsufficientDataError, StopRequested
from bistlab.jsonio import read_json
from bistlab.notebooks import NotebookError
from bistlab.pipeline import TaskPaths, load_task
from bistlab.state import CycleState, StateFile, TaskState, TaskStatus, utcnow
from bistlab.store import PriceStore

__all__ = [
    "CycleConfig",
    "CycleResult",
    "run_cycle",
    "check_runnable",
    "plan_tasks",
    "open_cycle",
    "execute_task",
    "cleanup_cycles",
    "request_stop",
]

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, TaskState, CycleState], None]
Update = Callable[..., None]


@dataclass(frozen=True)
class CycleConfig:
    """What a cycle runs.

    Attributes:
        horizons: horizons in trading days, processed in this order.
        symbols: symbols to run; ``None`` means every symbol in the price store.
        n_trials: complete HPO trials per task.
        seed: model and sampler seed.
        n_jobs: threads per model fit.
        max_retries: extra attempts for a failed task within one run.
        models: model families to search (default: every available one).
        workers: tasks run at once on this machine (processes).
        dask_address: run tasks on this Dask scheduler instead (needs ``Workspace.optuna_url``).
        keep_cycles: earlier cycles whose studies and runs are kept (reports are always kept).
    """

    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    symbols: tuple[str, ...] | None = None
    n_trials: int = 20
    seed: int = 0
    n_jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_retries: int = 1
    models: tuple[str, ...] | None = None
    workers: int = 1
    dask_address: str | None = None
    keep_cycles: int = 1

    def __post_init__(self) -> None:
        if not self.horizons or any(int(h) < 1 for h in self.horizons):
            raise ConfigError("horizons", "one or more positive whole numbers of trading days", self.horizons)
        if self.n_trials < 1:
            raise ConfigError("n_trials", "at least 1", self.n_trials)
        if self.workers < 1:
            raise ConfigError("workers", "at least 1", self.workers)
        if self.keep_cycles < 0:
            raise ConfigError("keep_cycles", "0 or more", self.keep_cycles)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CycleResult:
    """What a run of :func:`run_cycle` left: the cycle, its tasks, the report, whether it paused."""

    cycle: int
    tasks: dict[str, TaskState]
    report: Path | None
    paused: bool = False


def plan_tasks(symbols: Sequence[str], horizons: Sequence[int]) -> list[tuple[str, int]]:
    """Tasks in horizon-first order."""
    return [(s, int(h)) for h in horizons for s in symbols]


def open_cycle(state_file: StateFile, tasks: Sequence[tuple[str, int]], *, config: dict[str, Any] | None = None) -> CycleState:
    """Resume the current cycle if it has not ended, else start the next one with ``tasks`` pending."""

    def change(state: CycleState) -> None:
        state.paused = False
        if state.cycle > 0 and not state.cycle_ended():
            return
        state.cycle += 1
        state.config = dict(config or {})
        for symbol, horizon in tasks:
            state.tasks[task_key(symbol, horizon)] = TaskState(symbol=symbol, horizon=horizon, cycle=state.cycle)
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
    removed = []
    for folder in sorted(ws.runs.glob("cycle_*")) + sorted(ws.studies.glob("cycle_*")):
        try:
            number = int(folder.name.split("_", 1)[1])
        except ValueError:
            continue
        if 0 < number < current - keep:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(number)
    if ws.optuna_url and removed:
        import optuna

        from bistlab.storage import make_storage

        storage = make_storage(ws.optuna_url)
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if any(summary.study_name.endswith(f"_c{n}") for n in set(removed)):
                optuna.delete_study(study_name=summary.study_name, storage=storage)
    if removed:
        logger.info("cleaned up cycles %s (keeping %d before cycle %d)", sorted(set(removed)), keep, current)
    return sorted(set(removed))


def _warm_start(ws: Workspace, cycle: int, symbol: str, horizon: int) -> dict[str, Any] | None:
    previous = TaskPaths.of(ws, cycle - 1, symbol, horizon).best_params
    if cycle <= 1 or not previous.exists():
        return None
    try:
        return read_json(previous)["best_params"]
    except (OSError, ValueError, KeyError) as err:
        logger.warning("%s: previous cycle's best params unreadable (%s); starting cold", task_key(symbol, horizon), err)
        return None


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def _valid_best_params(path: Path) -> bool:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"config", "evaluation_spec", "best_params"} <= set(data)


def _notebook(ws: Workspace, name: str, paths: TaskPaths, parameters: dict[str, Any]) -> None:
    try:
        notebooks.execute(name, paths.folder / f"{name}.ipynb", parameters=parameters, cwd=ws.root)
    except NotebookError as err:
        if err.ename == "StopRequested":
            raise StopRequested(err.evalue) from err
        raise


def execute_task(ws: Workspace, task: TaskState, config: CycleConfig, *, update: Update, warm_start: dict[str, Any] | None = None) -> None:
    """HPO → selection → training → evaluation of one task, each a papermill notebook.

    Stages already done are not redone: a task whose best-params file is valid after HPO goes
    to training; HPO itself resumes its study (or only re-selects when it has enough trials,
    which also recovers a missing or corrupt best-params file).

    Args:
        ws: the workspace the notebooks run in.
        task: the task's state as last recorded.
        config: the cycle's settings.
        update: records state changes, ``update(status=..., ...)``.
        warm_start: the previous cycle's best parameters.

    Raises:
        StopRequested: a stop was requested; the task keeps its current stage for the resume.
    """
    paths = TaskPaths.of(ws, task.cycle, task.symbol, task.horizon)
    if ws.stop_requested():
        raise StopRequested(f"{task.key}: paused before it started", task=task.key)
    try:
        load_task(ws, task.symbol, task.horizon)
    except InsufficientDataError as err:
        update(status=TaskStatus.SKIPPED, error=f"skipped: {err}", completed_at=utcnow())
        return
    common = {
        "workspace": str(ws.root),
        "db_url": ws.db_url,
        "optuna_url": ws.optuna_url,
        "symbol": task.symbol,
        "horizon": task.horizon,
        "cycle": task.cycle,
        "n_jobs": config.n_jobs,
    }
    if not (task.status == TaskStatus.TRAINING and _valid_best_params(paths.best_params)):
        update(status=TaskStatus.HPO, started_at=task.started_at or utcnow(), error=None)
        _notebook(
            ws,
            "hpo",
            paths,
            {
                **common,
                "n_trials": config.n_trials,
                "seed": config.seed,
                "models": list(config.models) if config.models else None,
                "warm_start": warm_start,
            },
        )
        best = read_json(paths.best_params)
        update(
            status=TaskStatus.TRAINING,
            hpo_completed_at=utcnow(),
            best_params_file=str(paths.best_params),
            hpo_dirhit=best["hpo_dirhit"],
            low_support=best["low_support"],
            note=best.get("study_restart_note"),
        )
    faults.point("after_hpo")
    if ws.stop_requested():
        raise StopRequested(f"{task.key}: paused after HPO", task=task.key)
    _notebook(ws, "train", paths, common)
    update(training_completed_at=utcnow())
    _notebook(ws, "evaluate", paths, common)
    ev = read_json(paths.evaluation)
    update(
        status=TaskStatus.COMPLETED,
        completed_at=utcnow(),
        training_dirhit_wfv=ev["wfv_dirhit"],
        training_dirhit_online=ev["holdout"]["dirhit"],
        holdout_count=ev["holdout"]["mask_count"],
        usable=ev["verdict"]["usable"],
        error=None,
    )


CAUGHT = (BistlabError, OSError, ValueError, KeyError, RuntimeError)


def _attempts(run: Callable[[], None], *, key: str, retries: int, current: int, update: Update) -> str:
    """Run a task with retries; returns "paused", "ended" (completed/skipped) or "failed"."""
    count = current
    for attempt in range(retries + 1):
        try:
            run()
            return "ended"
        except StopRequested:
            return "paused"
        except CAUGHT as err:
            count += 1
            logger.warning("%s attempt %d failed: %s", key, attempt + 1, _one_line(err))
            update(status=TaskStatus.FAILED, error=_one_line(err), retry_count=count)
    return "failed"


def _local_entry(ws: Workspace, key: str, config: CycleConfig, warm_start: dict[str, Any] | None) -> tuple[str, str]:
    """One task in this process (serial mode or a pool worker): state written directly."""
    state_file = StateFile(ws.state_file)

    def update(**values: Any) -> None:
        state_file.update_task(key, **values)

    def run() -> None:
        execute_task(ws, state_file.read().tasks[key], config, update=update, warm_start=warm_start)

    return key, _attempts(run, key=key, retries=config.max_retries, current=state_file.read().tasks[key].retry_count, update=update)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _dask_entry(payload: dict[str, Any]) -> dict[str, Any]:
    """One task on a Dask worker: runs in a temporary workspace; returns state updates and files."""
    import threading

    from distributed import Event

    ws_remote = Workspace(
        root=Path(tempfile.mkdtemp(prefix="bistlab-task-")),
        db_url=payload["db_url"],
        optuna_url=payload["optuna_url"],
        price_table=payload["price_table"],
        price_columns=payload["price_columns"],
    ).ensure()
    if payload["price_table"] != "prices" or payload["price_columns"]:  # the notebook kernels read these
        os.environ["BISTLAB_PRICE_TABLE"] = payload["price_table"]
        columns = payload["price_columns"] or {}
        os.environ["BISTLAB_PRICE_COLUMNS"] = ",".join(f"{k}={v or ''}" for k, v in columns.items())
    task = TaskState.from_dict(payload["task"])
    config = CycleConfig(**{**payload["config"], "horizons": tuple(payload["config"]["horizons"])})
    updates: list[dict[str, Any]] = []
    stop_event = Event(payload["stop_event"])
    done = threading.Event()

    def watch_stop() -> None:
        while not done.is_set():
            if stop_event.wait(timeout=1):
                ws_remote.stop_file.touch()
                return

    threading.Thread(target=watch_stop, daemon=True).start()

    def update(**values: Any) -> None:
        updates.append(values)
        for name, value in values.items():
            setattr(task, name, value)

    try:
        outcome = _attempts(
            lambda: execute_task(ws_remote, task, config, update=update, warm_start=payload["warm_start"]),
            key=task.key,
            retries=config.max_retries,
            current=task.retry_count,
            update=update,
        )
    finally:
        done.set()
    folder = ws_remote.task_dir(task.cycle, task.key)
    files = {p.name: p.read_bytes() for p in folder.glob("*") if p.is_file()} if folder.exists() else {}
    shutil.rmtree(ws_remote.root, ignore_errors=True)
    return {"key": task.key, "outcome": outcome, "updates": updates, "files": files}


def _order(state: CycleState, config: CycleConfig) -> list[TaskState]:
    rank = {h: i for i, h in enumerate(config.horizons)}
    return sorted(state.cycle_tasks(), key=lambda t: (rank.get(t.horizon, len(rank)), t.symbol))


def check_runnable(ws: Workspace, config: CycleConfig, *, resume: bool = False) -> list[str]:
    """Check that :func:`run_cycle` has something to run, before anything starts.

    Returns:
        The symbols the cycle covers (``config.symbols`` or every stored symbol).

    Raises:
        BistlabError: ``resume`` with no unfinished cycle, or an empty price store.
    """
    ws.ensure()
    current = StateFile(ws.state_file).read()
    if resume and (current.cycle == 0 or current.cycle_ended()):
        raise BistlabError("there is no unfinished cycle to resume: `bistlab cycle run` starts the next one")
    symbols = list(config.symbols) if config.symbols else PriceStore.from_workspace(ws).symbols()
    if not symbols:
        raise BistlabError(f"the price store {ws.price_url} has no symbols: run `bistlab data demo` or `bistlab data import PATH`")
    return symbols


def run_cycle(ws: Workspace, config: CycleConfig, *, progress: ProgressFn | None = None, report: bool = True, resume: bool = False) -> CycleResult:
    """Run (or resume) a cycle over the store's symbols and ``config.horizons``, then render its report.

    Args:
        ws: the workspace.
        config: what to run and where.
        progress: called with ("start" | "end", task, state) around each task.
        report: render ``reports/cycle_<N>.html`` when the cycle has ended.
        resume: only continue an unfinished cycle; never start a new one.

    Raises:
        BistlabError: nothing to run (empty store, or ``resume`` with no unfinished cycle).
    """
    symbols = check_runnable(ws, config, resume=resume)
    ws.stop_file.unlink(missing_ok=True)
    state_file = StateFile(ws.state_file)
    current = state_file.read()
    started_new = current.cycle == 0 or current.cycle_ended()
    state = open_cycle(state_file, plan_tasks(symbols, config.horizons), config=config.to_dict())
    pending = [t for t in _order(state, config) if t.status not in TaskStatus.ENDED]
    warm = {t.key: _warm_start(ws, t.cycle, t.symbol, t.horizon) for t in pending}  # before cleanup
    if started_new and state.cycle > 1:
        cleanup_cycles(ws, state.cycle, keep=config.keep_cycles)
    if config.dask_address:
        paused = _run_dask(ws, state_file, pending, config, warm, progress)
    elif config.workers > 1:
        paused = _run_pool(ws, state_file, pending, config, warm, progress)
    else:
        paused = _run_serial(ws, state_file, pending, config, warm, progress)
    state = state_file.update(lambda s: setattr(s, "paused", paused))
    path = None
    if report and state.cycle_ended():
        from bistlab.report import render_report

        path = render_report(ws, state.cycle)
    return CycleResult(cycle=state.cycle, tasks={t.key: t for t in state.cycle_tasks()}, report=path, paused=paused)


class _GracefulInterrupt:
    """First Ctrl-C: request a graceful stop; the second one interrupts at once."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.previous: Any = None

    def __enter__(self) -> "_GracefulInterrupt":
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.ws.stop_requested():
            raise KeyboardInterrupt
        request_stop(self.ws)
        logger.warning("stop requested: running trials finish, then the cycle pauses (Ctrl-C again to abort)")

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _notify(progress: ProgressFn | None, event: str, state_file: StateFile, key: str) -> None:
    if progress:
        state = state_file.read()
        progress(event, state.tasks[key], state)


def _run_serial(ws, state_file, pending, config, warm, progress) -> bool:
    with _GracefulInterrupt(ws):
        for task in pending:
            _notify(progress, "start", state_file, task.key)
            _, outcome = _local_entry(ws, task.key, config, warm[task.key])
            _notify(progress, "end", state_file, task.key)
            if outcome == "paused":
                return True
    return ws.stop_requested()


def _run_pool(ws, state_file, pending, config, warm, progress) -> bool:
    import multiprocessing as mp

    paused = False
    with _GracefulInterrupt(ws), ProcessPoolExecutor(max_workers=config.workers, mp_context=mp.get_context("spawn"), initializer=_ignore_sigint) as pool:
        futures = {}
        for task in pending:
            futures[pool.submit(_local_entry, ws, task.key, config, warm[task.key])] = task.key
            _notify(progress, "queued", state_file, task.key)
        for future in as_completed(futures):
            key, outcome = future.result()
            paused = paused or outcome == "paused"
            _notify(progress, "end", state_file, key)
    return paused or ws.stop_requested()


def _run_dask(ws, state_file, pending, config, warm, progress) -> bool:
    from distributed import Client, Event
    from distributed import as_completed as dask_completed

    if not ws.optuna_url:
        raise ConfigError("optuna_url", "an Optuna storage every Dask worker reaches (e.g. postgresql://...) with --dask", None)
    stop_name = f"bistlab-stop-{ws.root.name}-{os.getpid()}"
    paused = False
    with Client(config.dask_address) as client, _GracefulInterrupt(ws):
        stop_event = Event(stop_name, client=client)
        stop_event.clear()
        futures = []
        for task in pending:
            payload = {
                "task": asdict(task),
                "config": config.to_dict(),
                "db_url": ws.price_url,
                "optuna_url": ws.optuna_url,
                "price_table": ws.price_table,
                "price_columns": ws.price_columns,
                "warm_start": warm[task.key],
                "stop_event": stop_name,
            }
            state_file.update_task(task.key, status=TaskStatus.HPO if task.status == TaskStatus.PENDING else task.status)
            futures.append(client.submit(_dask_entry, payload, key=f"bistlab-{task.key}-c{task.cycle}-{os.urandom(4).hex()}", pure=False))
            _notify(progress, "queued", state_file, task.key)
        ac = dask_completed(futures)
        for future in ac:
            if ws.stop_requested() and not stop_event.is_set():
                stop_event.set()
            result = future.result()
            folder = ws.task_dir(pending[0].cycle, result["key"])
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in result["files"].items():
                (folder / name).write_bytes(data)
            for values in result["updates"]:
                if "best_params_file" in values:
                    values = {**values, "best_params_file": str(folder / "best_params.json")}
                state_file.update_task(result["key"], **values)
            paused = paused or result["outcome"] == "paused"
            _notify(progress, "end", state_file, result["key"])
    return paused or ws.stop_requested()
