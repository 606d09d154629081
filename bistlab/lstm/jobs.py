"""The job runner of the LSTM hyperopt: start, stop, resume, status, results.

These plain functions are the whole control surface; the CLI, the notebook and a REST API call
them and serialise what they return:

- :func:`start_job` checks MLflow and the base job, refuses while another job of the workspace runs
  (:class:`~bistlab.errors.JobConflictError`), loads the data, measures one epoch for the time
  estimate, writes ``state.json`` (status ``starting``) and runs the job here (``detach=False``)
  or in a background worker process (``detach=True``, returns at once).
- :func:`stop_job` asks the running job to stop; it is honoured at the next epoch boundary: the
  running trial is recorded as interrupted (FAIL, ``interrupted=True``) and the job is ``paused``.
- :func:`resume_job` continues a paused job, or one whose worker died (``kill -9``): completed
  groups are skipped, trials left running are failed, interrupted trials are run again first with
  their parameters and seed, and only finished trials count towards ``max_trials_per_group``.
- :func:`job_status`, :func:`job_results`, :func:`list_jobs`, :func:`latest_job` read the files.

Statuses: starting, running, paused, completed, failed (the specification's). Files:
:mod:`bistlab.lstm.files`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

from bistlab.core.job_records import JobProgress, JobResults, JobState, JobStatus
from bistlab.core.workspace import JobPaths, Workspace
from bistlab.errors import ConfigError, JobConflictError, JobNotFoundError, JobStateError
from bistlab.core.jsonio import read_json
from bistlab.core.faults import KERNEL_PARENT_ENV
from bistlab.lstm import files
from bistlab.lstm.config import OptimizationConfig
from bistlab.core.clock import utcnow
from bistlab.lstm.files import JobLock, JobSnapshot, latest_job, read_results, read_state, write_state
from bistlab.lstm.groups import DEFAULT_PARAMS
from bistlab.lstm.runner import estimate_time, run_job, settings_of
from bistlab.lstm.samples import load_data
from bistlab.lstm.tracking import check_mlflow

__all__ = [
    "StartResponse",
    "StopResponse",
    "ResumeResponse",
    "start_job",
    "check_start",
    "stop_job",
    "resume_job",
    "job_status",
    "job_snapshot",
    "job_results",
    "results_of",
    "list_jobs",
    "latest_job",
    "run_job",
    "wait_for",
    "run_hyperopt",
    "load_job",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]

ENDING_GRACE_SECONDS = 30.0
"""How long start or resume waits for the lock of a job whose state already says it ended."""


@dataclass
class StartResponse:
    """What :func:`start_job` returns (the specification's start response).

    Attributes:
        success: the job was started.
        job_id: its id, ``YYYYMMDD_HHMMSS``.
        status: ``starting`` (detached), else the status it ended in.
        time_estimate: ``estimated_hours``, ``total_trials``, ``seconds_per_epoch``, ``measured``.
        pid: the worker process (detached) or this process.
        message: one line for people.
    """

    success: bool
    job_id: str
    status: str
    time_estimate: dict[str, Any]
    pid: int | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StopResponse:
    """What :func:`stop_job` returns: ``success``, ``status`` ("paused" once honoured), ``message``, ``can_resume``, ``job_id``."""

    success: bool
    status: str
    message: str
    can_resume: bool
    job_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ResumeResponse:
    """What :func:`resume_job` returns: ``success``, ``status`` ("resumed", or the status a
    foreground resume ended in), ``job_id``, ``progress`` {current_group, current_trial, groups_completed},
    ``pid`` (the worker process, detached, or this process)."""

    success: bool
    status: str
    job_id: str
    progress: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _resolve(ws: Workspace, job_id: str | None) -> str:
    job_id = job_id or latest_job(ws)
    if job_id is None:
        raise JobNotFoundError("no hyperopt job in this workspace: start one with `bistlab hyperopt start`", job_id=None)
    files.read_state(ws, job_id)
    return job_id


def _latest_completed(ws: Workspace, *, exclude: str | None = None) -> str | None:
    for job_id in reversed(files.job_ids(ws)):
        if job_id != exclude and read_state(ws, job_id).status == JobStatus.COMPLETED and ws.job(job_id).best_params.exists():
            return job_id
    return None


def _base_params(ws: Workspace, config: OptimizationConfig) -> tuple[dict[str, Any], str]:
    """Parameters the groups not searched keep, and where they come from (in words)."""
    base_job = config.base_job
    if base_job is None and config.mode == "fine_tune":
        base_job = _latest_completed(ws)
    if base_job is None:
        return dict(DEFAULT_PARAMS), "built-in defaults" + (" (no completed job to fine-tune)" if config.mode == "fine_tune" else "")
    read_state(ws, base_job)
    path = ws.job(base_job).best_params
    if not path.exists():
        raise ConfigError("base_job", "a job whose best parameters are saved", base_job)
    return {**DEFAULT_PARAMS, **read_json(path)}, f"best parameters of job {base_job}"


def _worker_env(ws: Workspace) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(KERNEL_PARENT_ENV, None)  # a detached worker is not a notebook kernel: it outlives its starter
    env["BISTLAB_WORKSPACE"] = str(ws.root)
    for key, value in (("BISTLAB_DB_URL", ws.db_url), ("BISTLAB_OPTUNA_URL", ws.optuna_url), ("BISTLAB_PRICE_TABLE", ws.price_table)):
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    if ws.price_columns is not None:
        env["BISTLAB_PRICE_COLUMNS"] = ",".join(f"{k}={v or ''}" for k, v in ws.price_columns.items())
    else:
        env.pop("BISTLAB_PRICE_COLUMNS", None)
    return env


def _spawn(ws: Workspace, job_id: str, lock: JobLock, *, resume: bool) -> int:
    """Start the background worker; it inherits the lock, which this process then lets go of."""
    job_dir = ws.hyperopt_job_dir(job_id)
    args = [sys.executable, "-m", "bistlab.lstm.worker", str(job_dir), "--lock-fd", str(lock.fd)] + (["--resume"] if resume else [])
    with open(JobPaths(job_dir).worker_log, "ab") as log:
        proc = subprocess.Popen(args, pass_fds=(lock.fd,), start_new_session=True, env=_worker_env(ws), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    lock.hand_over()
    logger.info("job %s: worker pid %d", job_id, proc.pid)
    return proc.pid


def _initial_state(ws: Workspace, job_id: str, config: OptimizationConfig, *, base: dict[str, Any], source: str) -> JobState:
    return JobState(
        job_id=job_id, status=JobStatus.STARTING, created_at=utcnow(), config=config.to_dict(), base_params=base, base_params_source=source,
        progress=JobProgress(groups_planned=list(config.groups())), report=str(ws.hyperopt_report(job_id)), bistlab_version=metadata.version("bistlab"),
    )


def check_start(ws: Workspace, config: OptimizationConfig) -> None:
    """What can be refused before a job starts (and before a progress bar is drawn), beyond the
    settings (checked when ``config`` was made): MLflow when asked for, and the base job.

    Raises:
        ConfigError: MLflow asked for and not installed, or a base job without saved best parameters.
        JobNotFoundError: the base job does not exist.
    """
    check_mlflow(config.use_mlflow)  # fails early when mlflow is missing, creating no store
    _base_params(ws, config)


def start_job(ws: Workspace, config: OptimizationConfig, *, detach: bool = False, progress: ProgressCallback | None = None) -> StartResponse:
    """Start a new hyperopt job.

    Args:
        ws: the workspace (price store, ``runs/hyperopt/``, ``reports/``).
        config: the job's settings (checked when it was made).
        detach: run in a background worker process and return at once (status ``starting``);
            else run here and return when the job completes, pauses or fails.
        progress: called with progress events while the job runs here (``detach=False``).

    Returns:
        The specification's start response (:class:`StartResponse`).

    Raises:
        ConfigError: an invalid setting (named), or MLflow asked for and not installed.
        JobConflictError: another job of the workspace is running.
        DataError: a named symbol is missing or too short.
    """
    check_start(ws, config)
    ws.ensure()
    lock = _take_lock(ws)
    try:
        base, source = _base_params(ws, config)
        data = load_data(ws, config)
        job_id = files.new_job_id(ws)
        lock.mark(job_id)
        ws.hyperopt_job_dir(job_id).mkdir(parents=True)
        state = _initial_state(ws, job_id, config, base=base, source=source)
        state.time_estimate = estimate_time(data, config, settings_of(config), base=base)
        state.data_fingerprint = data.fingerprint
        write_state(ws, state)
        if detach:
            pid = _spawn(ws, job_id, lock, resume=False)
            return StartResponse(True, job_id, JobStatus.STARTING, _public_estimate(state.time_estimate), pid, f"job {job_id} started in worker {pid}")
        final = run_job(ws, job_id, resume=False, lock=lock, data=data, progress=progress)
        return StartResponse(True, job_id, final.status, _public_estimate(state.time_estimate), os.getpid(), _ended(final))
    finally:
        lock.release()


def _public_estimate(estimate: dict[str, Any]) -> dict[str, Any]:
    keys = ("estimated_hours", "total_trials", "seconds_per_epoch", "measured")
    return {k: estimate.get(k) for k in keys}


def _ended(state: JobState) -> str:
    if state.status == JobStatus.PAUSED:
        return f"job {state.job_id} paused; `bistlab hyperopt resume` continues it"
    if state.status == JobStatus.FAILED:
        return f"job {state.job_id} failed: {state.error}"
    return f"job {state.job_id} {state.status}"


def _take_lock(ws: Workspace) -> JobLock:
    """The job lock; when its holder's job already says it ended (its process is closing: report,
    tracking), or its worker is already dead (a killed multi-threaded process lets go of its files
    only when its last thread has ended), wait a few seconds for it rather than refuse.

    Raises:
        JobConflictError: a job of the workspace is running.
    """
    try:
        return JobLock(ws).acquire()
    except JobConflictError as err:
        holder = err.job_id
        state = read_state(ws, holder) if holder and ws.job(holder).state.exists() else None
        dead = state is not None and bool(state.pid) and not files.pid_alive(state.pid)
        if (state is not None and state.ended) or dead:
            return JobLock(ws).acquire(wait_seconds=ENDING_GRACE_SECONDS)
        raise


def _running_job(ws: Workspace) -> str | None:
    for job_id in reversed(files.job_ids(ws)):
        if read_state(ws, job_id).status in JobStatus.LIVE:
            return job_id
    return None


def stop_job(ws: Workspace, job_id: str | None = None) -> StopResponse:
    """Ask a running job (default: the running one) to stop at its next epoch boundary.

    Returns:
        ``success`` true when a stop was requested; false (with the reason) when the job is not
        running. The job's state becomes ``paused`` once the worker honours it.

    Raises:
        JobNotFoundError: ``job_id`` names no job.
    """
    job_id = job_id or _running_job(ws) or latest_job(ws)
    if job_id is None:
        raise JobNotFoundError("no hyperopt job in this workspace to stop", job_id=None)
    seen = job_snapshot(ws, job_id)
    if seen.state.status not in JobStatus.LIVE:
        message = f"job {job_id} is not running (status {seen.state.status})" + (f": {seen.state.error}" if seen.state.error else "")
        return StopResponse(False, seen.state.status, message, seen.resumable, job_id)
    ws.job(job_id).stop.write_text(utcnow())
    message = f"stop requested: job {job_id} pauses at the next epoch boundary; the interrupted trial runs again on resume"
    return StopResponse(True, "paused", message, True, job_id)


def resume_job(ws: Workspace, job_id: str | None = None, *, detach: bool = False, progress: ProgressCallback | None = None) -> ResumeResponse:
    """Resume a paused job, or one whose worker died (default: the latest job).

    Raises:
        JobNotFoundError: no such job.
        JobConflictError: a job of the workspace is running.
        JobStateError: the job is completed (nothing to resume).
    """
    job_id = _resolve(ws, job_id)
    lock = _take_lock(ws)
    try:
        state = read_state(ws, job_id)
        if state.status == JobStatus.COMPLETED:
            raise JobStateError(f"job {job_id} is completed: nothing to resume (start a new job, e.g. --mode fine_tune)", job_id=job_id, status=JobStatus.COMPLETED)
        lock.mark(job_id)
        ws.job(job_id).stop.unlink(missing_ok=True)
        p = state.progress
        summary = {"current_group": p.current_group, "current_trial": p.current_trial, "groups_completed": list(p.groups_completed)}
        if detach:
            files.update_state(ws, job_id, _starting)  # the worker's lock speaks for it until it writes its pid
            pid = _spawn(ws, job_id, lock, resume=True)
            return ResumeResponse(True, "resumed", job_id, summary, pid)
        final = run_job(ws, job_id, resume=True, lock=lock, progress=progress)
        return ResumeResponse(True, final.status, job_id, summary, os.getpid())
    finally:
        lock.release()


def _starting(state: JobState) -> None:
    state.status, state.pid, state.error = JobStatus.STARTING, None, None


def job_snapshot(ws: Workspace, job_id: str | None = None) -> JobSnapshot:
    """The job's state as seen now (default: the latest job): :func:`bistlab.lstm.files.snapshot`.

    Raises:
        JobNotFoundError: no such job (or none at all).
    """
    return files.snapshot(ws, _resolve(ws, job_id))


def job_status(ws: Workspace, job_id: str | None = None) -> dict[str, Any]:
    """The job's state (default: the latest job), with what the files alone cannot say.

    A job recorded as starting or running whose worker is gone (killed) is reported ``failed``
    with the reason and ``resumable: true``; ``recorded_status`` keeps what state.json says.
    ``stop_requested`` is true while a stop waits to be honoured.

    Raises:
        JobNotFoundError: no such job (or none at all).
    """
    return job_snapshot(ws, job_id).to_dict()


def results_of(ws: Workspace, job_id: str | None = None) -> tuple[JobResults, str | None]:
    """The job's results (default: the latest job) as far as it got, its status as seen now, and
    its report's path (``None`` before it is written).

    Raises:
        JobNotFoundError: no such job (or none at all).
    """
    seen = job_snapshot(ws, job_id)
    state = seen.state
    results = read_results(ws, state.job_id) or JobResults(job_id=state.job_id, best_params=state.base_params)
    results.status = state.status
    return results, state.report if os.path.exists(state.report or "") else None


def job_results(ws: Workspace, job_id: str | None = None) -> dict[str, Any]:
    """The job's results (default: the latest job): results.json as far as it got, with its status.

    Returns:
        ``job_id``, ``status``, ``best_params``, ``best_value``, ``group_results``,
        ``fixed_params``, ``groups_completed``, ``holdout`` (``None`` until completed), ``report``
        and the rest of results.json; before the first group ends, the groups are empty.
    """
    results, report = results_of(ws, job_id)
    return {**results.to_dict(), "report": report}


def list_jobs(ws: Workspace) -> list[dict[str, Any]]:
    """Every job of the workspace, oldest first: id, status, mode, created, groups done, best values."""
    out = []
    for job_id in files.job_ids(ws):
        s = files.snapshot(ws, job_id).state
        out.append({
            "job_id": job_id, "status": s.status, "mode": s.mode, "created_at": s.created_at,
            "groups_completed": s.progress.groups_completed, "best_values": s.progress.best_values, "error": s.error,
        })
    return out


def wait_for(ws: Workspace, job_id: str, *, statuses: tuple[str, ...] = ("paused", "completed", "failed"), timeout: float = 600.0) -> dict[str, Any]:
    """Poll :func:`job_status` until the job reaches one of ``statuses`` (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = job_snapshot(ws, job_id)
        if seen.state.status in statuses or time.monotonic() > deadline:
            return seen.to_dict()
        time.sleep(0.2)


def run_hyperopt(ws: Workspace, config: OptimizationConfig | dict[str, Any], *, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Run a hyperopt job in this process and return its results (the notebook's entry).

    Args:
        ws: the workspace.
        config: an :class:`OptimizationConfig` or its fields as a dict.
        progress: called with progress events.

    Returns:
        :func:`job_results` of the finished (or paused) job, with ``job_id``.
    """
    cfg = config if isinstance(config, OptimizationConfig) else OptimizationConfig.from_dict(config)
    started = start_job(ws, cfg, detach=False, progress=progress)
    return job_results(ws, started.job_id)


def load_job(ws: Workspace, job_id: str | None = None) -> dict[str, Any]:
    """A job's status and results together (default: the latest job): ``{"status": ..., "results": ...}``."""
    job_id = _resolve(ws, job_id)
    return {"job_id": job_id, "status": job_status(ws, job_id), "results": job_results(ws, job_id)}
