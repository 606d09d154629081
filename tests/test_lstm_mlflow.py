"""MLflow tracking of a hyperopt job (use_mlflow on): a parent run, a nested run per trial with per-epoch metrics."""

from __future__ import annotations

import pytest

from bistlab.lstm.config import OptimizationConfig
from bistlab.lstm.jobs import job_results, job_status, start_job
from bistlab.lstm.tracking import tracking_uri

pytestmark = pytest.mark.slow


def test_a_job_with_mlflow_records_parent_and_nested_runs(workspace):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    cfg = OptimizationConfig(mode="quick", symbols=("AAA",), epochs_per_trial=2, max_trials_per_group=2, n_warmup_steps=5,
                             num_threads=1, hidden_size=8, sequence_length=10, use_mlflow=True)
    job = start_job(workspace, cfg, detach=False)
    state = job_status(workspace, job.job_id)
    client = MlflowClient(tracking_uri=tracking_uri(workspace.hyperopt_job_dir(job.job_id)))
    assert state["mlflow"]["tracking_uri"] == tracking_uri(workspace.hyperopt_job_dir(job.job_id))
    parent = client.get_run(state["mlflow"]["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["bistlab.data_fingerprint"] == state["data_fingerprint"]
    assert parent.data.tags["bistlab.version"] == state["bistlab_version"]
    assert parent.data.params["mode"] == "quick"
    children = client.search_runs([parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 2
    for child in children:
        history = client.get_metric_history(child.info.run_id, "val_f1")
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == [0, 1]
        assert child.data.tags["bistlab.group"] == "learning_rate"
        assert child.data.tags["bistlab.data_fingerprint"] == state["data_fingerprint"]
        assert "learning_rate" in child.data.params and "objective_value" in child.data.metrics
    assert mlflow.__version__
    # the finished job's figures and verdict on the parent run; no store outside the job's folder
    h = job_results(workspace, job.job_id)["holdout"]
    assert parent.data.metrics["holdout.val_f1"] == pytest.approx(h["val_f1"])
    assert parent.data.metrics["holdout.usable"] == float(h["verdict"]["usable"]) and parent.data.tags["bistlab.verdict"] in ("usable", "not usable")
    assert parent.data.metrics["best_value.learning_rate"] == pytest.approx(job_results(workspace, job.job_id)["group_results"]["learning_rate"]["best_value"])
    assert not (workspace.hyperopt_dir / "mlflow.db").exists()


def test_mlflow_follows_the_tracking_uri_of_the_environment(workspace, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg = OptimizationConfig(mode="quick", symbols=("AAA",), epochs_per_trial=1, max_trials_per_group=1, n_warmup_steps=5,
                             num_threads=1, hidden_size=8, sequence_length=10, use_mlflow=True, seed_repeats=0)
    job = start_job(workspace, cfg, detach=False)
    state = job_status(workspace, job.job_id)
    assert state["mlflow"]["tracking_uri"] == uri and not workspace.job(job.job_id).mlflow_db.exists()
    assert MlflowClient(tracking_uri=uri).get_run(state["mlflow"]["parent_run_id"]).info.status == "FINISHED"
