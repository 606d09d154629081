"""Predictions: one row per task from the cycle's configurations refit on every labelled row."""

from __future__ import annotations

import math
import shutil

import pandas as pd
import pytest

from bistlab.core.workspace import Workspace
from bistlab.errors import NoTrainedCycleError
from bistlab.core.jsonio import read_json
from bistlab.runs.predict import direction_of, latest_trained_cycle, predict_cycle, write_predictions
from bistlab.core.records import PREDICTION_COLUMNS
from bistlab.core.state import TaskStatus
from bistlab.data.store import PriceStore
from tests.conftest import _market
from tests.crafted import Crafted, craft_cycle

TASKS = [
    Crafted("AAA", 1, trial_dirhits=[[60.0, 58.0, 61.0, 59.0], [50.0, 52.0, 49.0, 51.0]], holdout=(80, 100, 50.0, 55.0)),
    Crafted("AAA", 3, trial_dirhits=[[55.0, 54.0, 56.0, 53.0], [45.0, 47.0, 46.0, 44.0]], holdout=(27, 50, 50.0, 52.0)),
    Crafted("SHORT", 1, status=TaskStatus.SKIPPED, error="skipped: SHORT h=1d: insufficient data (89 rows, need 100)"),
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    ws = Workspace(root=tmp_path_factory.mktemp("predict"))
    return craft_cycle(ws, TASKS, prices={"AAA": _market(600, seed=1), "SHORT": _market(90, seed=2)})


def test_a_row_per_task_with_direction_skill_and_reason(ws):
    frame = predict_cycle(ws)
    assert list(frame.columns) == PREDICTION_COLUMNS and frame.attrs["cycle"] == 1
    assert list(frame["task"]) == ["AAA_1d", "SHORT_1d", "AAA_3d"]
    by = frame.set_index("task")
    for key in ("AAA_1d", "AAA_3d"):
        row = by.loc[key]
        assert math.isfinite(row["expected_log_return"])
        assert row["direction"] == direction_of(row["expected_log_return"], threshold=0.005)
        assert row["as_of"] == "2017-04-20"  # the last price of _market(600) from 2015-01-02
        assert row["expected_return_pct"] == pytest.approx(100 * math.expm1(row["expected_log_return"]))
    assert by.loc["AAA_1d", "usable"] is True and by.loc["AAA_1d", "holdout_count"] == 100
    assert "95 % CI" in by.loc["AAA_1d", "holdout_dirhit_text"]
    assert by.loc["AAA_3d", "usable"] is False and "not usable" in by.loc["AAA_3d", "note"]
    assert by.loc["SHORT_1d", "direction"] == "–" and "insufficient data" in by.loc["SHORT_1d", "note"]


def test_the_refit_is_stored_once_with_its_last_label_date(ws):
    predict_cycle(ws)
    meta_path = ws.task_dir(1, "AAA_3d") / "model_final.json"
    meta = read_json(meta_path)
    assert (ws.task_dir(1, "AAA_3d") / "model_final.pkl").exists()
    assert meta["last_label_date"] == "2017-04-17"  # 3 trading days before the last price
    assert meta["trained_rows"] == [0, 597]
    stamp = meta_path.stat().st_mtime_ns
    again = predict_cycle(ws, cycle=1)
    assert meta_path.stat().st_mtime_ns == stamp  # reused, not refit
    first = predict_cycle(ws).set_index("task")
    assert again.set_index("task").loc["AAA_3d", "expected_log_return"] == pytest.approx(first.loc["AAA_3d", "expected_log_return"])


def test_new_prices_trigger_a_refit_on_the_newer_rows(ws, tmp_path):

    clone = Workspace(root=tmp_path / "clone")
    shutil.copytree(ws.root, clone.root)
    predict_cycle(clone)
    store = PriceStore(clone.price_url)
    store.write("AAA", _market(610, seed=1))
    store.close()
    row = predict_cycle(clone).set_index("task").loc["AAA_1d"]
    assert bool(row["data_changed"]) and "prices changed" in row["note"]
    assert read_json(clone.task_dir(1, "AAA_1d") / "model_final.json")["as_of"] == row["as_of"] != "2017-04-20"


def test_write_predictions_writes_the_csv(ws, tmp_path):
    frame = predict_cycle(ws)
    path = write_predictions(frame, ws.predictions_file(1))
    assert path == ws.reports / "cycle_1" / "predictions.csv"
    back = pd.read_csv(path)
    assert list(back["task"]) == list(frame["task"]) and list(back.columns) == PREDICTION_COLUMNS


def test_no_trained_cycle_is_a_clear_error(tmp_path):
    empty = Workspace(root=tmp_path / "empty").ensure()
    with pytest.raises(NoTrainedCycleError, match="no trained cycle in workspace .*run `bistlab cycle run` first"):
        predict_cycle(empty)
    with pytest.raises(NoTrainedCycleError):
        latest_trained_cycle(empty)


def test_a_cycle_without_trained_tasks_is_a_clear_error(ws):
    with pytest.raises(NoTrainedCycleError, match="cycle 7 has no trained task"):
        predict_cycle(ws, cycle=7)


def test_direction_threshold():
    assert direction_of(0.006, threshold=0.005) == "up"
    assert direction_of(-0.006, threshold=0.005) == "down"
    assert direction_of(0.005, threshold=0.005) == "flat"
    assert direction_of(None, threshold=0.005) == "–"


def test_predict_to_a_log_file_writes_one_unwrapped_line_per_task_and_names_the_csv(ws, tmp_path):
    from typer.testing import CliRunner

    from bistlab.cli.main import app

    clone = Workspace(root=tmp_path / "clone")
    shutil.copytree(ws.root, clone.root)
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["--workspace", str(clone.root), "predict"])  # no terminal: a log file
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    frame = pd.read_csv(clone.predictions_file(1))
    for row in frame.itertuples(index=False):
        line = next(line for line in lines if line.startswith(row.task + " "))
        assert row.holdout_dirhit_text in line if isinstance(row.holdout_dirhit_text, str) else "–" in line
        assert str(row.note) in line if isinstance(row.note, str) else True
    assert "━" not in result.output and "│" not in result.output  # no table cut into 5-character cells
    assert f"predictions: {clone.predictions_file(1)}" in result.output
