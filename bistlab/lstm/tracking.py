"""Optional MLflow tracking of a hyperopt job (``use_mlflow``): one parent run per job, one nested
run per trial with its parameters and per-epoch metrics, the data fingerprint and bistlab's version
as tags.

The tracking store follows MLflow's convention: ``MLFLOW_TRACKING_URI`` when it is set (a
server, or a shared database), else a local, offline store per job:
``sqlite:///runs/hyperopt/<job_id>/mlflow.db`` with artifacts under ``runs/hyperopt/<job_id>/mlruns/``.
When the job ends, the parent run gets the holdout's figures (F1 with its interval, the DirHit of
the calls beside both baselines, the verdict) and every group's best value. ``mlflow-skinny`` is
imported only here and only when tracking is on (``pip install 'bistlab[mlflow]'``); its client
reads the runs (``MlflowClient(tracking_uri=...)``). The web UI is in the full package: ``pip
install mlflow``, then ``mlflow ui --backend-store-uri sqlite:///runs/hyperopt/<job_id>/mlflow.db``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from bistlab.core.job_records import JobResults
from bistlab.errors import ConfigError
from bistlab.core.workspace import JobPaths

__all__ = ["Tracker", "MlflowTracker", "make_tracker", "check_mlflow", "tracking_uri", "result_metrics"]

logger = logging.getLogger(__name__)


def tracking_uri(job_dir: Path) -> str:
    """The job's MLflow tracking URI: ``MLFLOW_TRACKING_URI`` when set, else a SQLite file in the job folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{JobPaths(Path(job_dir).resolve()).mlflow_db}"


def result_metrics(results: JobResults) -> tuple[dict[str, float], dict[str, str]]:
    """The parent run's metrics and tags from a finished job's results.json: each group's best
    value, the holdout F1 with its interval beside both F1 baselines, the DirHit of the calls with
    its interval beside both direction baselines, and the verdict."""
    metrics = {f"best_value.{g}": r["best_value"] for g, r in results.group_results.items() if r.get("best_value") is not None}
    h = results.holdout or {}
    f1 = h.get("f1_interval") or {}
    figs = h.get("figures") or {}
    metrics.update({f"holdout.{k}": h.get(k) for k in ("val_f1", "majority_f1", "random_f1", "val_precision", "val_accuracy")})
    metrics.update({"holdout.val_f1_low": f1.get("low"), "holdout.val_f1_high": f1.get("high")})
    for name, fig in figs.items():
        metrics.update({f"holdout.dirhit_{name}": fig.get("value"), f"holdout.dirhit_{name}_low": fig.get("low"), f"holdout.dirhit_{name}_high": fig.get("high")})
    verdict = h.get("verdict") or {}
    if verdict:
        metrics["holdout.usable"] = float(bool(verdict.get("usable")))
    tags = {"bistlab.verdict": ("usable" if verdict.get("usable") else "not usable")} if verdict else {}
    return {k: float(v) for k, v in metrics.items() if v is not None}, tags


class Tracker:
    """No tracking (the default): every method does nothing."""

    parent_run_id: str | None = None

    def start_job(self, *, experiment: str, job_id: str, tags: dict[str, str], params: dict[str, Any], parent_run_id: str | None = None) -> str | None:
        return None

    def start_trial(self, *, group: str, number: int, params: dict[str, Any]) -> None:
        return None

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        return None

    def end_trial(self, *, state: str, value: float | None = None, tags: dict[str, str] | None = None) -> None:
        return None

    def log_results(self, results: JobResults) -> None:
        return None

    def end_job(self, status: str) -> None:
        return None


class MlflowTracker(Tracker):
    """Tracking into the job's local MLflow store through :class:`mlflow.tracking.MlflowClient`."""

    def __init__(self, job_dir: Path) -> None:
        from mlflow.tracking import MlflowClient

        self.job_dir = Path(job_dir)
        self.client = MlflowClient(tracking_uri=tracking_uri(self.job_dir))
        self.experiment_id: str | None = None
        self.trial_run_id: str | None = None

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        local = not os.environ.get("MLFLOW_TRACKING_URI")  # a server keeps its own artifact store
        return self.client.create_experiment(name, artifact_location=JobPaths(self.job_dir).mlruns.resolve().as_uri() if local else None)

    def start_job(self, *, experiment: str, job_id: str, tags: dict[str, str], params: dict[str, Any], parent_run_id: str | None = None) -> str | None:
        """Open (or, on resume, reopen) the job's parent run; returns its id."""
        self.experiment_id = self._experiment(experiment)
        if parent_run_id:
            self.parent_run_id = parent_run_id
            self.client.update_run(parent_run_id, status="RUNNING")
            return parent_run_id
        run = self.client.create_run(self.experiment_id, run_name=f"job {job_id}", tags={**tags, "bistlab.job_id": job_id})
        self.parent_run_id = run.info.run_id
        for key, value in params.items():
            self.client.log_param(self.parent_run_id, key, str(value)[:500])
        return self.parent_run_id

    def start_trial(self, *, group: str, number: int, params: dict[str, Any]) -> None:
        tags = {"mlflow.parentRunId": str(self.parent_run_id), "bistlab.group": group, "bistlab.trial": str(number)}
        parent = self.client.get_run(str(self.parent_run_id))
        tags.update({k: v for k, v in parent.data.tags.items() if k.startswith("bistlab.") and k not in tags})
        run = self.client.create_run(str(self.experiment_id), run_name=f"{group} trial {number}", tags=tags)
        self.trial_run_id = run.info.run_id
        for key, value in params.items():
            self.client.log_param(self.trial_run_id, key, value)

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        if self.trial_run_id:
            for key, value in metrics.items():
                self.client.log_metric(self.trial_run_id, key, float(value), step=epoch)

    def end_trial(self, *, state: str, value: float | None = None, tags: dict[str, str] | None = None) -> None:
        if not self.trial_run_id:
            return
        for key, tag in (tags or {}).items():
            self.client.set_tag(self.trial_run_id, key, tag)
        self.client.set_tag(self.trial_run_id, "bistlab.trial_state", state)
        if value is not None:
            self.client.log_metric(self.trial_run_id, "objective_value", float(value))
        self.client.set_terminated(self.trial_run_id, status={"COMPLETE": "FINISHED", "PRUNED": "FINISHED"}.get(state, "KILLED" if state == "INTERRUPTED" else "FAILED"))
        self.trial_run_id = None

    def log_results(self, results: JobResults) -> None:
        """The finished job's figures and verdict on the parent run (:func:`result_metrics`)."""
        if not self.parent_run_id:
            return
        metrics, tags = result_metrics(results)
        for key, value in metrics.items():
            self.client.log_metric(self.parent_run_id, key, value)
        for key, tag in tags.items():
            self.client.set_tag(self.parent_run_id, key, tag)

    def end_job(self, status: str) -> None:
        if self.parent_run_id:
            self.client.set_tag(self.parent_run_id, "bistlab.job_status", status)
            self.client.set_terminated(self.parent_run_id, status={"completed": "FINISHED", "paused": "KILLED"}.get(status, "FAILED"))


def check_mlflow(use_mlflow: bool) -> None:
    """Fail early, before a job starts, when tracking is asked for and mlflow is not installed
    (touches no tracking store).

    Raises:
        ConfigError: ``use_mlflow`` is on and mlflow is not installed.
    """
    if not use_mlflow:
        return
    try:
        import mlflow  # noqa: F401
    except ImportError as err:
        raise ConfigError("use_mlflow", "false when mlflow is not installed (pip install 'bistlab[mlflow]')", True) from err


def make_tracker(use_mlflow: bool, job_dir: Path) -> Tracker:
    """The job's tracker: MLflow when ``use_mlflow``, else the no-op :class:`Tracker`.

    Raises:
        ConfigError: ``use_mlflow`` is on and mlflow is not installed.
    """
    check_mlflow(use_mlflow)
    return MlflowTracker(job_dir) if use_mlflow else Tracker()
