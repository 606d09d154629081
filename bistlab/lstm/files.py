"""The files of a hyperopt job and the workspace's job lock.

``runs/hyperopt/<job_id>/`` holds ``state.json`` (status, config, progress, time estimates,
device, worker pid, error), ``results.json`` (best_params, group_results, fixed_params, best
values, holdout evaluation), ``best_params.json`` (the best parameters only), ``STOP`` (present
while a stop is requested), ``worker.log`` (a detached worker's log), the studies
``<study_name>_<group>.db`` and, with MLflow, ``mlflow.db`` and ``mlruns/``. Every JSON file is
written atomically (:func:`bistlab.core.jsonio.write_json_atomic`).

One job runs per workspace at a time: its process holds :class:`JobLock`, a
:class:`~bistlab.core.locks.FileLock` on ``runs/hyperopt/.lock`` (released by the kernel when the process
ends, even by ``kill -9``).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bistlab.core.workspace import Workspace
from bistlab.core.clock import utcnow
from bistlab.errors import JobConflictError, JobNotFoundError
from bistlab.core.jsonio import read_json, write_json_atomic
from bistlab.core.locks import FileLock

__all__ = [
    "STATUSES",
    "JobLock",
    "new_job_id",
    "job_id_text",
    "job_ids",
    "latest_job",
    "read_state",
    "write_state",
    "read_results",
    "pid_alive",
]

STATUSES: tuple[str, ...] = ("starting", "running", "paused", "completed", "failed")


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


def read_state(ws: Workspace, job_id: str) -> dict[str, Any]:
    """The job's state.json.

    Raises:
        JobNotFoundError: no such job in the workspace.
    """
    path = ws.job(job_id).state
    if not path.exists():
        known = job_ids(ws)
        hint = f"one of {', '.join(known[-5:])}" if known else "an existing job (this workspace has none)"
        raise JobNotFoundError(f"`job_id` must be {hint} but got {job_id!r}", job_id=job_id)
    return read_json(path)


def write_state(ws: Workspace, state: dict[str, Any]) -> None:
    """Write state.json atomically, stamping ``updated_at``."""
    state["updated_at"] = utcnow()
    write_json_atomic(ws.job(state["job_id"]).state, state)


def read_results(ws: Workspace, job_id: str) -> dict[str, Any] | None:
    path = ws.job(job_id).results
    return read_json(path) if path.exists() else None


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
