"""Cycle and task state: ``runs/state.json``, written atomically under a file lock.

The file holds the current cycle number and one entry per task key ``"<SYMBOL>_<h>d"``.
Every change is a read-modify-write under an exclusive ``fcntl`` lock on ``state.json.lock``
followed by an atomic rename, so several worker processes may update it and a reader (or a
process killed mid-write) never sees a partial file. The version before each change is kept
as ``state.json.bak`` (a hard link, no copy). A state file that cannot be read is an error
naming it and how to recover (:class:`~bistlab.errors.StateFileError`), never an empty state;
one that cannot be written (a read-only or full disk) is left as it was
(:class:`~bistlab.errors.WorkspaceError`).

One cycle runs per workspace at a time: :class:`CycleLock` (``runs/cycle.lock``, a
:class:`~bistlab.core.locks.FileLock` released by the kernel when its process ends, however it ends) holds the running cycle's
process id, host and start time, and a second cycle is refused with them
(:class:`~bistlab.errors.CycleLockedError`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bistlab.errors import CycleLockedError, WorkspaceError
from bistlab.core.jsonio import read_json_or_none, write_json_atomic
from bistlab.core.locks import FileLock
from bistlab.core.statefile import JsonStateFile
from bistlab.core.workspace import Workspace, task_key
from bistlab.core.records import BestParams, Evaluation

__all__ = ["TaskStatus", "TaskState", "CycleState", "StateFile", "CycleLock", "CycleTasks", "tasks_of_cycle", "write_tasks_snapshot"]

logger = logging.getLogger(__name__)


class TaskStatus:
    """The statuses of DESIGN.md; ``ENDED`` are the ones a cycle can close on."""

    PENDING = "pending"
    HPO = "hpo_in_progress"
    TRAINING = "training_in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ALL = (PENDING, HPO, TRAINING, COMPLETED, FAILED, SKIPPED)
    ENDED = (COMPLETED, FAILED, SKIPPED)


@dataclass
class TaskState:
    """State of one (symbol, horizon) task in a cycle.

    Attributes:
        symbol: the symbol.
        horizon: h, trading days.
        status: one of :class:`TaskStatus`.
        cycle: the cycle the task belongs to.
        started_at, hpo_completed_at, training_completed_at, completed_at: UTC ISO timestamps.
        best_params_file: path of ``best_params.json``.
        hpo_dirhit: selected trial's filtered DirHit, percent (optimistically biased).
        training_dirhit_wfv: DirHit on the HPO's splits after training, percent.
        training_dirhit_online: online holdout DirHit, percent.
        holdout_count: masked holdout rows behind ``training_dirhit_online``.
        low_support: selection fell back to the 0/0.0 filter.
        usable: the holdout rule's verdict.
        retry_count: failed attempts so far.
        error: last error, one line.
        note: what a reader must know about the result, e.g. that the study was restarted because
            the prices changed between a stop and the resume.
    """

    symbol: str
    horizon: int
    status: str = TaskStatus.PENDING
    cycle: int = 0
    started_at: str | None = None
    hpo_completed_at: str | None = None
    training_completed_at: str | None = None
    completed_at: str | None = None
    best_params_file: str | None = None
    hpo_dirhit: float | None = None
    training_dirhit_wfv: float | None = None
    training_dirhit_online: float | None = None
    holdout_count: int | None = None
    low_support: bool | None = None
    usable: bool | None = None
    retry_count: int = 0
    error: str | None = None
    note: str | None = None

    @property
    def key(self) -> str:
        return task_key(self.symbol, self.horizon)

    @property
    def timestamps(self) -> dict[str, str | None]:
        """started / hpo_completed / training_completed / completed (UTC ISO)."""
        return {"started": self.started_at, "hpo_completed": self.hpo_completed_at, "training_completed": self.training_completed_at, "completed": self.completed_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskState":
        """From the state file, or a report's task snapshot (older ones nest the times under ``timestamps``)."""
        names = {f.name for f in fields(cls)}
        times = data.get("timestamps") or {}
        nested = {f"{k}_at": v for k, v in times.items() if f"{k}_at" in names}
        return cls(**{**nested, **{k: v for k, v in data.items() if k in names}})


@dataclass
class CycleState:
    """The whole state file."""

    cycle: int = 0
    tasks: dict[str, TaskState] = field(default_factory=dict)
    updated_at: str | None = None
    paused: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "updated_at": self.updated_at,
            "paused": self.paused,
            "config": self.config,
            "tasks": {k: asdict(v) for k, v in self.tasks.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CycleState":
        return cls(
            cycle=int(data.get("cycle", 0)),
            tasks={k: TaskState.from_dict(v) for k, v in (data.get("tasks") or {}).items()},
            updated_at=data.get("updated_at"),
            paused=bool(data.get("paused", False)),
            config=dict(data.get("config") or {}),
        )

    def cycle_tasks(self, cycle: int | None = None) -> list[TaskState]:
        c = self.cycle if cycle is None else cycle
        return [t for t in self.tasks.values() if t.cycle == c]

    def cycle_ended(self) -> bool:
        tasks = self.cycle_tasks()
        return bool(tasks) and all(t.status in TaskStatus.ENDED for t in tasks)


class StateFile(JsonStateFile[CycleState]):
    """``runs/state.json`` with locked read-modify-write (a :class:`~bistlab.core.statefile.JsonStateFile`
    over :class:`CycleState`; empty while the file does not exist yet).

    Args:
        path: the state file (its lock and backup sit beside it: ``.lock``, ``.bak``).
    """

    what = "the cycle state"

    def __init__(self, path: Path) -> None:
        super().__init__(path, CycleState, empty=CycleState, fault_point="state_write")

    def saved(self, record: CycleState) -> str:
        return f"cycle {record.cycle}, {len(record.tasks)} tasks, saved {record.updated_at}; at most its last change is lost, and a resume redoes it"

    def recovery(self) -> str:
        return "or move it away to start again from cycle 1"

    def _unwritable(self, err: OSError) -> WorkspaceError:
        return WorkspaceError(
            f"`{self.path}` must be writable but got {type(err).__name__}: {err}; the state is as it was before "
            "this change (it is only ever replaced whole): free space or make the workspace writable, then "
            "`bistlab cycle resume`",
            path=self.path,
        )

    def update_task(self, key: str, **values: Any) -> TaskState:
        """Set fields of one task."""

        def change(state: CycleState) -> None:
            task = state.tasks[key]
            for name, value in values.items():
                setattr(task, name, value)

        return self.update(change).tasks[key]


class CycleLock(FileLock):
    """The workspace's cycle lock: ``runs/cycle.lock``, held by the process that runs a cycle
    (a :class:`~bistlab.core.locks.FileLock`: released by the kernel when its process ends, however it
    ends; the file holds the holder's ``pid``, ``host`` and ``since`` for the message that refuses a
    second cycle).

    Args:
        ws: the workspace.
    """

    def __init__(self, ws: Workspace) -> None:
        super().__init__(ws.cycle_lock)

    def refused(self, holder: dict[str, Any]) -> CycleLockedError:
        pid, host, since = holder.get("pid"), holder.get("host"), holder.get("since")
        who = f"process {pid} on {host} since {since}" if pid else "another process (still writing its details)"
        return CycleLockedError(
            f"`workspace` must have no running cycle but got one run by {who} ({self.path}): wait for it to end, "
            "or ask it to pause with `bistlab cycle stop`",
            pid=pid, host=host, since=since,
        )

    def check_free(self) -> None:
        """Raise :class:`~bistlab.errors.CycleLockedError` now if a cycle runs (a probe: take and release)."""
        self.acquire().release()


@dataclass(frozen=True)
class CycleTasks:
    """The tasks of one cycle, as the report and the forecasts see them.

    Attributes:
        tasks: the tasks, horizon-first.
        config: the cycle's configuration (``CycleConfig.to_dict()``) as recorded.
        ended: every task has ended.
    """

    tasks: list[TaskState]
    config: dict[str, Any]
    ended: bool


def _horizon_first(tasks: list[TaskState]) -> list[TaskState]:
    return sorted(tasks, key=lambda t: (t.horizon, t.symbol))


def tasks_of_cycle(ws: Workspace, cycle: int) -> CycleTasks:
    """The tasks of ``cycle``: from the state file while it holds the cycle; else from the report's
    snapshot (:func:`write_tasks_snapshot`); else from the run folders' results."""
    state = StateFile(ws.state_file).read()
    tasks = state.cycle_tasks(cycle)
    if tasks:
        return CycleTasks(_horizon_first(tasks), dict(state.config), all(t.status in TaskStatus.ENDED for t in tasks))
    snapshot = read_json_or_none(ws.tasks_snapshot(cycle))
    if snapshot:
        rows = [TaskState.from_dict(t) for t in snapshot["tasks"]]
        for t in rows:  # a snapshot taken mid-cycle: the state has moved on, so the cycle ended since
            if t.status not in TaskStatus.ENDED and ws.task(cycle, t.key).find(Evaluation.FILE):
                t.status = TaskStatus.COMPLETED
        return CycleTasks(rows, snapshot.get("config") or {}, True)
    rows = []
    for folder in sorted(ws.cycle_dir(cycle).glob("*/")):
        best = read_json_or_none(folder / BestParams.FILE) or {}
        if "symbol" in best:
            done = (folder / Evaluation.FILE).exists()
            rows.append(TaskState(symbol=best["symbol"], horizon=int(best["horizon"]), status=TaskStatus.COMPLETED if done else "unknown", cycle=cycle))
    return CycleTasks(_horizon_first(rows), {}, True)


def write_tasks_snapshot(ws: Workspace, cycle: int, tasks: CycleTasks) -> None:
    """Keep the cycle's tasks with its report (reports outlive the state file's cycle)."""
    write_json_atomic(ws.tasks_snapshot(cycle), {"cycle": cycle, "ended": tasks.ended, "config": tasks.config, "tasks": [asdict(t) for t in tasks.tasks]})
