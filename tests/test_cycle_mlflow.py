"""MLflow tracking of cycles (CycleConfig.use_mlflow): a run per cycle, a nested run per task with its
holdout figures and verdict, the report as an artifact; MLFLOW_TRACKING_URI honoured; nothing when off;
no duplicate when a cycle is tracked again; a tracking failure never fails the cycle."""

from __future__ import annotations

import logging
import sys

import pytest

from bistlab.config import CycleConfig
from bistlab.runs.cycle import check_runnable, open_cycle, run_cycle
from bistlab.runs.cycle_tracking import EXPERIMENT, track_cycle, tracking_uri
from bistlab.errors import ConfigError
from bistlab.evaluation.looks import control_cycle
from bistlab.core.state import StateFile
from bistlab.core.records import BestParams, Evaluation
from tests.conftest import market_workspace

pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


def _runs(uri: str, ws) -> list:
    """Every active run of ``ws`` in the cycles' experiment of the store at ``uri``."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    return [r for r in client.search_runs([experiment.experiment_id]) if r.data.tags.get("bistlab.core.workspace") == str(ws.root.resolve())]


def _split(runs: list) -> tuple[list, dict]:
    parents = [r for r in runs if r.data.tags.get("bistlab.kind") == "cycle"]
    children = {r.data.tags["bistlab.task"]: r for r in runs if r.data.tags.get("bistlab.kind") == "task"}
    return parents, children


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A real tiny cycle with tracking on: AAA (evaluated) and SHORT (skipped), horizon 1."""
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = market_workspace(tmp_path_factory.mktemp("mlflow_cycle"), {"AAA": 600, "SHORT": 90})
    result = run_cycle(ws, CycleConfig(horizons=(1,), n_trials=2, models=("lgbm",), symbols=("AAA", "SHORT"), use_mlflow=True))
    yield ws, result
    mp.undo()


def test_a_cycle_with_mlflow_records_a_run_per_cycle_and_per_task_with_the_verdict(tracked):
    ws, result = tracked
    assert ws.mlflow_db.exists() and tracking_uri(ws) == f"sqlite:///{ws.mlflow_db.resolve()}"
    parents, children = _split(_runs(tracking_uri(ws), ws))
    assert len(parents) == 1 and set(children) == {"AAA_1d", "SHORT_1d"}
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "cycle 1"
    assert parent.data.tags["bistlab.runs.cycle"] == "1" and parent.data.tags["bistlab.version"] and parent.data.tags["bistlab.data_fingerprint"]
    assert parent.data.params["n_trials"] == "2" and parent.data.params["use_mlflow"] == "True" and parent.data.params["symbols"] == "AAA,SHORT"
    ev = ws.task(1, "AAA_1d").read(Evaluation)
    control, _ = control_cycle(ws, 1, {"AAA_1d": ev})  # the report's control (idempotent)
    m = parent.data.metrics
    assert (m["tasks"], m["tasks_completed"], m["tasks_skipped"], m["tasks_evaluated"]) == (2, 1, 1, 1)
    assert m["usable_after_control"] == control.n_kept and m["passing_alone"] == control.n_pass_individual
    assert m["expected_by_chance"] == pytest.approx(control.expected_chance_individual) and m["wall_seconds"] >= 0
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children.values())
    aaa = children["AAA_1d"]
    assert aaa.data.params["symbol"] == "AAA" and aaa.data.params["horizon"] == "1" and aaa.data.params["model_choice"] == "lgbm"
    best = ws.task(1, "AAA_1d").read(BestParams)
    assert aaa.data.params["selected_trial"] == str(best.best_trial_number) and aaa.data.params["trial.model_choice"] == "lgbm"
    assert aaa.data.params["features_enabled"] == (",".join(sorted(k for k, on in best.features_enabled.items() if on)) or "none")
    am = aaa.data.metrics
    assert am["holdout.dirhit"] == pytest.approx(ev.holdout.dirhit) and am["holdout.n"] == ev.holdout.mask_count
    assert am["holdout.dirhit_low"] <= am["holdout.dirhit"] <= am["holdout.dirhit_high"] and am["holdout.n_eff"] > 0
    assert am["holdout.persistence_dirhit"] == pytest.approx(ev.holdout.persistence_dirhit) and "holdout.majority_dirhit" in am
    assert {"holdout.edge", "holdout.p_value", "hpo.dirhit", "holdout.nrmse"} <= set(am)
    assert am["usable"] == float(control.kept["AAA_1d"]) and am["passes_rule"] == float(ev.rule_verdict()["passes_rule"])
    assert aaa.data.tags["bistlab.verdict"] == ("usable" if control.kept["AAA_1d"] else "not usable")
    short = children["SHORT_1d"]
    assert short.data.tags["bistlab.verdict"] == "not evaluated" and short.data.tags["bistlab.status"] == "skipped"
    assert "insufficient data" in short.data.tags["bistlab.error"] and "usable" not in short.data.metrics
    artifacts = MlflowClient(tracking_uri=tracking_uri(ws)).list_artifacts(parent.info.run_id, "report")
    assert [a.path for a in artifacts] == ["report/cycle_1.html"] and result.report == ws.report_file(1)


def test_tracking_a_cycle_again_creates_no_duplicate(tracked, monkeypatch):
    ws, _ = tracked
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking_uri(ws)
    parents, children = _split(_runs(uri, ws))
    first = parents[0].info.run_id
    assert track_cycle(ws, 1) == first
    parents, again = _split(_runs(uri, ws))
    assert [p.info.run_id for p in parents] == [first] and {k: r.info.run_id for k, r in again.items()} == {k: r.info.run_id for k, r in children.items()}
    # a stale copy (other parameters) and an orphan task run: removed, the cycle's runs kept
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    tags = {"bistlab.runs.cycle": "1", "bistlab.core.workspace": str(ws.root.resolve())}
    stale = client.create_run(experiment, tags={**tags, "bistlab.kind": "cycle"}, run_name="cycle 1").info.run_id
    client.log_param(stale, "n_trials", "99")
    client.create_run(experiment, tags={**tags, "bistlab.kind": "task", "bistlab.task": "AAA_1d", "mlflow.parentRunId": stale})
    assert track_cycle(ws, 1) == first
    parents, again = _split(_runs(uri, ws))
    assert [p.info.run_id for p in parents] == [first] and len(_runs(uri, ws)) == 3
    assert client.get_run(stale).info.lifecycle_stage == "deleted"


@pytest.fixture
def short_ws(tmp_path):
    """A workspace whose one symbol is too short: its task is skipped at once, so a cycle ends in seconds."""
    return market_workspace(tmp_path / "ws", {"SHORT": 90})


SHORT = dict(horizons=(1,), n_trials=1, models=("lgbm",), symbols=("SHORT",))


def test_mlflow_follows_the_tracking_uri_of_the_environment(short_ws, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # a store without an artifact root of its own puts artifacts under ./mlruns
    run_cycle(short_ws, CycleConfig(**SHORT, use_mlflow=True), report=False)
    assert tracking_uri(short_ws) == uri and not short_ws.mlflow_db.exists()
    parents, children = _split(_runs(uri, short_ws))
    assert len(parents) == 1 and parents[0].info.status == "FINISHED" and list(children) == ["SHORT_1d"]
    assert children["SHORT_1d"].data.tags["mlflow.parentRunId"] == parents[0].info.run_id


def test_no_run_when_tracking_is_off(short_ws, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run_cycle(short_ws, CycleConfig(**SHORT), report=False)
    assert not short_ws.mlflow_db.exists() and not (tmp_path / "shared.db").exists()
    assert StateFile(short_ws.state_file).read().config["use_mlflow"] is False


def test_a_tracking_failure_never_fails_the_cycle(short_ws, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unknown-scheme://nowhere")
    with caplog.at_level(logging.ERROR, logger="bistlab.runs.cycle_tracking"):
        result = run_cycle(short_ws, CycleConfig(**SHORT, use_mlflow=True), report=False)
    assert result.tasks["SHORT_1d"].status == "skipped" and StateFile(short_ws.state_file).read().cycle_ended()
    assert "MLflow tracking failed" in caplog.text


def test_cycle_resume_keeps_tracking_on(short_ws, monkeypatch):
    from typer.testing import CliRunner

    from bistlab.cli.main import app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    open_cycle(StateFile(short_ws.state_file), [("SHORT", 1)], config=CycleConfig(**SHORT, use_mlflow=True).to_dict())  # a cycle stopped before it ran
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["--workspace", str(short_ws.root), "cycle", "resume"])
    assert result.exit_code == 0, result.output
    parents, children = _split(_runs(tracking_uri(short_ws), short_ws))
    assert len(parents) == 1 and list(children) == ["SHORT_1d"] and parents[0].data.params["use_mlflow"] == "True"


def test_tracking_needs_mlflow_and_a_boolean(short_ws, monkeypatch):
    with pytest.raises(ConfigError, match="use_mlflow"):
        CycleConfig(**SHORT, use_mlflow="yes")  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(ConfigError, match="mlflow"):
        check_runnable(short_ws, CycleConfig(**SHORT, use_mlflow=True))
    check_runnable(short_ws, CycleConfig(**SHORT))  # off: mlflow is not needed
