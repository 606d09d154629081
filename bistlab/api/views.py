"""What the API's answers are made of: the job runner's dicts shaped into the response models.

Only files are read here (state.json, results.json, the group studies; the cycle's state and
evaluations); the jobs themselves run in their worker processes (:func:`bistlab.lstm.jobs.start_job`
with ``detach=True``), cycles in ``bistlab cycle run``.
"""

from __future__ import annotations

import logging
import os
import threading
from importlib import metadata
from typing import Any

from bistlab.runs.cycle_status import cycle_status
from bistlab.core.workspace import Workspace
from bistlab.errors import ConfigError
from bistlab.core.jsonio import to_jsonable
from bistlab.lstm import files
from bistlab.core.job_records import JobState, JobStatus
from bistlab.lstm.jobs import job_snapshot, latest_job, list_jobs, results_of
from bistlab.lstm.metrics import verdict_text
from bistlab.lstm.report import trial_records

__all__ = ["REPORT_ROUTE", "report_url", "status_view", "results_view", "jobs_view", "epochs_view", "health_view", "cycle_view", "reap"]

logger = logging.getLogger(__name__)

EPOCH_TRIALS = 8
"""How many of a group's latest trials the epoch chart shows."""


REPORT_ROUTE = "/reports/hyperopt_{job_id}.html"
"""The app's route of a job's report: :func:`report_url` fills it, :mod:`bistlab.api.app` serves it."""


def report_url(ws: Workspace, job_id: str) -> str | None:
    """The app's URL of the job's report, or ``None`` before it is written (at the job's end or pause)."""
    return REPORT_ROUTE.format(job_id=job_id) if ws.hyperopt_report(job_id).exists() else None


def reap(pid: int | None) -> None:
    """Wait, in a daemon thread, for a worker this process has just started, so that it leaves no
    zombie behind when it ends (the job's status comes from its files, not from its exit code)."""
    if not pid:
        return

    def wait() -> None:
        try:
            os.waitpid(int(pid), 0)
        except ChildProcessError:  # already collected (subprocess does so when it starts the next one)
            pass

    threading.Thread(target=wait, name=f"reap-worker-{pid}", daemon=True).start()


def status_view(ws: Workspace, job_id: str | None) -> dict[str, Any]:
    """:func:`bistlab.lstm.jobs.job_status` with the progress at the top level; ``idle`` when no job was asked for and there is none.

    Raises:
        JobNotFoundError: ``job_id`` names no job.
    """
    if job_id is None and latest_job(ws) is None:
        return {"job_id": None, "status": "idle", "message": "no hyperopt job in this workspace yet: POST /api/hyperopt/start starts one"}
    seen = job_snapshot(ws, job_id)
    s, p = seen.state, seen.state.progress.to_dict()
    keys = ("current_group", "current_trial", "current_epoch", "groups_planned", "groups_completed", "trials_done", "best_values", "total_trials_done")
    top = {k: p[k] for k in keys if p.get(k) is not None}
    return {
        **{k: v for k, v in seen.to_dict().items() if k not in ("progress", "base_params", "data", "trial_seconds")},
        **top,
        "mode": s.mode,
        "max_trials_per_group": s.config["max_trials_per_group"],
        "progress": p,
        "report_url": report_url(ws, s.job_id),
        "verdict": _verdict(ws, s.job_id),
    }


def _verdict(ws: Workspace, job_id: str) -> dict[str, Any] | None:
    """The job's verdict for the control page: ``usable`` and its sentence; ``None`` before the holdout."""
    holdout = results_of(ws, job_id)[0].holdout
    words = verdict_text(holdout)
    return {"usable": bool(holdout["verdict"]["usable"]), "text": words} if words and holdout else None


def results_view(ws: Workspace, job_id: str | None) -> dict[str, Any]:
    """:func:`bistlab.lstm.jobs.job_results` with the report's URL in this app.

    Raises:
        JobNotFoundError: no such job (or none at all).
    """
    results, report = results_of(ws, job_id)
    return {**results.to_dict(), "report": report, "report_url": report_url(ws, results.job_id)}


def jobs_view(ws: Workspace) -> dict[str, Any]:
    """Every job, oldest first, and the latest job's id."""
    return {"job_id": latest_job(ws), "jobs": list_jobs(ws)}


def _pick_group(state: JobState, group: str | None) -> str | None:
    p = state.progress
    planned = p.groups_planned
    if group is not None:
        return group
    if p.current_group in planned:
        return p.current_group
    done = p.groups_completed
    return done[-1] if done else (planned[0] if planned else None)


def epochs_view(ws: Workspace, job_id: str | None, group: str | None = None) -> dict[str, Any]:
    """The epoch-wise mean validation metric of the latest trials of ``group`` (default: the
    current group, else the last completed one; a group without a trial yet gives way to the last
    group with trials), read from the group's study.

    Raises:
        JobNotFoundError: ``job_id`` names no job.
        ConfigError: ``group`` is not a group of the job.
    """
    if job_id is None and latest_job(ws) is None:
        return {"job_id": None, "group": None, "trials": []}
    state = job_snapshot(ws, job_id).state
    planned = state.progress.groups_planned
    if group is not None and group not in planned:
        raise ConfigError("group", f"one of the job's groups ({', '.join(planned)})", group)
    chosen = _pick_group(state, group)
    by_group = trial_records(ws, state.job_id) if chosen else {}
    if group is None and not by_group.get(chosen or ""):  # a group just begun: the last one with trials
        chosen = next((g for g in reversed(planned) if by_group.get(g)), chosen)
    records = by_group.get(chosen or "", [])
    trials = [{"number": r["number"], "state": r["state"], "value": r["value"], "epoch_values": r["epoch_values"]} for r in records[-EPOCH_TRIALS:]]
    return {"job_id": state.job_id, "group": chosen, "metric": state.config["primary_metric"], "trials": to_jsonable(trials)}  # a NaN epoch value is null


def health_view(ws: Workspace) -> dict[str, Any]:
    """``ok``, the running job (else the latest one) and bistlab's version."""
    latest = latest_job(ws)
    running = None
    for job_id in reversed(files.job_ids(ws)):
        if job_snapshot(ws, job_id).state.status in JobStatus.LIVE:
            running = job_id
            break
    return {"status": "ok", "job_id": running or latest, "running": running is not None, "version": metadata.version("bistlab")}


def cycle_view(ws: Workspace, cycle: int | None = None) -> dict[str, Any]:
    """:func:`bistlab.runs.cycle_status.cycle_status`: the cycle's status and tasks with their verdicts (read-only).

    Raises:
        ConfigError: ``cycle`` is not a cycle of the workspace.
    """
    return to_jsonable(cycle_status(ws, cycle))
