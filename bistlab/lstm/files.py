"""The files of a hyperopt job and the workspace's job lock.

``runs/hyperopt/<job_id>/`` holds ``state.json`` (:class:`~bistlab.core.job_records.JobState`: status,
config, progress, time estimates, device, worker pid, error), ``results.json``
(:class:`~bistlab.core.job_records.JobResults`: best_params, group_results, fixed_params, best
values, holdout evaluation), ``best_params.json`` (the best parameters only), ``STOP`` (present
while a stop is requested), ``worker.log`` (a detached worker's log), the studies
``<study_name>_<group>.db`` and, with MLflow, ``mlflow.db`` and ``mlruns/``. Every JSON file is
written atomically (:func:`bistlab.core.jsonio.write_json_atomic`); the state and the results through a
:class:`~bistlab.core.statefile.JsonStateFile` (locked, with a ``.bak`` backup).

One job runs per workspace at a time: its process holds :class:`JobLock`, a
:class:`~bistlab.core.locks.FileLock` on ``runs/hyperopt/.lock`` (released by the kernel when the process
ends, even by ``kill -9``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bistlab.core.job_records import JobResults, JobState, JobStatus
from bistlab.core.workspace import Workspace
from bistlab.errors import JobConflictError, JobNotFoundError
from bistlab.core.jsonio import write_json_atomic
from bistlab.core.locks import FileLock
from bistlab.core.statefile import JsonStateFile

__all__ = [
    "STATUSES",
    "JobLock",
    "new_job_id",
    "job_id_text",
    "job_ids",
    "latest_job",
    "state_file",
    "results_file",
    "read_state",
    "write_state",
    "update_state",
    "read_results",
    "write_results",
    "JobSnapshot",
    "snapshot",
    "pid_alive",
]

STATUSES: tuple[str, ...] = JobStatus.ALL


def job_ids(ws: Workspace) -> list[str]:
    """Every job of the workspace with a state file, oldest first (ids sort by their start time)."""
    if not ws.hyperopt_dir.exists():
        return []
    return sorted(p.name for p in ws.hyperopt_dir.iterdir() if p.is_dir() and ws.job(p.name).state.exists())


def latest_job(ws: Workspace) -> str | None:
    """The most recently started job's id, or ``None`` when the workspace has none."""
    ids = job_ids(ws)
    return ids[-1] if ids else None


def job_id_text(job_id: str | int | None) -> str | None:
    """A job id as text, also from the integer papermill makes of ``-p job_id 20261204_231718``
    (Python reads ``20261204_231718`` as the number 20261204231718; a ``_2`` suffix becomes a
    trailing digit): its first 8 digits are the date, the next 6 the time, any rest the suffix."""
    if job_id is None or isinstance(job_id, str):
        return job_id
    digits = str(int(job_id))
    if len(digits) < 14:
        return digits
    return f"{digits[:8]}_{digits[8:14]}" + (f"_{digits[14:]}" if len(digits) > 14 else "")


def new_job_id(ws: Workspace) -> str:
    """``YYYYMMDD_HHMMSS`` of now (UTC), with ``_2``, ``_3``... when that second is taken."""
    base = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    job_id, n = base, 1
    while ws.hyperopt_job_dir(job_id).exists():
        n += 1
        job_id = f"{base}_{n}"
    return job_id


def state_file(ws: Workspace, job_id: str) -> JsonStateFile[JobState]:
    """The job's ``state.json`` as a locked, atomic :class:`~bistlab.core.statefile.JsonStateFile`."""
    return JsonStateFile(ws.job(job_id).state, JobState, what="a hyperopt job's state")


def results_file(ws: Workspace, job_id: str) -> JsonStateFile[JobResults]:
    """The job's ``results.json`` as a locked, atomic :class:`~bistlab.core.statefile.JsonStateFile`."""
    return JsonStateFile(ws.job(job_id).results, JobResults, what="a hyperopt job's results")


def read_state(ws: Workspace, job_id: str) -> JobState:
    """The job's state.json.

    Raises:
        JobNotFoundError: no such job in the workspace.
        StateFileError: the file is unreadable (named, with its backup).
    """
    file = state_file(ws, job_id)
    if not file.exists():
        known = job_ids(ws)
        hint = f"one of {', '.join(known[-5:])}" if known else "an existing job (this workspace has none)"
        raise JobNotFoundError(f"`job_id` must be {hint} but got {job_id!r}", job_id=job_id)
    return file.read()


def write_state(ws: Workspace, state: JobState) -> JobState:
    """Write state.json atomically under its lock, stamping ``updated_at`` (the runner owns the whole state)."""
    return state_file(ws, state.job_id).write(state)


def update_state(ws: Workspace, job_id: str, change: Callable[[JobState], Any]) -> JobState:
    """Apply ``change`` to state.json under its lock (read-modify-write), stamping ``updated_at``."""
    return state_file(ws, job_id).update(change)


def read_results(ws: Workspace, job_id: str) -> JobResults | None:
    """The job's results.json, ``None`` before its first group ended."""
    return results_file(ws, job_id).read_or_none()


def write_results(ws: Workspace, results: JobResults) -> JobResults:
    """Write results.json (stamping ``updated_at``) and ``best_params.json`` (the best parameters only)."""
    written = results_file(ws, results.job_id).write(results)
    write_json_atomic(ws.job(results.job_id).best_params, results.best_params)
    return written


@dataclass
class JobSnapshot:
    """A job's state as seen now: a job recorded as starting or running whose worker is gone
    (killed) is ``failed``, with the reason in ``error``.

    Attributes:
        state: state.json, its status and error as seen now.
        recorded_status: the status state.json says.
        stop_requested: a stop waits to be honoured.
    """

    state: JobState
    recorded_status: str
    stop_requested: bool

    @property
    def resumable(self) -> bool:
        return self.state.status in (JobStatus.PAUSED, JobStatus.FAILED)

    def to_dict(self) -> dict[str, Any]:
        """state.json's keys, then ``recorded_status``, ``stop_requested`` and ``resumable``."""
        return {**self.state.to_dict(), "recorded_status": self.recorded_status, "stop_requested": self.stop_requested, "resumable": self.resumable}


def snapshot(ws: Workspace, job_id: str) -> JobSnapshot:
    """The job's state as seen now (:class:`JobSnapshot`).

    Raises:
        JobNotFoundError: no such job.
    """
    state = read_state(ws, job_id)
    seen = JobSnapshot(state, state.status, ws.job(job_id).stop.exists())
    if state.status in JobStatus.LIVE and not _alive(ws, state):
        who = f"worker process {state.pid}" if state.pid else "the job's process"
        log = ws.job(job_id).worker_log
        state.status = JobStatus.FAILED
        state.error = f"{who} is gone (killed?) while the job was {seen.recorded_status}; `bistlab hyperopt resume` continues it" + (
            f" (its log: {log})" if log.exists() else ""
        )
    return seen


def _alive(ws: Workspace, state: JobState) -> bool:
    if state.pid:
        return pid_alive(state.pid) and JobLock(ws).held_elsewhere()
    return JobLock(ws).held_elsewhere()


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class JobLock(FileLock):
    """The workspace's job lock (``runs/hyperopt/.lock``): a :class:`~bistlab.core.locks.FileLock` whose
    holder names its job.

    A worker started in the background inherits the open lock file (:attr:`fd`), so the lock
    passes to it without a moment unlocked (:meth:`~bistlab.core.locks.FileLock.hand_over`).

    Args:
        ws: the workspace.
        fd: an inherited descriptor that holds the lock.
    """

    clear_on_release = False

    def __init__(self, ws: Workspace, *, fd: int | None = None) -> None:
        super().__init__(ws.hyperopt_lock, fd=fd)

    def mark(self, job_id: str | None = None, **details: Any) -> None:
        """Write the holder's job id beside its pid, host and start (for conflict messages)."""
        super().mark(**({"job_id": job_id} if job_id else {}), **details)

    def refused(self, holder: dict[str, Any]) -> JobConflictError:
        job_id = holder.get("job_id")
        who = f"{job_id} (pid {holder.get('pid')})" if job_id else "unknown job"
        return JobConflictError(
            f"another hyperopt job of this workspace is running ({who}); stop it (`bistlab hyperopt stop`) or wait for it to end",
            job_id=job_id,
        )
