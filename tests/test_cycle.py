"""A real cycle through papermill notebooks on a tiny workspace, ending in an offline HTML report."""

from __future__ import annotations

import re

import pytest

from bistlab.config import CycleConfig
from bistlab.runs.cycle import run_cycle
from bistlab.core.jsonio import read_json
from bistlab.core.state import StateFile


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory):
    from tests.conftest import market_workspace

    ws = market_workspace(tmp_path_factory.mktemp("cycle"), {"AAA": 600, "SHORT": 90})
    events = []
    result = run_cycle(ws, CycleConfig(horizons=(1, 7), n_trials=3, n_jobs=1, models=("lgbm",)), progress=lambda e, t, s: events.append((e, t.key)))
    return ws, result, events


def test_cycle_completes_good_tasks_and_skips_short_ones(cycle_run):
    ws, result, _ = cycle_run
    statuses = {k: t.status for k, t in result.tasks.items()}
    assert statuses == {"AAA_1d": "completed", "AAA_7d": "completed", "SHORT_1d": "skipped", "SHORT_7d": "skipped"}
    assert "insufficient data" in result.tasks["SHORT_1d"].error
    aaa = result.tasks["AAA_7d"]
    assert aaa.hpo_dirhit is not None and aaa.training_dirhit_wfv == aaa.hpo_dirhit


def test_cycle_runs_horizon_first(cycle_run):
    _, _, events = cycle_run
    starts = [k for e, k in events if e == "start"]
    assert starts == ["AAA_1d", "SHORT_1d", "AAA_7d", "SHORT_7d"]


def test_executed_notebooks_are_kept_per_task(cycle_run):
    ws, _, _ = cycle_run
    folder = ws.task_dir(1, "AAA_1d")
    for name in ("hpo.ipynb", "train.ipynb", "evaluate.ipynb", "best_params.json", "model.pkl", "model.json", "evaluation.json"):
        assert (folder / name).exists(), name
    assert read_json(folder / "hpo.ipynb")["cells"][2]["metadata"].get("tags") == ["injected-parameters"]


def test_report_is_offline_and_has_a_row_per_task(cycle_run):
    ws, result, _ = cycle_run
    assert result.report == ws.reports / "cycle_1.html"
    html = result.report.read_text()
    table = html[html.index('id="summary"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr>\s*<td>(?:<a href=\"[^\"]+\">)?([A-Z]+_\d+d)(?:</a>)?</td>", table)
    assert sorted(rows) == ["AAA_1d", "AAA_7d", "SHORT_1d", "SHORT_7d"]
    for column in ("HPO DirHit", "WFV Δ", "holdout DirHit", "n=", "95 % CI", "best baseline", "LOW_SUPPORT", "usable"):
        assert column in table, column
    page = (ws.reports / "cycle_1" / "AAA_1d" / "index.html").read_text()  # the secondary figures, on the task page
    for figure in ("WFV DirHit", "persistence", "majority", "call DirHit", "nRMSE", "support"):
        assert figure in page, figure
    assert not re.search(r"<script[^>]+src=[\"']https?://", html), "the report must not load scripts from the network"
    assert html.count("plotly.js v") <= 2 and "Plotly.newPlot" in html


def test_status_after_the_cycle_is_readable_and_ended(cycle_run):
    ws, _, _ = cycle_run
    state = StateFile(ws.state_file).read()
    assert state.cycle == 1 and state.cycle_ended()
