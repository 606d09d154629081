"""Universe tasks end to end (DESIGN.md "Universe models"): a cycle with ``UNIVERSE_<h>d`` beside
the per-symbol tasks, its evaluation, forecasts, ledger and forward scoring, planning, and a
killed universe task resumed."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from bistlab.config import CycleConfig
from bistlab.runs.cycle import check_runnable, open_cycle, run_cycle
from bistlab.search.hpo import finished_trials
from bistlab.evaluation.ledger import ForecastLedger, load_forward
from bistlab.runs.pipeline import evaluate_step, hpo_step, train_step
from bistlab.runs.predict import predict_cycle
from bistlab.core.state import StateFile
from bistlab.search.storage import make_storage
from bistlab.data.store import PriceStore
from bistlab.data.stores import StoredSymbols
from bistlab.core.workspace import Workspace
from bistlab.core.names import study_name
from bistlab.core.records import Evaluation
from tests.conftest import _market, market_workspace

END = "2023-06-30"
INTERVALS = (
    ("dirhit", "dirhit_lo", "dirhit_hi"),
    ("all_dirhit", "all_dirhit_lo", "all_dirhit_hi"),
    ("persistence_dirhit", "persistence_lo", "persistence_hi"),
    ("majority_dirhit", "majority_lo", "majority_hi"),
    ("edge", "edge_lo", "edge_hi"),
    ("ic_mean", "ic_lo", "ic_hi"),
    ("spread_mean", "spread_lo", "spread_hi"),
    ("spread_net", "spread_net_lo", "spread_net_hi"),
)


def _listed(n: int, seed: int) -> pd.DataFrame:
    """A synthetic series of ``n`` sessions ending on END: shorter ones were listed later."""
    frame = _market(n, seed=seed)
    frame.index = pd.bdate_range(end=END, periods=n, name="date").as_unit("ns")
    return frame


def _universe_workspace(root: Path, rows: dict[str, int]) -> Workspace:
    ws = market_workspace(root, {})
    store = PriceStore(ws.price_url)
    for i, (symbol, n) in enumerate(rows.items()):
        store.write(symbol, _listed(n, seed=i + 1))
    store.close()
    return ws


def _copy(ws: Workspace, root: Path) -> Workspace:
    shutil.copytree(ws.root, root)
    return Workspace(root=root)


TWELVE = {f"S{i:02d}": 400 + 18 * i for i in range(12)}  # 400 .. 598 rows, listed on different days


@pytest.fixture(scope="module")
def universe_cycle(tmp_path_factory):
    ws = _universe_workspace(tmp_path_factory.mktemp("universe") / "ws", TWELVE)
    config = CycleConfig(horizons=(1,), n_trials=2, n_jobs=1, models=("lgbm",), symbols=("S00",), universe=True)
    result = run_cycle(ws, config)
    return ws, result


@pytest.mark.slow
def test_a_universe_cycle_completes_the_universe_task_and_the_per_symbol_ones(universe_cycle):
    ws, result = universe_cycle
    assert {k: t.status for k, t in result.tasks.items()} == {"UNIVERSE_1d": "completed", "S00_1d": "completed"}
    state = StateFile(ws.state_file).read()
    assert state.cycle == 1 and state.cycle_ended()
    for name in ("best_params.json", "model.pkl", "evaluation.json", "hpo.ipynb", "train.ipynb", "evaluate.ipynb"):
        assert (ws.task_dir(1, "UNIVERSE_1d") / name).exists(), name
    assert result.report is not None and result.report.exists()
    spec = json.loads((ws.task_dir(1, "UNIVERSE_1d") / "best_params.json").read_text())["evaluation_spec"]
    assert spec["panel"]["target"] == "excess" and sorted(spec["panel"]["members"]) == sorted(TWELVE)


@pytest.mark.slow
def test_the_universe_evaluation_is_on_the_excess_target_with_intervals_around_its_figures(universe_cycle):
    ws, _ = universe_cycle
    ev = ws.task(1, "UNIVERSE_1d").read(Evaluation)
    assert ev.target == "excess" and ev.is_universe
    assert ev.universe["members"] == 12 and ev.universe["excluded"] == {}
    metrics = ev.universe["metrics"]
    assert metrics["mask_count"] > 0 and metrics["dirhit"] is not None and metrics["ic_mean"] is not None
    for figure, lo, hi in INTERVALS:
        if metrics[figure] is not None:
            assert metrics[lo] <= metrics[figure] <= metrics[hi], (figure, metrics[lo], metrics[figure], metrics[hi])
    assert set(ev.universe["per_symbol"]) == set(TWELVE)
    assert set(ev.holdout_predictions["symbols"]) == set(TWELVE)
    per_symbol = ws.task(1, "S00_1d").read(Evaluation)
    assert per_symbol.target == "raw" and not per_symbol.is_universe


@pytest.mark.slow
def test_universe_forecasts_are_one_row_per_member_in_their_own_ledger(universe_cycle):
    ws, _ = universe_cycle
    frame = predict_cycle(ws)
    universe = frame[frame["task"] == "UNIVERSE_1d"]
    assert sorted(universe["symbol"]) == sorted(TWELVE)
    assert np.isfinite(universe["expected_log_return"].astype(float)).all()
    assert (universe["target"] == "excess").all() and (universe["as_of"] == END).all()
    assert set(universe["direction"]) <= {"up", "down", "flat"}
    own = frame[frame["task"] != "UNIVERSE_1d"]
    assert own["task"].tolist() == ["S00_1d"] and np.isfinite(own["expected_log_return"].astype(float)).all()
    pooled = ForecastLedger.of(ws, universe=True).read()
    assert sorted(pooled["symbol"]) == sorted(TWELVE) and (pooled["target"] == "excess").all()
    assert (pooled["horizon"] == 1).all() and (pooled["as_of"] == pd.Timestamp(END)).all()
    by_symbol = dict(zip(universe["symbol"], universe["expected_log_return"].astype(float)))
    assert all(math.isclose(by_symbol[s], v) for s, v in zip(pooled["symbol"], pooled["expected_log_return"]))
    single = ForecastLedger.of(ws).read()
    assert single["symbol"].tolist() == ["S00"]  # the universe model's forecasts stay out of it
    assert predict_cycle(ws)["task"].tolist() == frame["task"].tolist()
    assert len(ForecastLedger.of(ws, universe=True).read()) == 12  # the same forecasts are not recorded twice


def _append_sessions(ws: Workspace, sessions: int) -> None:
    """Later prices for every symbol: ``sessions`` more business days, small moves."""
    store = PriceStore(ws.price_url)
    try:
        dates = pd.bdate_range(pd.Timestamp(END) + pd.offsets.BDay(1), periods=sessions, name="date").as_unit("ns")
        for i, symbol in enumerate(TWELVE):
            last = store.read(symbol)["close"].iloc[-1]
            rng = np.random.default_rng(100 + i)
            close = last * np.exp(np.cumsum(rng.normal(0.0, 0.01, sessions)))
            new = pd.DataFrame({"open": close, "high": close * 1.005, "low": close * 0.995, "close": close, "volume": 50_000.0}, index=dates)
            store.write(symbol, new, replace=False)
    finally:
        store.close()


@pytest.mark.slow
def test_later_prices_score_the_universe_forecasts_on_their_target(universe_cycle, tmp_path):
    source, _ = universe_cycle  # its forecasts were recorded when the cycle ended
    ws = _copy(source, tmp_path / "later")
    pending = load_forward(ws)
    assert "0 scored" in pending.note
    _append_sessions(ws, 3)
    view = load_forward(ws)
    records = {r.label: r for r in view.tasks}
    universe = [r for label, r in records.items() if label.startswith("UNIVERSE_1d ")]
    assert len(universe) == 1, list(records)
    record = universe[0]
    assert "excess" in record.label and "12 symbols" in record.label
    assert record.n_forecasts == 12 and record.n_scored == 12
    assert records["S00_1d"].n_scored == 1
    assert "13 scored, 0 waiting" in view.note


@pytest.mark.parametrize(("count", "planned"), [(9, False), (10, True)])
def test_the_universe_task_is_planned_when_the_store_holds_ten_symbols(tmp_path, count, planned):
    ws = _universe_workspace(tmp_path / "ws", {f"T{i:02d}": 90 for i in range(count)})  # too short: every task is skipped
    config = CycleConfig(horizons=(1,), n_trials=1, models=("lgbm",), universe=None)
    assert StoredSymbols.read(ws).wants_universe(config.universe) is planned
    assert (("UNIVERSE", 1) in check_runnable(ws, config)) is planned
    result = run_cycle(ws, config, report=False)
    assert ("UNIVERSE_1d" in result.tasks) is planned
    assert len(result.tasks) == count + planned
    assert all(t.status == "skipped" for t in result.tasks.values())
    if planned:
        assert "insufficient data" in result.tasks["UNIVERSE_1d"].error
    explicit = run_cycle(ws, CycleConfig(horizons=(1,), n_trials=1, models=("lgbm",), universe=not planned), report=False)
    assert explicit.cycle == 2 and ("UNIVERSE_1d" in explicit.tasks) is (not planned)


# --- a killed universe task resumes ----------------------------------------------------------------

N_TRIALS = 3
ARGS = ["cycle", "run", "--horizons", "1", "--trials", str(N_TRIALS), "--models", "lgbm", "--jobs", "1", "--symbols", "S00", "--universe", "--workers", "1"]  # one process: the fault kills the cycle as a crash of the machine would


def _cli(ws: Workspace, args: list[str], *, fault: str | None = None) -> int:
    env = {**os.environ, "BISTLAB_GRACE_SECONDS": "3", "BISTLAB_HEARTBEAT_SECONDS": "1", "COLUMNS": "200"}
    env.pop("BISTLAB_FAULT", None)
    if fault:
        env["BISTLAB_FAULT"] = fault
    proc = subprocess.Popen([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=900)
    time.sleep(1.5)  # kernels notice their dead driver within a second
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(out.decode(errors="replace")[-3000:])
    return proc.returncode


def _finished(ws: Workspace, key: str, symbol: str) -> dict[int, tuple[str, float | None, str]]:
    study = optuna.load_study(study_name=study_name(symbol, 1, 1), storage=make_storage(ws.study_storage(1, key)))
    return {t.number: (t.state.name, t.value, str(t.datetime_complete)) for t in finished_trials(study)}


@pytest.mark.slow
def test_a_killed_universe_task_keeps_its_trials_and_the_resumed_cycle_completes_every_task_once(tmp_path):
    ws = _universe_workspace(tmp_path / "ws", {f"S{i:02d}": 420 + 15 * i for i in range(6)})
    # killed inside the universe task's second trial (the universe task runs first)
    assert _cli(ws, ARGS, fault="in_trial:2") == -signal.SIGKILL
    state = json.loads(ws.state_file.read_text())
    assert state["tasks"]["UNIVERSE_1d"]["status"] == "hpo_in_progress"
    assert state["tasks"]["S00_1d"]["status"] == "pending"
    before = _finished(ws, "UNIVERSE_1d", "UNIVERSE")
    assert 1 <= len(before) < N_TRIALS
    # killed again after the per-symbol task's HPO: the universe task has completed by then
    assert _cli(ws, ARGS, fault="after_hpo:2") == -signal.SIGKILL
    state = json.loads(ws.state_file.read_text())
    assert state["tasks"]["UNIVERSE_1d"]["status"] == "completed"
    assert state["tasks"]["S00_1d"]["status"] == "training_in_progress"
    universe_done = state["tasks"]["UNIVERSE_1d"]["completed_at"]
    evaluation = (ws.task_dir(1, "UNIVERSE_1d") / "evaluation.json").read_bytes()
    assert _cli(ws, ARGS) == 0
    final = StateFile(ws.state_file).read()
    assert final.cycle == 1 and final.cycle_ended()
    assert {t.key: t.status for t in final.cycle_tasks()} == {"UNIVERSE_1d": "completed", "S00_1d": "completed"}
    assert final.tasks["UNIVERSE_1d"].completed_at == universe_done  # not redone
    assert (ws.task_dir(1, "UNIVERSE_1d") / "evaluation.json").read_bytes() == evaluation
    after = _finished(ws, "UNIVERSE_1d", "UNIVERSE")
    assert len(after) == N_TRIALS
    assert {n: after[n] for n in before} == before  # the trials finished before the kill are kept as they were
    assert len(_finished(ws, "S00_1d", "S00")) == N_TRIALS
    assert json.loads((ws.task_dir(1, "UNIVERSE_1d") / "evaluation.json").read_text())["target"] == "excess"
    assert (ws.reports / "cycle_1.html").exists()


# --- the raw target through the steps --------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_trained(tmp_path_factory):
    """A universe task on the raw target, selected and trained (not evaluated yet), cycle 1 open."""
    ws = _universe_workspace(tmp_path_factory.mktemp("raw") / "ws", {f"R{i}": 300 + 10 * i for i in range(6)})
    open_cycle(StateFile(ws.state_file), [("UNIVERSE", 1)], config=CycleConfig(horizons=(1,), universe=True, universe_target="raw").to_dict())
    best = hpo_step(ws, "UNIVERSE", 1, cycle=1, n_trials=1, models=["lgbm"], target="raw")
    assert best.evaluation_spec["panel"]["target"] == "raw"
    train_step(ws, "UNIVERSE", 1, cycle=1)
    return ws


def test_a_raw_universe_task_is_evaluated_forecast_and_recorded_on_the_raw_target(raw_trained, tmp_path):
    ws = _copy(raw_trained, tmp_path / "ws")
    ev = evaluate_step(ws, "UNIVERSE", 1, cycle=1)
    assert ev.target == "raw" and ev.universe["members"] == 6
    holdout = pd.DataFrame({"date": ev.holdout_predictions["dates"], "y_true": ev.holdout_predictions["y_true"]})
    medians = holdout.groupby("date")["y_true"].median()
    assert np.isfinite(holdout["y_true"]).all() and (medians.abs() > 1e-9).mean() > 0.9  # not centred per date
    frame = predict_cycle(ws)
    assert sorted(frame["symbol"]) == [f"R{i}" for i in range(6)] and (frame["target"] == "raw").all()
    assert (ForecastLedger.of(ws, universe=True).read()["target"] == "raw").all()


def test_a_raw_universe_forecast_made_before_its_evaluation_is_recorded_as_raw(raw_trained, tmp_path):
    ws = _copy(raw_trained, tmp_path / "ws")
    frame = predict_cycle(ws)
    assert len(frame) == 6 and np.isfinite(frame["expected_log_return"].astype(float)).all()
    assert (ForecastLedger.of(ws, universe=True).read()["target"] == "raw").all()
