"""Running one hyperopt job to its end (completed), a pause (stop request) or a failure.

:func:`run_job` is what the background worker and a foreground :func:`bistlab.lstm.jobs.start_job`
call: it loads the data once, runs the mode's groups in order (skipping completed ones on resume),
writes ``state.json`` after every trial (progress, refined time estimate) and ``results.json`` /
``best_params.json`` after every group, then fits the final configuration on every development row
and evaluates it once on the holdout, and renders ``reports/hyperopt_<job_id>.html``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bistlab.core.job_records import JobResults, JobState, JobStatus
from bistlab.core.workspace import Workspace
from bistlab.errors import StopRequested
from bistlab.lstm import files
from bistlab.lstm.config import OptimizationConfig
from bistlab.core.clock import utcnow
from bistlab.lstm.files import JobLock, read_state, write_state
from bistlab.lstm.groups import DEFAULT_PARAMS
from bistlab.lstm.report import render_job_report
from bistlab.lstm.optimizer import SearchContext, run_group
from bistlab.lstm.samples import LstmData, load_data
from bistlab.lstm.tracking import Tracker, make_tracker, tracking_uri
from bistlab.lstm.training import TrainSettings, fit_final, measure_epoch, resolve_device

__all__ = ["run_job", "estimate_time", "settings_of", "EST_METHOD"]

logger = logging.getLogger(__name__)

EST_METHOD = (
    "one real epoch (training and validating every walk-forward split, default parameters) measured on the job's data "
    "before the start × epochs_per_trial × the most trials the mode can run, plus the final fit; refined after every "
    "trial from the measured trial durations"
)


def settings_of(config: OptimizationConfig) -> TrainSettings:
    """The fixed training settings of a job."""
    return TrainSettings(
        epochs=config.epochs_per_trial,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        early_stopping_patience=config.early_stopping_patience,
        primary_metric=config.primary_metric,
        device=resolve_device(config.device).type,
        threads=config.num_threads,
    )


def estimate_time(data: LstmData, config: OptimizationConfig, settings: TrainSettings, *, base: dict[str, Any]) -> dict[str, Any]:
    """The time estimate before a job starts, from one measured epoch (see :data:`EST_METHOD`)."""
    seconds = measure_epoch(data, {**DEFAULT_PARAMS, **base}, settings, seed=config.seed)
    total_trials = len(config.groups()) * config.max_trials_per_group
    final = seconds * config.epochs_per_trial
    total = seconds * config.epochs_per_trial * total_trials + final
    return {
        "estimated_hours": total / 3600.0,
        "total_trials": total_trials,
        "seconds_per_epoch": seconds,
        "seconds_per_trial": seconds * config.epochs_per_trial,
        "final_fit_seconds": final,
        "measured": True,
        "device": settings.device,
        "method": EST_METHOD,
    }


class _Job:
    """One run of a job in this process (from start or resume to its end)."""

    def __init__(self, ws: Workspace, job_id: str, progress: Callable[[dict[str, Any]], None] | None) -> None:
        self.ws = ws
        self.job_id = job_id
        self.state: JobState = read_state(ws, job_id)
        self.config = OptimizationConfig.from_dict(self.state.config)
        self.settings = settings_of(self.config)
        self.progress = progress
        self.tracker: Tracker = Tracker()
        self.t0 = time.monotonic()
        self.before = float(self.state.elapsed_seconds or 0.0)
        self.trial_t0 = self.t0
        self.results: JobResults | None = None

    @property
    def job_dir(self):
        return self.ws.hyperopt_job_dir(self.job_id)

    def elapsed(self) -> float:
        return self.before + time.monotonic() - self.t0

    def save(self) -> None:
        self.state.elapsed_seconds = self.elapsed()
        write_state(self.ws, self.state)

    def begin(self, *, resume: bool) -> None:
        s = self.state
        s.status, s.pid, s.device, s.error, s.stop_reason, s.torch_threads = JobStatus.RUNNING, os.getpid(), self.settings.device, None, None, self.config.num_threads
        s.started_at = s.started_at or utcnow()
        if resume:
            s.resumed_at = [*(s.resumed_at or []), utcnow()]
        self.save()
        self.tracker = make_tracker(self.config.use_mlflow, self.job_dir)
        parent = self.tracker.start_job(
            experiment=self.config.study_name, job_id=self.job_id, params=self.config.to_dict(),
            tags={"bistlab.data_fingerprint": str(s.data_fingerprint), "bistlab.version": str(s.bistlab_version), "bistlab.mode": self.config.mode},
            parent_run_id=(s.mlflow or {}).get("parent_run_id"),
        )
        if parent:
            s.mlflow = {"tracking_uri": tracking_uri(self.job_dir), "parent_run_id": parent, "experiment": self.config.study_name}
            self.save()

    def check_data(self, data: LstmData) -> None:
        s = self.state
        if s.data_fingerprint and s.data_fingerprint != data.fingerprint:
            s.data_changed = f"the data fingerprint changed from {s.data_fingerprint} to {data.fingerprint} since the job started"
            logger.warning("job %s: %s", self.job_id, s.data_changed)
        s.data_fingerprint = data.fingerprint
        s.data = {"symbols": data.describe(), "skipped": data.skipped, "features": data.feature_names}

    def load_results(self, data: LstmData) -> None:
        base = self.state.base_params or dict(DEFAULT_PARAMS)
        self.results = files.read_results(self.ws, self.job_id) or JobResults(
            job_id=self.job_id, mode=self.config.mode, study_name=self.config.study_name, config=self.config.to_dict(),
            base_params_source=self.state.base_params_source, base_params=base, best_params=dict(base),
        )
        self.results.data = {"fingerprint": data.fingerprint, "symbols": data.describe(), "skipped": data.skipped, "features": data.feature_names}

    def write_results(self) -> None:
        if self.results is None:
            return
        self.results.status = self.state.status
        self.results.device = self.settings.device
        files.write_results(self.ws, self.results)

    def on_event(self, event: dict[str, Any]) -> None:
        p = self.state.progress
        if event["event"] == "trial_start":
            self.trial_t0 = time.monotonic()
            p.at(event["group"], event["trial"])
        elif event["event"] == "epoch":
            p.current_epoch = event["epoch"]
        elif event["event"] == "trial_end":
            self._trial_end(event)
        self.save()
        if self.progress is not None:
            self.progress({k: v for k, v in event.items() if k != "study"})

    def _trial_end(self, event: dict[str, Any]) -> None:
        p, group, study = self.state.progress, event["group"], event["study"]
        self.state.trial_seconds = [*(self.state.trial_seconds or []), time.monotonic() - self.trial_t0]
        p.trials_done[group] = event["finished"]
        p.total_trials_done = int(p.total_trials_done or 0) + 1
        complete = [t.value for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.value is not None]
        if complete:
            p.best_values[group] = max(complete)
        self.state.time_estimate_refined = self._refined()

    def _refined(self) -> dict[str, Any]:
        durations = self.state.trial_seconds or []
        mean = float(np.mean(durations)) if durations else 0.0
        p = self.state.progress
        left = [g for g in self.config.groups() if g not in p.groups_completed]
        remaining = sum(max(0, self.config.max_trials_per_group - int(p.trials_done.get(g, 0))) for g in left)
        final = float((self.state.time_estimate or {}).get("final_fit_seconds") or 0.0)
        rest = remaining * mean + final
        return {
            "remaining_trials": remaining, "mean_trial_seconds": mean, "trials_measured": len(durations),
            "remaining_hours": rest / 3600.0, "elapsed_hours": self.elapsed() / 3600.0,
            "estimated_total_hours": (self.elapsed() + rest) / 3600.0, "updated_at": utcnow(),
        }

    def search(self, data: LstmData) -> None:
        """Run the mode's groups in order, skipping the completed ones."""
        ctx = SearchContext(
            data=data, config=self.config, job_dir=self.job_dir, settings=self.settings, tracker=self.tracker,
            stop_requested=lambda: self.ws.job(self.job_id).stop.exists(),
            budget_left=lambda: self.config.max_total_hours * 3600.0 - self.elapsed(), on_event=self.on_event,
        )
        r = self._results()
        for group in self.config.groups():
            if group in r.groups_completed:
                logger.info("job %s: group %s already completed; skipped", self.job_id, group)
                continue
            fixed = dict(r.best_params)
            r.fixed_params[group] = fixed
            self.state.progress.at(group)
            self.save()
            result = run_group(ctx, group, fixed)
            self._group_done(group, result)
            if result["stopped_reason"] == "time_budget":
                r.budget_exhausted = f"the time budget of {self.config.max_total_hours:g} h ran out in group {group}; later groups kept their current values"
                logger.warning("job %s: %s", self.job_id, r.budget_exhausted)
                break

    def _results(self) -> JobResults:
        if self.results is None:
            raise RuntimeError(f"job {self.job_id}: the results are read before the search (load_results)")
        return self.results

    def _group_done(self, group: str, result: dict[str, Any]) -> None:
        r, p = self._results(), self.state.progress
        r.group_results[group] = result
        r.best_params = {**r.best_params, **result["best_params"]}
        if result["best_value"] is not None:
            r.best_value = result["best_value"]
        r.groups_completed.append(group)
        p.groups_completed = list(r.groups_completed)
        p.best_values[group] = result["best_value"]
        self.state.time_estimate_refined = self._refined()
        self.write_results()
        self.save()

    def finish(self, data: LstmData) -> None:
        """Fit the final configuration on every development row and evaluate it once on the holdout."""
        r = self._results()
        last = r.last_result()
        epochs = int(round(np.mean(last["best_epochs"]))) + 1 if last else self.config.epochs_per_trial
        self.state.progress.at("final_fit")
        self.save()
        started = time.monotonic()
        holdout = fit_final(data, r.best_params, self.settings, seed=self.config.seed + 999_999, epochs=epochs)
        r.holdout = {**holdout, "params": dict(r.best_params), "fit_seconds": time.monotonic() - started}
        self.state.status, self.state.finished_at, self.state.stop_reason = JobStatus.COMPLETED, utcnow(), None
        self.state.progress.current_group = None
        self.state.time_estimate_refined = {**self._refined(), "remaining_trials": 0, "remaining_hours": 0.0, "estimated_total_hours": self.elapsed() / 3600.0}
        self.write_results()
        try:
            self.tracker.log_results(r)
        except Exception:  # tracking must never hide the job's own outcome
            logger.exception("job %s: MLflow could not record the job's results", self.job_id)

    def close(self) -> None:
        self.ws.job(self.job_id).stop.unlink(missing_ok=True)
        self.save()
        try:
            self.tracker.end_job(self.state.status)
        except Exception:  # tracking must never hide the job's own outcome
            logger.exception("job %s: MLflow could not close the job's run", self.job_id)
        try:
            render_job_report(self.ws, self.job_id)
        except Exception:
            logger.exception("job %s: the report could not be rendered", self.job_id)


def run_job(
    ws: Workspace,
    job_id: str,
    *,
    resume: bool,
    lock: JobLock | None = None,
    data: LstmData | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> JobState:
    """Run job ``job_id`` in this process until it completes, pauses or fails.

    Args:
        ws: the workspace.
        job_id: a job with a state.json.
        resume: continue after a pause or a crash (completed groups skipped).
        lock: the workspace's job lock, already held (by a caller or inherited by a worker);
            ``None`` takes it here.
        data: the job's data if already loaded.
        progress: called with progress events.

    Returns:
        The final state.json (:class:`~bistlab.core.job_records.JobState`).

    Raises:
        Exception: whatever made the job fail (it is recorded as failed first); a stop request
        is not an error (the job is paused).
    """
    own = lock is None
    lock = JobLock(ws).acquire() if own else lock
    lock.mark(job_id)
    job = _Job(ws, job_id, progress)
    try:
        job.begin(resume=resume)
        data = data or load_data(ws, job.config)
        job.check_data(data)
        job.load_results(data)
        job.search(data)
        job.finish(data)
    except StopRequested as err:
        job.state.status, job.state.stop_reason = JobStatus.PAUSED, str(err)
        job.write_results()
        logger.info("job %s paused: %s", job_id, err)
    except BaseException as err:
        job.state.status, job.state.error, job.state.finished_at = JobStatus.FAILED, f"{type(err).__name__}: {err}", utcnow()
        job.write_results()
        logger.error("job %s failed: %s", job_id, job.state.error)
        raise
    finally:
        job.close()
        if own:
            lock.release()
    return job.state
