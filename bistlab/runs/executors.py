"""Where a cycle's tasks run: one at a time in this process, on a pool of local processes, or on a
Dask distributed cluster. Every executor has one method, :meth:`Executor.run`; in every case the
driver owns the state file (``update`` calls go through its lock) and the executed notebooks end
up in the task's run folder.
"""

from __future__ import annotations

import abc
import logging
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bistlab.config import CycleConfig
from bistlab.errors import BistlabError, ConfigError
from bistlab.runs.stages import Outcome, attempt_task, execute_task
from bistlab.core.state import CycleState, StateFile, TaskState, TaskStatus
from bistlab.core.workspace import Workspace

__all__ = ["Executor", "SerialExecutor", "PoolExecutor", "DaskExecutor", "executor_for", "ProgressFn"]

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, TaskState, CycleState], None]
"""Called with (``"start"`` | ``"queued"`` | ``"end"``, task, state) around each task."""

WarmStarts = dict[str, dict[str, Any] | None]


def _notify(progress: ProgressFn | None, event: str, state_file: StateFile, key: str) -> None:
    if progress:
        state = state_file.read()
        progress(event, state.tasks[key], state)


def local_entry(ws: Workspace, key: str, config: CycleConfig, warm_start: dict[str, Any] | None) -> tuple[str, Outcome]:
    """One task in this process (serial mode or a pool worker): state written directly."""
    state_file = StateFile(ws.state_file)

    def update(**values: Any) -> None:
        state_file.update_task(key, **values)

    def run() -> None:
        execute_task(ws, state_file.read().tasks[key], config, update=update, warm_start=warm_start)

    return key, attempt_task(run, key=key, retries=config.max_retries, current=state_file.read().tasks[key].retry_count, update=update)


class Executor(abc.ABC):
    """Runs a cycle's pending tasks.

    Args:
        ws: the workspace.
        config: the cycle's settings.
    """

    def __init__(self, ws: Workspace, config: CycleConfig) -> None:
        self.ws = ws
        self.config = config
        self.state_file = StateFile(ws.state_file)

    @abc.abstractmethod
    def run(self, pending: list[TaskState], *, warm: WarmStarts, progress: ProgressFn | None = None) -> bool:
        """Run ``pending`` (horizon-first); returns whether the cycle paused (a stop request)."""


class SerialExecutor(Executor):
    """One task at a time, in this process."""

    def run(self, pending: list[TaskState], *, warm: WarmStarts, progress: ProgressFn | None = None) -> bool:
        for task in pending:
            _notify(progress, "start", self.state_file, task.key)
            _, outcome = local_entry(self.ws, task.key, self.config, warm[task.key])
            _notify(progress, "end", self.state_file, task.key)
            if outcome == Outcome.PAUSED:
                return True
        return self.ws.stop_requested()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PoolExecutor(Executor):
    """``config.workers`` tasks at once on local processes (spawned; Ctrl-C reaches the driver only)."""

    def run(self, pending: list[TaskState], *, warm: WarmStarts, progress: ProgressFn | None = None) -> bool:
        paused = False
        context = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.config.workers, mp_context=context, initializer=_ignore_sigint) as pool:
            futures = {pool.submit(local_entry, self.ws, t.key, self.config, warm[t.key]): t.key for t in pending}
            for key in futures.values():
                _notify(progress, "queued", self.state_file, key)
            for future in as_completed(futures):
                try:
                    key, outcome = future.result()
                except BrokenProcessPool as err:  # a worker was killed (out of memory?): its tasks stay unfinished
                    raise BistlabError(
                        f"`worker process` must run its task to the end but got a process killed while running {futures[future]} "
                        "(out of memory, or a signal); finished tasks are kept: `bistlab cycle resume` continues"
                    ) from err
                paused = paused or outcome == Outcome.PAUSED
                _notify(progress, "end", self.state_file, key)
        return paused or self.ws.stop_requested()


def _remote_workspace(payload: dict[str, Any]) -> Workspace:
    """A temporary workspace on a Dask worker, reading the shared price store and Optuna storage."""
    ws = Workspace(
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
    return ws


def _watch_stop(ws: Workspace, event_name: str, done: threading.Event) -> None:
    """Turn the driver's stop event into the remote workspace's stop file."""
    from distributed import Event  # Dask is only needed on a cluster

    stop_event = Event(event_name)
    while not done.is_set():
        if stop_event.wait(timeout=1):
            ws.stop_file.touch()
            return


def dask_entry(payload: dict[str, Any], snapshot: bytes | None = None) -> dict[str, Any]:
    """One task on a Dask worker: runs in a temporary workspace (with the cycle's snapshot of the
    prices, scattered once to every worker); returns state updates and files."""
    ws = _remote_workspace(payload)
    task = TaskState.from_dict(payload["task"])
    if snapshot is not None:
        path = ws.universe_snapshot(task.cycle)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(snapshot)
    config = CycleConfig.from_dict(payload["config"])
    updates: list[dict[str, Any]] = []
    done = threading.Event()
    threading.Thread(target=_watch_stop, args=(ws, payload["stop_event"], done), daemon=True).start()

    def update(**values: Any) -> None:
        updates.append(values)
        for name, value in values.items():
            setattr(task, name, value)

    try:
        run = lambda: execute_task(ws, task, config, update=update, warm_start=payload["warm_start"])  # noqa: E731
        outcome = attempt_task(run, key=task.key, retries=config.max_retries, current=task.retry_count, update=update)
    finally:
        done.set()
    folder = ws.task(task.cycle, task.key).folder
    files = {p.name: p.read_bytes() for p in folder.glob("*") if p.is_file()} if folder.exists() else {}
    shutil.rmtree(ws.root, ignore_errors=True)
    return {"key": task.key, "outcome": outcome.value, "updates": updates, "files": files}


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster (``config.dask_address``), against a shared Optuna
    storage (``Workspace.optuna_url``) and price store; the workers send back the files and the
    state updates, which the driver writes."""

    def _payload(self, task: TaskState, warm: dict[str, Any] | None, stop_name: str) -> dict[str, Any]:
        ws = self.ws
        return {
            "task": asdict(task),
            "config": self.config.to_dict(),
            "db_url": ws.price_url,
            "optuna_url": ws.optuna_url,
            "price_table": ws.price_table,
            "price_columns": ws.price_columns,
            "warm_start": warm,
            "stop_event": stop_name,
        }

    def _collect(self, result: dict[str, Any], cycle: int) -> None:
        paths = self.ws.task(cycle, result["key"])
        paths.folder.mkdir(parents=True, exist_ok=True)
        for name, data in result["files"].items():
            (paths.folder / name).write_bytes(data)
        for values in result["updates"]:
            if "best_params_file" in values:
                values = {**values, "best_params_file": str(paths.best_params)}
            self.state_file.update_task(result["key"], **values)

    def run(self, pending: list[TaskState], *, warm: WarmStarts, progress: ProgressFn | None = None) -> bool:
        from distributed import Client, Event  # Dask is only needed on a cluster
        from distributed import as_completed as dask_completed

        if not self.ws.optuna_url:
            raise ConfigError("optuna_url", "an Optuna storage every Dask worker reaches (e.g. postgresql://...) with --dask", None)
        stop_name = f"bistlab-stop-{self.ws.root.name}-{os.getpid()}"
        paused = False
        with Client(self.config.dask_address) as client:
            stop_event = Event(stop_name, client=client)
            stop_event.clear()
            futures = []
            snapshot_file = self.ws.universe_snapshot(pending[0].cycle) if pending else None
            snapshot = client.scatter(snapshot_file.read_bytes(), broadcast=True) if snapshot_file and snapshot_file.exists() else None
            for task in pending:
                self.state_file.update_task(task.key, status=TaskStatus.HPO if task.status == TaskStatus.PENDING else task.status)
                key = f"bistlab-{task.key}-c{task.cycle}-{os.urandom(4).hex()}"
                futures.append(client.submit(dask_entry, self._payload(task, warm[task.key], stop_name), snapshot, key=key, pure=False))
                _notify(progress, "queued", self.state_file, task.key)
            for future in dask_completed(futures):
                if self.ws.stop_requested() and not stop_event.is_set():
                    stop_event.set()
                result = future.result()
                self._collect(result, pending[0].cycle)
                paused = paused or result["outcome"] == Outcome.PAUSED.value
                _notify(progress, "end", self.state_file, result["key"])
        return paused or self.ws.stop_requested()


def executor_for(ws: Workspace, config: CycleConfig) -> Executor:
    """Dask when ``config.dask_address`` is set, a process pool for more than one worker, else serial."""
    if config.dask_address:
        return DaskExecutor(ws, config)
    if config.workers > 1:
        return PoolExecutor(ws, config)
    return SerialExecutor(ws, config)
