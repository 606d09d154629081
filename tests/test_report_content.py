"""What the report says, on a crafted cycle: DirHits with counts and intervals, LOW_SUPPORT in row
and section, reasons of skipped and failed tasks, and a usable flag set by the holdout rule only."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bistlab.report import collect_cycle
from bistlab.core.workspace import Workspace
from bistlab.evaluation.dirhit import usable_verdict
from bistlab.runs.predict import update_predictions
from bistlab.report import changes_html, task_table, forward_html, honesty_html, load_report, predictions_html, reproducibility_html, summary_html, table_html, tasks_html, usable_html
from bistlab.core.state import TaskStatus
from bistlab.report import task_page_html

from tests.conftest import _market
from tests.crafted import Crafted, craft_cycle
from tests.reportcheck import intervals_beside_figures

GREAT = [[78.0, 80.0, 76.0, 79.0], [60.0, 58.0, 61.0, 59.0], [50.0, 52.0, 49.0, 51.0], [55.0, 54.0, 56.0, 53.0], [45.0, 47.0, 46.0, 44.0]]
WEAK = [[45.0, 44.0, 46.0, 45.0], [40.0, 42.0, 41.0, 43.0], [38.0, 39.0, 40.0, 37.0], [44.0, 43.0, 45.0, 42.0], [41.0, 40.0, 42.0, 39.0]]

TASKS = [
    # great HPO DirHit, weak holdout: must not be usable
    Crafted("AAA", 1, trial_dirhits=GREAT, holdout=(27, 50, 50.0, 52.0)),
    # weak HPO DirHit, strong holdout: usable (60 of 60 masked rows right; at h = 7 a 70-row holdout holds 10 independent outcomes)
    Crafted("AAA", 7, trial_dirhits=WEAK, holdout=(60, 60, 50.0, 55.0)),
    # every split below the support filter (3 masked rows < 5): LOW_SUPPORT
    Crafted("BBB", 1, trial_dirhits=GREAT, mask_count=3, holdout=(10, 18, 50.0, 44.0)),
    Crafted("SHORT", 1, status=TaskStatus.SKIPPED, error="skipped: SHORT h=1d: insufficient data (89 rows, need 100)"),
    Crafted("BBB", 7, status=TaskStatus.FAILED, error="TaskError: BBB_7d [training]: out of memory"),
]


@pytest.fixture(scope="module")
def crafted_ws(tmp_path_factory) -> Workspace:
    ws = Workspace(root=tmp_path_factory.mktemp("crafted"))
    return craft_cycle(ws, TASKS, prices={"AAA": _market(700, seed=1), "BBB": _market(650, seed=3), "SHORT": _market(90, seed=2)})


@pytest.fixture(scope="module")
def rep(crafted_ws):
    update_predictions(crafted_ws, 1)  # the report only reads the forecasts: make them first
    return load_report(crafted_ws, 1, archive=True)


class _Cells(HTMLParser):
    """Tables as header lists and rows of (cell text, cell html-ish flags), and every span.dirhit's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.dirhits: list[str] = []
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self._dirhit_depth: int | None = None
        self._dirhit_text: list[str] = []
        self._cell_has_dirhit = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "br":
            self.handle_data(" ")
        if tag == "table":
            self.tables.append({"id": a.get("id"), "head": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
            self._cell_has_dirhit = False
        elif tag == "span" and "dirhit" in (a.get("class") or "").split():
            self._dirhit_depth = len(self._stack)
            self._dirhit_text = []
            self._cell_has_dirhit = True
        if tag not in ("br", "img", "meta", "link", "input", "hr", "col", "wbr"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("br", "img", "meta", "link", "input", "hr", "col", "wbr"):
            return
        if self._stack:
            self._stack.pop()
        if tag == "span" and self._dirhit_depth is not None and len(self._stack) == self._dirhit_depth:
            self.dirhits.append(" ".join("".join(self._dirhit_text).split()))
            self._dirhit_depth = None
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = " ".join("".join(self._cell).split())
            t = self.tables[-1]
            if tag == "th":
                t["head"].append(text)
            else:
                t["rows"][-1].append((text, self._cell_has_dirhit))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._dirhit_depth is not None:
            self._dirhit_text.append(data)


def _parse(html: str) -> _Cells:
    p = _Cells()
    p.feed(html)
    return p


def _all_html(rep) -> str:
    return "\n".join(
        [summary_html(rep), usable_html(rep), table_html(rep), honesty_html(rep), changes_html(rep), predictions_html(rep), forward_html(rep), tasks_html(rep), reproducibility_html(rep)]
        + [task_page_html(rep, r) for r in rep.records.tasks]
    )


def test_every_dirhit_shown_has_its_count_and_interval(rep):
    parsed = _parse(_all_html(rep))
    assert len(parsed.dirhits) > 50
    for text in parsed.dirhits:
        assert re.fullmatch(r"\d+\.\d % \(?(mean of \d+ splits?, pooled )?n=\d+,? (n_eff=\d+,? )?95 % CI \d+\.\d–\d+\.\d\)?|undefined \(n=\d+\)", text), text
    dirhit_columns = re.compile(r"DirHit|persistence|majority", re.I)
    checked = 0
    for table in parsed.tables:
        for i, head in enumerate(table["head"]):
            if not dirhit_columns.search(head) or "−" in head or "noise" in head:
                continue
            for row in table["rows"]:
                if i < len(row) and row[i][0] not in ("–", "not evaluated", ""):
                    checked += 1
                    assert row[i][1] or row[i][0].startswith("undefined"), (table["id"], head, row[i][0])
    assert checked > 30


def test_no_interval_in_the_report_excludes_the_figure_beside_it(rep):
    found = intervals_beside_figures(_all_html(rep))
    assert len(found) > 50
    # the HPO DirHit is a mean of splits: its interval is that of the mean, not of the pooled rows
    table = _parse(table_html(rep)).tables[0]
    column = table["head"].index("HPO DirHit % (biased upward by the search)")
    for row in table["rows"][1:]:
        text = row[column][0]
        if "CI" in text:
            value, low, high = (float(x) for x in re.search(r"(\d+\.\d) %.*CI (\d+\.\d)–(\d+\.\d)", text).groups())
            assert low <= value <= high and "mean of" in text


def test_summary_table_has_one_row_per_task_with_reasons(rep):
    html = table_html(rep)
    rows = re.findall(r"<tr><td>([A-Z]+_\d+d)</td>", html)
    assert rows == ["AAA_1d", "BBB_1d", "SHORT_1d", "AAA_7d", "BBB_7d"]
    row = {k: html[html.index(f"<tr><td>{k}</td>") :].split("</tr>", 1)[0] for k in rows}
    assert "insufficient data (89 rows, need 100)" in row["SHORT_1d"] and "skipped" in row["SHORT_1d"]
    assert "out of memory" in row["BBB_7d"] and "failed" in row["BBB_7d"]


def test_low_support_is_said_in_its_row_and_its_section(rep):
    table = task_table(rep.records)
    assert table.set_index("task").loc["BBB_1d", "low_support"] is True or bool(table.set_index("task").loc["BBB_1d", "low_support"])
    assert not table.set_index("task").loc["AAA_1d", "low_support"]
    html = table_html(rep)
    bbb = html[html.index("<tr><td>BBB_1d</td>") :].split("</tr>", 1)[0]
    aaa = html[html.index("<tr><td>AAA_1d</td>") :].split("</tr>", 1)[0]
    assert "LOW_SUPPORT" in bbb and "fallback" in bbb and "LOW_SUPPORT" not in aaa
    section = tasks_html(rep)
    bbb_section = section[section.index('id="task-BBB_1d"') :].split("</details>", 1)[0]
    assert "LOW_SUPPORT" in bbb_section and "fallback filter was used" in bbb_section
    page = task_page_html(rep, rep.record("BBB_1d"))
    assert "LOW_SUPPORT: none of the 5 complete trials passed the support filter" in page
    assert "passes the support filter" in page and "no: mask_count 3 &lt; 5" in page
    assert "The fallback was not used" in task_page_html(rep, rep.record("AAA_1d"))


def test_usable_flag_comes_from_the_holdout_rule_only(rep):
    great_hpo_weak_holdout = rep.record("AAA_1d")
    weak_hpo_strong_holdout = rep.record("AAA_7d")
    assert great_hpo_weak_holdout.best.hpo_dirhit > 75.0 and weak_hpo_strong_holdout.best.hpo_dirhit < 50.0
    assert great_hpo_weak_holdout.usable is False and weak_hpo_strong_holdout.usable is True
    for rec in rep.records.tasks:
        if rec.ev:
            # the flag the report shows is the rule applied to the holdout numbers alone
            assert rec.usable == usable_verdict(rec.ev.holdout)["usable"]
            # and the same holdout with any HPO result gives the same verdict
            assert usable_verdict(rec.ev.holdout.to_dict()) == rec.ev.verdict
    html = usable_html(rep)
    assert "AAA_7d" in html.split("Nearest misses")[0] and "AAA_1d" not in html.split("Nearest misses")[0]
    lower = weak_hpo_strong_holdout.ev.verdict["dirhit_lower_95"]
    usable_item = html.split("Nearest misses")[0]
    assert f"lower bound {lower:.1f} % > 50 %, and the DirHit > best baseline" in usable_item and "55.0 %" in usable_item and "(majority)" in usable_item
    assert "Paired comparison with majority" in usable_item and "where they disagree" in usable_item


def test_usable_rule_ignores_hpo_numbers():
    holdout = {"dirhit_hits": 80, "mask_count": 100, "persistence_dirhit": 50.0, "majority_dirhit": 55.0, "dirhit": 80.0}
    assert usable_verdict(holdout)["usable"] is True
    assert usable_verdict({**holdout, "hpo_dirhit": 10.0, "wfv_dirhit": 10.0})["usable"] is True
    weak = {"dirhit_hits": 27, "mask_count": 50, "persistence_dirhit": 50.0, "majority_dirhit": 52.0, "dirhit": 54.0}
    assert usable_verdict({**weak, "hpo_dirhit": 95.0})["usable"] is False
    # beating 50 % is not enough: the DirHit must also beat the best baseline on the same rows
    assert usable_verdict({"dirhit_hits": 70, "mask_count": 100, "persistence_dirhit": 71.0, "majority_dirhit": 40.0})["usable"] is False


def test_honesty_and_archive(rep, crafted_ws):
    aaa = rep.record("AAA_1d")
    assert aaa.honesty is not None and aaa.honesty.n_trials == 5 and aaa.honesty.pbo.n_combinations == 6
    assert aaa.honesty.holdout_minus_hpo < -20
    html = honesty_html(rep)
    assert "probability of backtest overfitting" in html and "PBO" in html and "Limits" in html
    copy = crafted_ws.reports / "cycle_1" / "AAA_1d"
    for name in ("best_params.json", "model.json", "evaluation.json", "study.json"):
        assert (copy / name).exists(), name
    assert (crafted_ws.reports / "cycle_1" / "tasks.json").exists()


def test_report_survives_cleanup_of_runs_and_studies(rep, crafted_ws, tmp_path):
    import shutil

    clone = Workspace(root=tmp_path / "clone")
    shutil.copytree(crafted_ws.root, clone.root)
    shutil.rmtree(clone.runs / "cycle_1")
    shutil.rmtree(clone.studies / "cycle_1")
    clone.state_file.unlink()
    records = collect_cycle(clone, 1, archive=False)
    by_key = {r.key: r for r in records.tasks}
    assert set(by_key) == {"AAA_1d", "AAA_7d", "BBB_1d", "SHORT_1d", "BBB_7d"}
    assert by_key["AAA_1d"].source == "reports copy" and by_key["AAA_1d"].honesty is not None
    assert by_key["SHORT_1d"].status == TaskStatus.SKIPPED
    update_predictions(clone, 1)
    again = load_report(clone, 1)
    assert not clone.cycle_dir(1).exists(), "a cleaned-up cycle's runs must not come back"
    assert again.predictions is not None and list(again.predictions["task"]) == list(rep.predictions["task"])
    page = task_page_html(again, again.record("AAA_1d"))
    assert "optimization history" in page and "reports copy" in page


def test_previous_cycle_comparison_and_its_absence(crafted_ws, tmp_path):
    import shutil

    from dataclasses import replace

    from bistlab.report import compare_previous
    from bistlab.core.records import BestParams, Evaluation

    paths = crafted_ws.task(1, "AAA_1d")
    best, ev = paths.read(BestParams), paths.read(Evaluation)
    changed = replace(best, best_params={**best.best_params, "model_choice": "xgb"}, model_choice="xgb")
    stronger = replace(ev, holdout=replace(ev.holdout, dirhit=80.0, dirhit_hits=80, mask_count=100), verdict={**ev.verdict, "usable": True})
    cmp = compare_previous(crafted_ws, 2, key="AAA_1d", best=changed, ev=stronger)
    assert cmp["available"] and cmp["changed"]["model_choice"] == ["lgbm", "xgb"]
    assert cmp["usable_flip"] == "not usable → usable" and cmp["holdout_delta"] == pytest.approx(80.0 - 54.0)
    assert compare_previous(crafted_ws, 1, key="AAA_1d", best=best, ev=ev)["reason"].startswith("first cycle")
    clone = Workspace(root=tmp_path / "gone")
    shutil.copytree(crafted_ws.root, clone.root)
    shutil.rmtree(clone.runs / "cycle_1")
    shutil.rmtree(clone.reports / "cycle_1")
    gone = compare_previous(clone, 2, key="AAA_1d", best=best, ev=ev)
    assert not gone["available"] and "cleaned up" in gone["reason"]


def test_reproducibility_block(rep):
    html = reproducibility_html(rep)
    for needle in ("source revision", "packages at training", "cycle configuration", "seeds", "evaluation settings", "wall time", "fingerprint"):
        assert needle in html, needle
    # the crafted store has no sentiment table: the flag is out of the space and the report says why
    assert "left out of the search space" in html
    assert "sentiment: no sentiment table in the price store" in html


def test_task_pages_show_what_each_flag_went_with(rep):
    tables = [t for r in rep.records.tasks if r.study for t in _parse(task_page_html(rep, r)).tables if t["id"] == "flag-effects"]
    assert tables, "no task page has the flags on/off table"
    for table in tables:
        assert table["head"][0] == "flag" and table["rows"][1:]
        for row in table["rows"][1:]:
            on, off = (int(v) for v in row[1][0].split(" / "))
            assert on >= 1 and off >= 1


def test_each_horizon_says_what_would_let_it_judge(rep):
    html = usable_html(rep)
    table = html.split('id="judgeable"')[1].split("</table>")[0]
    horizons = sorted({r.horizon for r in rep.records.tasks if r.ev and not r.is_universe})
    assert table.count("what would let it judge") == 1 and table.count("<ul>") == len(horizons) >= 1
    assert table.count("--as-of DATE") == len(horizons) and table.count("a universe model") == len(horizons)
    # a longer holdout: the rows it takes, or why no holdout in these prices would do
    assert table.count("--holdout-rows") + table.count("not within these prices") + table.count("already certifies") == len(horizons)
    for rows in re.findall(r"--holdout-rows (\d+)</code>", table):
        assert int(rows) > 0 and "the training window loses" in table


def test_task_pages_written_by_a_process_pool_are_the_pages_written_here(crafted_ws, tmp_path):
    import shutil

    from bistlab.report import render

    copies = {}
    for name, workers in (("serial", 1), ("pool", 2)):
        ws = Workspace(root=tmp_path / name)
        shutil.copytree(crafted_ws.root, ws.root)
        rep = load_report(ws, 1)
        old = render.PAGES_PER_WORKER
        render.PAGES_PER_WORKER = 1  # a pool even for this small cycle
        try:
            render._task_pages(rep, workers=workers)
        finally:
            render.PAGES_PER_WORKER = old
        pages = sorted(ws.report_dir(1).glob("*/index.html"))
        copies[name] = {p.parent.name: re.sub(r"bistlab-plot-[0-9a-f]+", "bistlab-plot-ID", p.read_text(encoding="utf-8")) for p in pages}  # plot ids are random
    assert copies["pool"].keys() == copies["serial"].keys() and len(copies["pool"]) >= 3
    assert copies["pool"] == copies["serial"]


def test_the_report_notebook_reads_the_drivers_report_instead_of_collecting_again(crafted_ws, tmp_path):
    from bistlab.report.assemble import save_report

    rep = load_report(crafted_ws, 1)
    cache = save_report(rep, tmp_path / "report.pkl")
    again = load_report(crafted_ws, 1, cache=cache)
    assert [r.key for r in again.records.tasks] == [r.key for r in rep.records.tasks] and again.table.equals(rep.table)
    assert load_report(crafted_ws, 1, cache=tmp_path / "gone.pkl").cycle == 1  # no cache: collected here
