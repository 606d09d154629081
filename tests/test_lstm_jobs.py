"""LSTM hyperopt jobs end to end on CPU: the job files, a study per group, the report, repeatability,
the mode-collapse guard, one job per workspace, a killed worker, and the CLI's errors."""

from __future__ import annotations


import numpy as np
import optuna
import pandas as pd
import pytest

from bistlab.core.workspace import Workspace
from bistlab.errors import JobConflictError, JobNotFoundError, JobStateError
from bistlab.core.jsonio import read_json
from bistlab.lstm.config import OptimizationConfig
from bistlab.lstm.jobs import job_results, job_status, list_jobs, resume_job, start_job, stop_job, wait_for
from bistlab.lstm.metrics import LSTM_RULE, verdict_text
from bistlab.data.store import PriceStore
from tests.conftest import market_workspace

TINY = dict(symbols=("AAA",), epochs_per_trial=2, max_trials_per_group=3, n_startup_trials=2, n_warmup_steps=1, num_threads=1, hidden_size=8, sequence_length=10)


@pytest.fixture(scope="module")
def quick_job(tmp_path_factory):
    ws = market_workspace(tmp_path_factory.mktemp("lstm_quick"), {"AAA": 700})
    response = start_job(ws, OptimizationConfig(mode="quick", **TINY), detach=False)
    return ws, response


def test_quick_job_writes_the_specifications_files(quick_job):
    ws, response = quick_job
    folder = ws.hyperopt_job_dir(response.job_id)
    state = read_json(folder / "state.json")
    results = read_json(folder / "results.json")
    best = read_json(folder / "best_params.json")
    assert response.status == "completed" and state["status"] == "completed"
    for key in ("job_id", "status", "config", "progress", "time_estimate", "time_estimate_refined", "device", "pid", "error"):
        assert key in state, key
    assert state["config"]["mode"] == "quick" and state["device"] == "cpu"
    assert {"current_group", "current_trial", "groups_completed"} <= set(state["progress"])
    assert state["progress"]["groups_completed"] == ["learning_rate"]
    assert state["time_estimate"]["measured"] is True and state["time_estimate"]["seconds_per_epoch"] > 0
    assert state["time_estimate"]["total_trials"] == 3
    for key in ("best_params", "group_results", "fixed_params", "best_value", "holdout"):
        assert key in results, key
    assert results["best_value"] == results["group_results"]["learning_rate"]["best_value"]
    assert set(best) == set(results["best_params"]) and best["learning_rate"] == results["group_results"]["learning_rate"]["best_params"]["learning_rate"]
    assert "learning_rate" not in results["fixed_params"]["learning_rate"] or results["fixed_params"]["learning_rate"]["learning_rate"] == 1e-3


def test_quick_job_ran_one_study_with_finished_trials(quick_job):
    ws, response = quick_job
    path = ws.job(response.job_id).study("ml_hyperopt", "learning_rate")
    assert path.exists() and sorted(p.name for p in path.parent.glob("*.db")) == ["ml_hyperopt_learning_rate.db"]
    study = optuna.load_study(study_name="ml_hyperopt_learning_rate", storage=f"sqlite:///{path}")
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 3
    first = study.trials[0]
    assert first.user_attrs.get("incumbent") and first.params["learning_rate"] == pytest.approx(1e-3)
    for t in study.trials:
        if t.state.name == "COMPLETE":
            a = t.user_attrs
            assert {"raw_value", "penalized_value", "mode_collapse", "mode_collapse_reason", "mode_collapse_warnings", "epoch_values"} <= set(a)
            assert t.value == pytest.approx(a["penalized_value"])
            assert a["call_dirhit"]["count"] >= a["call_dirhit"]["hits"] >= 0
            assert 0 <= a["majority_f1_mean"] <= 1 and 0 <= a["random_f1_mean"] <= 1


def test_quick_job_evaluates_the_holdout_and_writes_the_report(quick_job):
    ws, response = quick_job
    results = job_results(ws, response.job_id)
    h = results["holdout"]
    assert h["holdout_rows"] > 0 and 0 <= h["val_f1"] <= 1
    assert {"majority_f1", "random_f1", "call_dirhit", "pred_dist"} <= set(h)
    report = ws.hyperopt_report(response.job_id)
    assert results["report"] == str(report) and report.exists()
    html = report.read_text()
    for text in ("learning_rate", "Holdout evaluation", "majority-class F1", "class-frequency random F1", "95 % CI", "Mode-collapse events", "time estimate"):
        assert text in html, text
    assert 'id="verdict"' in html and "Direction on the holdout" in html and "moving-block bootstrap over dates" in html


def test_a_job_ends_with_the_verdict_on_the_holdout_call_dirhit_beside_both_baselines(quick_job):
    ws, response = quick_job
    h = job_results(ws, response.job_id)["holdout"]
    v, m = h["verdict"], h["metrics"]
    assert isinstance(v["usable"], bool) and v["rule"] == LSTM_RULE
    assert v["usable"] == (v["dirhit_lower_95"] is not None and v["dirhit_lower_95"] > 50 and v["beats_baseline"])
    assert m["mask_count"] <= h["call_dirhit"]["count"] and m["dirhit_n_eff"] <= m["mask_count"]
    f1 = h["f1_interval"]
    assert f1["value"] == pytest.approx(h["val_f1"]) and f1["low"] <= f1["value"] <= f1["high"]
    words = verdict_text(h)
    assert words.startswith("usable" if v["usable"] else "not usable")
    if not m["mask_count"]:  # this tiny model made no call on a move above the threshold
        assert not v["usable"] and "(n=0)" in words
        return
    for name in ("model", "persistence", "majority"):
        fig = h["figures"][name]
        assert fig["low"] <= fig["value"] <= fig["high"], name
    assert h["figures"]["model"]["count"] == m["mask_count"]  # the baselines on the same rows
    assert h["figures"]["majority"]["count"] == m["mask_count"] and h["figures"]["persistence"]["count"] <= m["mask_count"]
    assert h["edge"]["baseline"] == v["best_baseline"] and h["edge"]["low"] <= h["edge"]["value"] <= h["edge"]["high"]
    assert "same rows" in words
    assert html.count("Plotly.newPlot") >= 2 and "src=\"http" not in html


def test_status_list_and_errors_of_a_finished_job(quick_job):
    ws, response = quick_job
    assert job_status(ws)["job_id"] == response.job_id
    assert [j["job_id"] for j in list_jobs(ws)] == [response.job_id]
    with pytest.raises(JobNotFoundError, match="`job_id` must be"):
        job_status(ws, "19990101_000000")
    with pytest.raises(JobStateError, match="completed"):
        resume_job(ws, response.job_id)
    stopped = stop_job(ws, response.job_id)
    assert not stopped.success and stopped.status == "completed"


def _trial_values(ws: Workspace, job_id: str) -> list[tuple]:
    path = ws.job(job_id).study("ml_hyperopt", "learning_rate")
    study = optuna.load_study(study_name="ml_hyperopt_learning_rate", storage=f"sqlite:///{path}")
    return [(t.number, t.state.name, t.value, tuple(sorted(t.params.items())), tuple(t.user_attrs.get("epoch_values", []))) for t in study.trials]


def test_two_quick_runs_with_the_same_seed_give_identical_trial_values(quick_job, tmp_path):
    ws, response = quick_job
    other = market_workspace(tmp_path / "again", {"AAA": 700})
    again = start_job(other, OptimizationConfig(mode="quick", **TINY), detach=False)
    assert _trial_values(ws, response.job_id) == _trial_values(other, again.job_id)
    assert read_json(ws.hyperopt_job_dir(response.job_id) / "best_params.json") == read_json(other.hyperopt_job_dir(again.job_id) / "best_params.json")


def _flat_market(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, n)))
    index = pd.bdate_range("2015-01-02", periods=n, name="date").as_unit("ns")
    return pd.DataFrame({"open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": rng.integers(1000, 9000, n).astype(float)}, index=index)


def test_an_all_hold_data_set_collapses_and_is_penalized(tmp_path):
    ws = Workspace(root=tmp_path / "flat").ensure()
    store = PriceStore(ws.price_url)
    store.write("FLAT", _flat_market(500))
    store.close()
    cfg = OptimizationConfig(mode="quick", **{**TINY, "symbols": ("FLAT",), "max_trials_per_group": 1})
    response = start_job(ws, cfg, detach=False)
    path = ws.job(response.job_id).study("ml_hyperopt", "learning_rate")
    trial = optuna.load_study(study_name="ml_hyperopt_learning_rate", storage=f"sqlite:///{path}").trials[0]
    a = trial.user_attrs
    assert a["low_precision_penalty"] is True and a["penalty_reason"].startswith("low precision") and "< 0.35" in a["penalty_reason"]
    assert a["mode_collapse"] is True and "more than 90 %" in a["mode_collapse_reason"]  # every epoch predicts HOLD
    assert a["penalized_value"] == pytest.approx(0.5 * a["raw_value"]) and trial.value == pytest.approx(a["penalized_value"])
    assert a["mode_collapse_warnings"] and all(w["class"] == "HOLD" and w["share"] > 0.9 for w in a["mode_collapse_warnings"])
    assert "Mode collapse" in ws.hyperopt_report(response.job_id).read_text()


@pytest.fixture
def small_ws(workspace):
    return workspace


def test_a_second_start_while_a_job_runs_is_refused_and_a_killed_worker_is_reported(small_ws, monkeypatch):
    ws = small_ws
    cfg = OptimizationConfig(mode="quick", **{**TINY, "epochs_per_trial": 3, "max_trials_per_group": 50})
    monkeypatch.setenv("BISTLAB_FAULT", "lstm_epoch:12")  # the worker kills itself (SIGKILL) at its 12th epoch boundary
    first = start_job(ws, cfg, detach=True)
    monkeypatch.delenv("BISTLAB_FAULT")
    with pytest.raises(JobConflictError, match="another hyperopt job"):
        start_job(ws, cfg, detach=True)
    status = wait_for(ws, first.job_id, statuses=("failed", "completed", "paused"), timeout=120)
    assert status["status"] == "failed" and status["recorded_status"] == "running"
    assert f"worker process {status['pid']} is gone" in status["error"] and status["resumable"] is True
    second = start_job(ws, OptimizationConfig(mode="quick", **TINY), detach=False)  # the lock died with the worker
    assert second.status == "completed"


def test_cli_errors_are_one_red_line(workspace):
    from typer.testing import CliRunner

    from bistlab.cli.main import app

    runner = CliRunner()
    out = runner.invoke(app, ["--workspace", str(workspace.root), "hyperopt", "start", "--mode", "group"])
    assert out.exit_code == 1 and "`target_group` must be one of" in out.output and "Traceback" not in out.output
    out = runner.invoke(app, ["--workspace", str(workspace.root), "hyperopt", "status"])
    assert out.exit_code == 1 and "no hyperopt job" in out.output
    out = runner.invoke(app, ["--workspace", str(workspace.root), "hyperopt", "start", "--mode", "quick", "--symbols", "ZZZ"])
    assert out.exit_code == 1 and "ZZZ" in out.output


def test_the_penalty_names_low_precision_and_collapse_needs_a_one_class_epoch():
    from bistlab.lstm.optimizer import apply_penalty

    value, penalized, reason = apply_penalty(0.30, 0.31)
    assert penalized and value == pytest.approx(0.15) and reason.startswith("low precision") and "collapse" not in reason
    assert apply_penalty(0.40, 0.36) == (0.40, False, None)


def test_the_quick_job_measures_the_incumbents_seed_spread(quick_job):
    ws, response = quick_job
    g = job_results(ws, response.job_id)["group_results"]["learning_rate"]
    spread = g["seed_spread"]
    assert spread["measured"] and len(spread["values"]) == 3 and len(set(spread["seeds"])) == 3
    assert spread["spread"] == pytest.approx(max(spread["values"]) - min(spread["values"]))
    assert g["convergence_threshold"] == 0.005 and g["selection"]
    if g["best_trial_number"] != g["search_best_trial"]:  # the search's best was within the noise: the incumbent was kept
        assert g["improvement"] <= spread["spread"] and "kept the incumbent" in g["selection"]


def _group_study(values: list[float]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    dist = {"learning_rate": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    for i, v in enumerate(values):
        params = {"learning_rate": 1e-3 * (i + 1)}
        attrs = {"params": {**params, "batch_size": 64}, "seed": i, **({"incumbent": True} if i == 0 else {})}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dist, value=v, user_attrs=attrs))
    return study


@pytest.mark.parametrize(("values", "spread", "kept"), [([0.30, 0.31, 0.305], 0.02, 0), ([0.30, 0.35, 0.31], 0.02, 1), ([0.36, 0.35, 0.31], 0.02, 0)])
def test_a_group_keeps_its_incumbent_when_the_best_is_within_the_seed_spread(values, spread, kept):
    from bistlab.lstm.optimizer import group_result

    study = _group_study(values)
    out = group_result(study, "learning_rate", {"learning_rate": 1e-3, "batch_size": 64}, reason="max_trials",
                       spread={"measured": True, "spread": spread, "values": [values[0]]}, threshold=0.005)
    assert out["best_trial_number"] == kept and out["best_params"]["learning_rate"] == pytest.approx(1e-3 * (kept + 1))
    assert out["search_best_trial"] == int(np.argmax(values)) and out["improvement"] == pytest.approx(max(values) - values[0])
    assert ("kept the incumbent" in out["selection"]) == (kept == 0 and out["search_best_trial"] != 0)
    assert "convergence threshold 0.005 is below it" in out["selection"] or out["search_best_trial"] == 0


@pytest.mark.slow
def test_the_time_budget_holds_within_a_trial(tmp_path):
    ws = market_workspace(tmp_path / "budget", {"AAA": 700})
    cfg = OptimizationConfig(mode="quick", **{**TINY, "epochs_per_trial": 500, "max_total_hours": 2e-3, "n_warmup_steps": 100, "early_stopping_patience": 100, "seed_repeats": 0})
    response = start_job(ws, cfg, detach=False)
    path = ws.job(response.job_id).study("ml_hyperopt", "learning_rate")
    trials = optuna.load_study(study_name="ml_hyperopt_learning_rate", storage=f"sqlite:///{path}").trials
    first = trials[0]
    assert first.state.name == "PRUNED" and "time budget" in first.user_attrs["pruned_reason"]
    assert len(first.user_attrs["epoch_values"]) < 500 and len(trials) == 1
    assert job_results(ws, response.job_id)["group_results"]["learning_rate"]["stopped_reason"] == "time_budget"


@pytest.mark.parametrize(("epochs", "high"), [(1, 1), (2, 1), (4, 3), (30, 10)])
def test_the_schedulers_first_period_fits_in_a_trial(epochs, high):
    from bistlab.lstm.groups import suggest_group

    seen = set()
    for seed in range(40):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        seen.add(suggest_group(trial, "scheduler", {}, epochs=epochs)["scheduler_T_0"])
    assert max(seen) == high and min(seen) == 1
