"""Optional MLflow tracking of a hyperopt job (``use_mlflow``): one parent run per job, one nested
run per trial with its parameters and per-epoch metrics, the data fingerprint and bistlab's version
as tags.

The tracking store is local and offline: ``sqlite:///runs/hyperopt/<job_id>/mlflow.db`` with
artifacts under ``runs/hyperopt/<job_id>/mlruns/`` (MLflow 3 keeps its file store for reading old
runs only). ``mlflow`` (or ``mlflow-skinny``) is imported only here and only when tracking is on:
``pip install 'bistlab[mlflow]'``. Read the runs with ``MlflowClient(tracking_uri=...)`` or
``mlflow ui --backend-store-uri sqlite:///.../mlflow.db``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bistlab.errors import ConfigError
from bistlab.workspace import JobPaths

__all__ = ["Tracker", "MlflowTracker", "make_tracker", "tracking_uri"]

logger = logging.getLogger(__name__)


def tracking_uri(job_dir: Path) -> str:
    """The job's MLflow tracking URI (a SQLite file in the job folder)."""
    return f"sqlite:///{JobPaths(Path(job_dir).resolve()).mlflow_db}"


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
        return self.client.create_experiment(name, artifact_location=JobPaths(self.job_dir).mlruns.resolve().as_uri())

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

    def end_job(self, status: str) -> None:
        if self.parent_run_id:
            self.client.set_tag(self.parent_run_id, "bistlab.job_status", status)
            self.client.set_terminated(self.parent_run_id, status={"completed": "FINISHED", "paused": "KILLED"}.get(status, "FAILED"))


def make_tracker(use_mlflow: bool, job_dir: Path) -> Tracker:
    """The job's tracker: MLflow when ``use_mlflow``, else the no-op :class:`Tracker`.

    Raises:
        ConfigError: ``use_mlflow`` is on and mlflow is not installed.
    """
    if not use_mlflow:
        return Tracker()
    try:
        import mlflow  # noqa: F401
    except ImportError as err:
        raise ConfigError("use_mlflow", "false when mlflow is not installed (pip install 'bistlab[mlflow]')", True) from err
    return MlflowTracker(job_dir)
