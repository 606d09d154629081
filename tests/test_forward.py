"""As-of cycles and their forward record (issue 19, DESIGN.md "Power"): `--as-of DATE` hides every
later row from HPO, selection, training and the holdout; `bistlab forward` scores the frozen final
models on every later session with baselines and intervals."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bistlab.cli.main import app
from bistlab.config import CycleConfig
from bistlab.runs.cycle import check_runnable, run_cycle
from bistlab.errors import BistlabError, ConfigError
from bistlab.evaluation.forward_scores import forward_groups, read_forward
from bistlab.runs.forward import cycle_as_of, default_forward_cycle, forward_cycle
from bistlab.evaluation.labels import forward_log_return
from bistlab.core.state import StateFile, TaskStatus
from bistlab.data.store import PriceStore
from bistlab.evaluation.universe import Universe, load_universe
from bistlab.data.price_frames import fingerprint
from bistlab.core.workspace import Workspace
from bistlab.core.records import BestParams, FinalModelMeta, ForwardScore, ModelMeta
from tests.conftest import _market, market_workspace
from tests.crafted import Crafted, craft_cycle

N_ROWS = 700
AS_OF_ROW = N_ROWS - 150  # the as-of date is the 550th session: 150 sessions follow it
DATES = pd.bdate_range("2015-01-02", periods=N_ROWS)
AS_OF = DATES[AS_OF_ROW - 1].strftime("%Y-%m-%d")


def _later_labels(frame: pd.DataFrame, as_of: str, horizon: int) -> int:
    """Rows after ``as_of`` whose h-day label the frame knows."""
    labels = forward_log_return(frame["close"], horizon)
    return int(labels[labels.index > pd.Timestamp(as_of)].notna().sum())


def _within(fig: dict) -> bool:
    return fig["low"] <= fig["value"] <= fig["high"]


# ---------------------------------------------------------------- fast: settings and the cut


def test_an_as_of_that_is_not_a_date_is_a_config_error_naming_it():
    assert CycleConfig(as_of="2017-02-03T00:00:00").as_of == "2017-02-03"
    with pytest.raises(ConfigError, match=r"`as_of` must be an ISO date YYYY-MM-DD but got '2017-13-01'"):
        CycleConfig(as_of="2017-13-01")
    assert CycleConfig().to_dict()["as_of"] is None
    assert CycleConfig.from_dict(CycleConfig(as_of="2017-02-03").to_dict()).as_of == "2017-02-03"


@pytest.mark.parametrize("as_of", ["1999-12-31", "2017-09-07", "2030-01-01"])  # before the first, the last stored date, after it
def test_an_as_of_outside_the_stored_prices_is_a_clear_config_error(tmp_path, as_of):
    ws = market_workspace(tmp_path / "ws", {"AAA": N_ROWS})
    assert DATES[-1].strftime("%Y-%m-%d") == "2017-09-07"
    with pytest.raises(ConfigError) as caught:
        check_runnable(ws, CycleConfig(horizons=(1,), models=("lgbm",), as_of=as_of))
    assert caught.value.name == "as_of" and as_of in str(caught.value)
    assert "2015-01-02" in str(caught.value) and "2017-09-07" in str(caught.value)
    check_runnable(ws, CycleConfig(horizons=(1,), models=("lgbm",), as_of=AS_OF))  # inside: fine


def test_load_universe_as_of_hides_every_later_row_and_fingerprints_what_is_left(tmp_path):
    ws = market_workspace(tmp_path / "ws", {"AAA": N_ROWS, "BBB": 400})
    full, cut = load_universe(ws), load_universe(ws, as_of=AS_OF)
    assert cut.as_of == AS_OF and full.as_of is None
    for symbol in ("AAA", "BBB"):
        frame = cut.loaded[symbol].frame
        assert frame.index.max() <= pd.Timestamp(AS_OF)
        pd.testing.assert_frame_equal(frame, full.loaded[symbol].frame.loc[:AS_OF])
        assert cut.loaded[symbol].fingerprint == fingerprint(frame)
    assert len(cut.loaded["AAA"].frame) == AS_OF_ROW and cut.loaded["AAA"].fingerprint != full.loaded["AAA"].fingerprint
    assert cut.loaded["BBB"].fingerprint == full.loaded["BBB"].fingerprint  # BBB ends before the date: unchanged
    early = load_universe(ws, as_of="2014-06-30")
    assert not early.loaded and "first row on 2015-01-02" in str(early.errors["AAA"])
    path = cut.save(tmp_path / "u.pkl")
    assert Universe.load(path).as_of == AS_OF


def test_a_resume_keeps_the_unfinished_cycles_own_as_of(tmp_path):
    ws = market_workspace(tmp_path / "ws", {"AAA": N_ROWS})

    def change(state):
        state.cycle = 1
        state.config = CycleConfig(horizons=(1,), as_of=AS_OF).to_dict()
        from bistlab.core.state import TaskState

        state.tasks["AAA_1d"] = TaskState(symbol="AAA", horizon=1, cycle=1)

    StateFile(ws.state_file).update(change)
    with pytest.raises(ConfigError, match="unfinished cycle 1's own as-of date"):
        check_runnable(ws, CycleConfig(horizons=(1,), models=("lgbm",), as_of="2016-01-04"))
    check_runnable(ws, CycleConfig(horizons=(1,), models=("lgbm",), as_of=AS_OF), resume=True)
    assert cycle_as_of(ws, 1) == AS_OF


# ---------------------------------------------------------------- fast: forward scoring on a crafted cycle


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    """A finished cycle crafted on the prices up to AS_OF (real selection and training), recorded
    as an as-of cycle; then the store gets the full prices."""
    ws = Workspace(root=tmp_path_factory.mktemp("forward") / "ws")
    full = _market(N_ROWS, seed=1)
    tasks = [
        Crafted("AAA", 1, trial_dirhits=[[60.0, 58.0, 61.0, 59.0], [50.0, 52.0, 49.0, 51.0]], holdout=(40, 55, 50.0, 52.0)),
        Crafted("AAA", 3, trial_dirhits=[[55.0, 54.0, 56.0, 53.0], [45.0, 47.0, 46.0, 44.0]], holdout=(20, 40, 50.0, 52.0)),
    ]
    craft_cycle(ws, tasks, prices={"AAA": full.loc[:AS_OF]})
    StateFile(ws.state_file).update(lambda s: s.config.update(as_of=AS_OF))
    store = PriceStore(ws.price_url)
    store.write("AAA", full)
    store.close()
    return ws, full


def test_forward_scores_every_later_session_with_a_known_label(crafted):
    ws, full = crafted
    scores = {s.key: s for s in forward_cycle(ws)}
    assert set(scores) == {"AAA_1d", "AAA_3d"}
    for key, h in (("AAA_1d", 1), ("AAA_3d", 3)):
        s = scores[key]
        assert s.as_of == AS_OF and s.cycle == 1 and s.target == "raw"
        assert s.sessions == s.rows == _later_labels(full, AS_OF, h) == 150 - h
        assert s.first_date == DATES[AS_OF_ROW].strftime("%Y-%m-%d") and s.last_date == DATES[-1 - h].strftime("%Y-%m-%d")
        assert s.last_label_realised <= AS_OF
        assert s.metrics["n_test"] == s.sessions and s.metrics["mask_count"] > 0
        for name in ("model", "persistence", "majority", "call"):
            assert _within(s.figures[name]), (key, name, s.figures[name])
        assert s.figure("model").count == s.metrics["mask_count"] and s.n_eff == s.metrics["dirhit_n_eff"]
        assert s.n_eff <= s.metrics["mask_count"] and (h == 1 or s.n_eff < s.metrics["mask_count"])
        assert s.passes_rule is not None and s.usable is not None
        assert ws.task(1, key).read(ForwardScore) == s
        assert (ws.task_report_dir(1, key) / ForwardScore.FILE).exists()  # kept with the report


def test_the_frozen_model_is_fit_on_rows_labelled_by_the_as_of_date_and_predict_cannot_unfreeze_it(crafted, tmp_path):
    from bistlab.runs.predict import predict_cycle

    ws, _ = crafted
    clone = Workspace(root=tmp_path / "clone")
    shutil.copytree(ws.root, clone.root)
    forward_cycle(clone, 1)
    meta = clone.task(1, "AAA_3d").read(FinalModelMeta)
    assert meta.last_label_realised <= AS_OF and meta.as_of == AS_OF
    first = clone.task(1, "AAA_3d").read(ForwardScore)
    predict_cycle(clone, cycle=1, record=False)  # refits the final model on today's prices...
    assert clone.task(1, "AAA_3d").read(FinalModelMeta).last_label_realised > AS_OF
    again = {s.key: s for s in forward_cycle(clone, 1)}  # ...and forward freezes it again first
    assert clone.task(1, "AAA_3d").read(FinalModelMeta).last_label_realised <= AS_OF
    assert again["AAA_3d"].metrics == first.metrics


def test_usable_and_not_usable_models_are_pooled_from_the_per_symbol_tasks(crafted):
    ws, _ = crafted
    scores = {s.key: s for s in (read_forward(ws, 1) or forward_cycle(ws, 1))}
    assert scores["AAA_1d"].usable is True and scores["AAA_3d"].usable is False  # the crafted holdouts: 40 of 55, 20 of 40
    groups = {g.label: g for g in forward_groups(list(scores.values()))}
    for label, key in (("usable models", "AAA_1d"), ("not-usable models", "AAA_3d")):
        g, s = groups[label], scores[key]
        assert g.n_tasks == 1 and g.sessions == s.sessions
        assert g.dirhit.count == s.metrics["mask_count"] and math.isclose(g.dirhit.value, s.figure("model").value)
        assert g.dirhit.low <= g.dirhit.value <= g.dirhit.high
        assert g.persistence.defined and g.majority.defined and g.majority.count == g.dirhit.count


def test_forward_on_a_cycle_without_an_as_of_date_says_why(tmp_path):
    ws = Workspace(root=tmp_path / "ws")
    craft_cycle(ws, [Crafted("AAA", 1, trial_dirhits=[[60.0, 58.0, 61.0, 59.0]], holdout=(40, 55, 50.0, 52.0))], prices={"AAA": _market(400, seed=1)})
    assert default_forward_cycle(ws) == 1
    with pytest.raises(BistlabError, match="cycle 1 was not run with an as-of date"):
        forward_cycle(ws)


def test_the_forward_command_prints_a_line_per_task_and_the_pooled_groups(crafted, tmp_path):
    ws, _ = crafted
    clone = tmp_path / "clone"
    shutil.copytree(ws.root, clone)
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["--workspace", str(clone), "forward", "--no-report"])
    assert result.exit_code == 0, result.output
    assert f"forward record of cycle 1 (as of {AS_OF})" in result.output
    for key in ("AAA_1d", "AAA_3d"):
        line = next(line for line in result.output.splitlines() if line.startswith(key + " "))
        assert "95 % CI" in line and line.count("%") >= 6  # the figure, persistence and majority, each with its interval
    assert "models (" in result.output and "forward DirHit" in result.output
    assert "`bistlab report --cycle 1`" in result.output


# ---------------------------------------------------------------- slow: a real as-of cycle, per-symbol and universe


UNIVERSE_SYMBOLS = {s: N_ROWS for s in ("AAA", "BBB", "CCC", "DDD", "EEE")}


@pytest.fixture(scope="module")
def as_of_cycle(tmp_path_factory):
    ws = market_workspace(tmp_path_factory.mktemp("asof") / "ws", UNIVERSE_SYMBOLS)
    config = CycleConfig(horizons=(1,), n_trials=2, n_jobs=1, models=("lgbm",), symbols=("AAA",), universe=True, as_of=AS_OF)
    return ws, run_cycle(ws, config)


def _spec_dates(spec: dict) -> list[str]:
    dates = [d for sp in spec["splits"] for d in sp["train_dates"] + sp["test_dates"]] + list(spec["holdout"]["dates"])
    return dates + list((spec.get("panel") or {}).get("holdout_sessions") or [])


@pytest.mark.slow
def test_no_spec_training_row_or_final_model_of_an_as_of_cycle_reaches_past_its_date(as_of_cycle):
    ws, result = as_of_cycle
    assert {k: t.status for k, t in result.tasks.items()} == {"UNIVERSE_1d": TaskStatus.COMPLETED, "AAA_1d": TaskStatus.COMPLETED}
    assert StateFile(ws.state_file).read().config["as_of"] == AS_OF
    assert Universe.load(ws.universe_snapshot(1)).as_of == AS_OF
    for key in ("AAA_1d", "UNIVERSE_1d"):
        paths = ws.task(1, key)
        best, meta, final = paths.read(BestParams), paths.read(ModelMeta), paths.read(FinalModelMeta)
        assert max(_spec_dates(best.evaluation_spec)) <= AS_OF, key
        assert best.evaluation_spec["holdout"]["dates"][1] <= AS_OF
        assert meta.trained_dates[1] <= AS_OF and final.last_label_realised <= AS_OF and final.as_of <= AS_OF, key
        assert final.data_fingerprint != load_universe(ws).loaded["AAA"].fingerprint
    assert best.evaluation_spec["panel"]["holdout_sessions"][1] <= AS_OF


@pytest.mark.slow
def test_an_as_of_cycle_ends_with_its_forward_record_on_every_later_session(as_of_cycle):
    ws, result = as_of_cycle
    scores = {s.key: s for s in read_forward(ws, 1)}  # written by the cycle itself
    assert set(scores) == {"AAA_1d", "UNIVERSE_1d"}
    own = scores["AAA_1d"]
    frame = load_universe(ws).loaded["AAA"].frame
    assert own.sessions == _later_labels(frame, AS_OF, 1) == 149
    assert all(_within(own.figures[k]) for k in ("model", "persistence", "majority"))
    pooled = scores["UNIVERSE_1d"]
    assert pooled.target == "excess" and pooled.sessions == 149 and pooled.rows == 149 * len(UNIVERSE_SYMBOLS)
    m = pooled.metrics
    for figure, lo, hi in (("dirhit", "dirhit_lo", "dirhit_hi"), ("persistence_dirhit", "persistence_lo", "persistence_hi"), ("majority_dirhit", "majority_lo", "majority_hi")):
        assert m[figure] is not None and m[lo] <= m[figure] <= m[hi], figure
    assert m["n_dates"] == 149 and pooled.n_eff <= 149
    assert pooled.first_date == DATES[AS_OF_ROW].strftime("%Y-%m-%d")
    html = result.report.read_text(encoding="utf-8")
    assert f"as of {AS_OF}" in html and "Forward record of the as-of cycle" in html
    assert "as-of-forward-tasks" in html and "UNIVERSE_1d" in html
    assert not ws.predictions_file(1).exists()  # frozen models forecast no today


@pytest.mark.slow
def test_forward_scores_again_when_sessions_are_added(as_of_cycle, tmp_path):
    ws, _ = as_of_cycle
    clone = Workspace(root=tmp_path / "clone")
    shutil.copytree(ws.root, clone.root)
    store = PriceStore(clone.price_url)
    for i, symbol in enumerate(UNIVERSE_SYMBOLS):
        store.write(symbol, _market(N_ROWS + 20, seed=i + 1))
    store.close()
    scores = {s.key: s for s in forward_cycle(clone)}
    assert scores["AAA_1d"].sessions == 169 and scores["UNIVERSE_1d"].sessions == 169
    before = json.loads((ws.task_dir(1, "AAA_1d") / ForwardScore.FILE).read_text())
    assert before["last_label_realised"] == scores["AAA_1d"].last_label_realised  # the same frozen model
    assert math.isclose(before["metrics"]["n_test"] + 20, scores["AAA_1d"].metrics["n_test"])
    assert np.isfinite(scores["UNIVERSE_1d"].n_eff)


@pytest.mark.slow
def test_an_as_of_cycle_on_the_demo_data_scores_a_year_of_later_sessions(tmp_path):
    from bistlab.data.importers import load_demo

    ws = Workspace(root=tmp_path / "demo")
    store = PriceStore(ws.price_url)
    load_demo(store)
    store.close()
    as_of = "2012-03-01"  # a year before GOOG's last stored session (2013-03-01)
    config = CycleConfig(horizons=(1,), n_trials=2, models=("lgbm",), symbols=("GOOG",), universe=False, as_of=as_of)
    result = run_cycle(ws, config)
    assert result.tasks["GOOG_1d"].status == TaskStatus.COMPLETED
    score = {s.key: s for s in read_forward(ws, 1)}["GOOG_1d"]
    assert score.as_of == as_of and score.first_date > as_of and score.sessions >= 240
    assert score.sessions == _later_labels(load_universe(ws).loaded["GOOG"].frame, as_of, 1)
    for name in ("model", "persistence", "majority"):
        fig = score.figures[name]
        assert fig["count"] > 0 and _within(fig), name
    assert score.metrics["n_test"] == score.sessions and score.last_label_realised <= as_of
    assert "Forward record of the as-of cycle" in result.report.read_text(encoding="utf-8")
