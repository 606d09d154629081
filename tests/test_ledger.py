"""The forecast ledger: every forecast kept once, scored when its h trading days have passed, and the
forward record in ``bistlab predict`` and the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bistlab.cli.main import app
from bistlab.core.workspace import Workspace
from bistlab.evaluation.ledger import ForecastLedger, forward_record, score_forecasts
from tests.crafted import Crafted, craft_cycle

runner = CliRunner(env={"COLUMNS": "220"})


def _forecast(symbol="AAA", horizon=1, as_of="2024-01-03", cycle=1, expected=0.01, usable=True):
    direction = "up" if expected > 0.005 else ("down" if expected < -0.005 else "flat")
    return {"symbol": symbol, "horizon": horizon, "as_of": as_of, "cycle": cycle, "direction": direction, "expected_log_return": expected,
            "dirhit_threshold": 0.005, "usable": usable, "passes_rule": usable, "data_fingerprint": "f"}


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        url = request.getfixturevalue("pg_database")
    book = ForecastLedger(url)
    yield book
    book.close()


def test_a_forecast_is_recorded_once_and_never_rewritten(ledger):
    assert ledger.record([_forecast(), _forecast(horizon=7)]) == 2
    assert ledger.record([_forecast(expected=-0.02), _forecast(as_of="2024-01-04")]) == 1  # the first is already there
    frame = ledger.read()
    assert len(frame) == 3
    first = frame[(frame["horizon"] == 1) & (frame["as_of"] == pd.Timestamp("2024-01-03"))].iloc[0]
    assert first["expected_log_return"] == pytest.approx(0.01) and first["direction"] == "up"
    assert list(ledger.read(symbols=["BBB"]).index) == []


def _prices(closes):
    index = pd.bdate_range("2024-01-01", periods=len(closes), name="date")
    c = np.asarray(closes, dtype=float)
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0}, index=index)


def test_scoring_waits_for_h_trading_days_and_uses_only_the_past_for_baselines():
    closes = [100, 101, 102, 101, 103, 99, 98]  # 2024-01-01 .. 2024-01-09 (business days)
    prices = {"AAA": _prices(closes)}
    ledger = pd.DataFrame([_forecast(as_of="2024-01-03", horizon=2), _forecast(as_of="2024-01-05", horizon=2), _forecast(as_of="2024-01-08", horizon=2)])
    ledger["as_of"] = pd.to_datetime(ledger["as_of"])
    scored = score_forecasts(ledger, prices)
    assert list(scored["scored"]) == [True, True, False]  # 01-08 + 2 sessions is beyond the last price
    first = scored.iloc[0]
    assert first["position"] == 2 and first["realised_date"] == pd.Timestamp("2024-01-05")
    assert first["realised_log_return"] == pytest.approx(np.log(103 / 102))
    assert first["persistence_direction"] == 1.0  # log(102 / 100) > 0, known at 01-03
    assert first["majority_direction"] == 1.0  # the one label known at 01-03: log(102 / 100)
    second = scored.iloc[1]
    assert second["realised_log_return"] == pytest.approx(np.log(98 / 103)) and second["persistence_direction"] == 1.0


def test_forward_record_counts_hits_on_the_masked_rows_and_splits_usable_from_not():
    closes = 100 * np.exp(np.cumsum(np.tile([0.02, -0.015, 0.01], 20)))
    prices = {"AAA": _prices(closes)}
    dates = prices["AAA"].index
    rows = [_forecast(as_of=str(dates[i].date()), expected=0.02, usable=i % 2 == 0) for i in range(0, 50)]
    ledger = pd.DataFrame(rows)
    ledger["as_of"] = pd.to_datetime(ledger["as_of"])
    tasks, groups = forward_record(score_forecasts(ledger, prices))
    assert [t.label for t in tasks] == ["AAA_1d"]
    t = tasks[0]
    realised = np.diff(np.log(closes))[:50]
    masked = np.abs(realised) > 0.005
    assert t.n_forecasts == 50 and t.n_scored == 50
    assert t.dirhit.count == int(masked.sum()) and t.dirhit.value == pytest.approx(100 * (realised[masked] > 0).mean())
    assert t.dirhit.low <= t.dirhit.value <= t.dirhit.high
    usable, not_usable = groups
    assert (usable.label, usable.n_forecasts, not_usable.n_forecasts) == ("usable models", 25, 25)


def test_a_store_read_in_place_keeps_its_ledger_in_the_workspace(tmp_path):
    ws = Workspace(root=tmp_path, price_table="market.daily", price_columns={"date": "d"})
    assert ws.ledger_url == f"sqlite:///{tmp_path / 'runs' / 'forecasts.sqlite'}"
    assert Workspace(root=tmp_path).ledger_url == Workspace(root=tmp_path).price_url


def test_predict_on_a_cut_of_a_real_series_then_on_more_days_scores_the_earlier_forecasts(tmp_path):
    from backtesting.test import GOOG

    from bistlab.report import forward_html, load_report
    from bistlab.data.store import PriceStore

    full = GOOG.rename(columns=str.lower)
    cut = full.iloc[:-40]
    tasks = [Crafted("GOOG", h, trial_dirhits=[[55.0, 54.0, 56.0, 53.0], [50.0, 51.0, 49.0, 52.0]], holdout=(60, 100, 50.0, 52.0)) for h in (1, 7)]
    ws = craft_cycle(Workspace(root=tmp_path / "ws"), tasks, prices={"GOOG": cut})
    first = runner.invoke(app, ["--workspace", str(ws.root), "predict"])
    assert first.exit_code == 0, first.output
    assert "forward record: 2 forecasts recorded" in first.output and "0 scored, 2 waiting" in first.output
    store = PriceStore(ws.price_url)
    store.write("GOOG", full)  # 40 more trading days
    store.close()
    second = runner.invoke(app, ["--workspace", str(ws.root), "predict"])
    assert second.exit_code == 0, second.output
    assert "4 forecasts recorded" in second.output and "2 scored, 2 waiting" in second.output
    book = ForecastLedger.of(ws)
    frame = book.read()
    book.close()
    assert list(frame["as_of"].dt.strftime("%Y-%m-%d")) == [str(cut.index[-1].date())] * 2 + [str(full.index[-1].date())] * 2
    html = forward_html(load_report(ws, 1))
    assert "4 forecasts recorded" in html and "2 scored" in html
    assert "GOOG_1d" in html and "GOOG_7d" in html and 'id="forward-tasks"' in html
    assert "not-usable models" in html
