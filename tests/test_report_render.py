"""The report of a real cycle on demo data, rendered in headless Chromium without network.

Checks, on the main report, a task page and an exported notebook: no script error (a collector
injected into a copy of each page, read back from the DOM Chromium dumps, and Chromium's console
log scanned for "Uncaught"), a summary row per task, every plotly figure drawn as SVG, no script
from the network, plotly.js embedded once in the main report and loaded from one shared local
copy by the other pages. A screenshot of each page is kept in the test's temporary folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.reportcheck import intervals_beside_figures

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no network, whatever the page asks for
    "--window-size=1400,2400",
    "--virtual-time-budget=10000",
]

PROBE = """<script>
window.__bistlabErrors = [];
window.addEventListener("error", function (e) {
  var where = e.target && e.target !== window ? (e.target.src || e.target.href || e.target.tagName) : "";
  window.__bistlabErrors.push(String(e.message || ("failed to load " + where)));
}, true);
window.addEventListener("unhandledrejection", function (e) { window.__bistlabErrors.push("unhandled rejection: " + e.reason); });
window.addEventListener("load", function () {
  setTimeout(function () {
    var p = document.createElement("pre");
    p.id = "bistlab-probe";
    p.textContent = JSON.stringify(window.__bistlabErrors);
    document.body.appendChild(p);
    var t = document.getElementById("summary"), w = document.createElement("pre");
    w.id = "bistlab-table-right";  // where the task table ends, in CSS pixels of a 1400-px window
    w.textContent = t ? String(Math.ceil(t.getBoundingClientRect().right)) : "";
    document.body.appendChild(w);
  }, 1000);
});
</script>"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        skip_or_fail("headless Chromium not installed (Debian: apt-get install -y chromium); CI installs it")
    return exe


def _run(exe: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="bistlab-chromium-") as profile:
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180)


def _open(exe: str, page: Path, screenshot: Path) -> tuple[str, list[str], str]:
    """Load ``page`` (a probed copy beside it, so relative URLs work): the DOM after scripts ran,
    the errors the probe collected, and Chromium's console log."""
    html = page.read_text(encoding="utf-8")
    head = html.index("<head>") + len("<head>")
    probe = page.with_name(f"__probe_{page.name}")
    probe.write_text(html[:head] + PROBE + html[head:], encoding="utf-8")
    try:
        shot = _run(exe, f"--screenshot={screenshot}", probe.as_uri())
        assert screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
        dumped = _run(exe, "--enable-logging=stderr", "--v=0", "--dump-dom", probe.as_uri())
    finally:
        probe.unlink(missing_ok=True)
    dom = dumped.stdout
    found = re.search(r'<pre id="bistlab-probe">(.*?)</pre>', dom, flags=re.S)
    assert found, f"the probe did not report (page not loaded?): {dumped.stderr[-2000:]}"
    errors = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    return dom, errors, dumped.stderr


def _check_figures(dom: str, *, at_least: int) -> int:
    """Every plotly div of the page holds the SVG plotly drew; returns how many there are."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<div[^>]*\bid="(bistlab-plot-[0-9a-f]+)"[^>]*>', dom)]
    assert len(starts) >= at_least, f"expected at least {at_least} figures, found {len(starts)}"
    for i, (start, div_id) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(dom)
        inner = dom[start:end]
        assert "<svg" in inner and "main-svg" in inner, f"figure {div_id} has no SVG: plotly did not draw it"
    return len(starts)


@pytest.fixture(scope="module")
def demo_cycle(tmp_path_factory):
    from bistlab.config import CycleConfig
    from bistlab.runs.cycle import run_cycle
    from bistlab.data.importers import load_demo
    from bistlab.data.store import PriceStore
    from bistlab.core.workspace import Workspace

    exe = _chromium()
    ws = Workspace(root=tmp_path_factory.mktemp("demo_report")).ensure()
    store = PriceStore(ws.price_url)
    load_demo(store)
    store.close()
    # GOOG (2148 rows) and NASDAQ keep the cycle small; two symbols × two horizons fill the heatmap; the
    # demo's 23 series make a universe task per horizon (its section and figures render too)
    result = run_cycle(ws, CycleConfig(horizons=(1, 7), n_trials=3, n_jobs=1, models=("lgbm",), symbols=("GOOG", "NASDAQ"), universe=True))
    return exe, ws, result


def test_main_report_renders_without_errors_with_a_row_per_task_and_drawn_figures(demo_cycle, tmp_path):
    exe, ws, result = demo_cycle
    report = result.report
    assert report == ws.reports / "cycle_1.html"
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html), "the main report is self-contained: no external script"
    assert html.count("plotly.js v") == 1, "plotly.js must be embedded once"
    dom, errors, log = _open(exe, report, tmp_path / "cycle_1.png")
    assert errors == [], errors
    assert "Uncaught" not in log, [line for line in log.splitlines() if "Uncaught" in line]
    table = dom[dom.index('id="summary"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr><td><a href="[^"]+">([A-Z0-9]+_\d+d)</a></td>', table)  # task names link to their pages
    assert sorted(rows) == sorted(result.tasks) == ["GOOG_1d", "GOOG_7d", "NASDAQ_1d", "NASDAQ_7d", "UNIVERSE_1d", "UNIVERSE_7d"]
    assert _check_figures(dom, at_least=5) == html.count('id="bistlab-plot-')  # heatmap, holdout by task, HPO vs holdout, rank IC by date
    for section in ("Usable models", "Universe models", "Multiple testing", "Since the previous cycle", "Predictions", "Forward record", "Per task", "Reproducibility"):
        assert section in dom, section
    assert len(intervals_beside_figures(html)) > 20  # no interval of the rendered report excludes its figure
    right = re.search(r'<pre id="bistlab-table-right">(\d+)</pre>', dom)
    assert right and int(right.group(1)) <= 1400, f"the task table ends at {right and right.group(1)} px, past a 1400-px window"
    text = re.sub(r"<script.*?</script>|<style.*?</style>", "", dom, flags=re.S)
    assert not re.search(r"\bNone\b", re.sub(r"<[^>]+>", " ", text)), "Python's None shown to a reader"


def test_task_page_and_notebooks_render_with_the_shared_plotly(demo_cycle, tmp_path):
    exe, ws, result = demo_cycle
    folder = ws.reports / "cycle_1"
    assert (folder / "plotly.min.js").stat().st_size > 1_000_000
    task = folder / "GOOG_7d"
    page = (task / "index.html").read_text(encoding="utf-8")
    assert '<script type="text/javascript" src="../plotly.min.js"></script>' in page and "plotly.js v" not in page
    assert len(page) < 400_000, "a task page must not carry plotly.js"
    dom, errors, log = _open(exe, task / "index.html", tmp_path / "GOOG_7d.png")
    assert errors == [] and "Uncaught" not in log, errors
    _check_figures(dom, at_least=3)
    assert intervals_beside_figures(page)
    for name in ("hpo", "evaluate"):
        notebook = task / f"{name}.html"
        text = notebook.read_text(encoding="utf-8")
        assert "plotly.js v" not in text and len(text) < 400_000
        dom, errors, log = _open(exe, notebook, tmp_path / f"GOOG_7d_{name}.png")
        assert errors == [] and "Uncaught" not in log, errors
        _check_figures(dom, at_least=2)


def test_executed_notebooks_stay_small_and_render_in_jupyterlab(demo_cycle):
    _, ws, _ = demo_cycle
    import nbformat

    from bistlab.report.plots import PLOTLY_MIMETYPE

    nb_file = ws.task_dir(1, "GOOG_7d") / "evaluate.ipynb"
    assert nb_file.stat().st_size < 500_000
    nb = nbformat.read(str(nb_file), as_version=4)
    figures = [o for c in nb.cells for o in c.get("outputs", []) if PLOTLY_MIMETYPE in (o.get("data") or {})]
    assert figures and all("text/html" in o["data"] and "Plotly.newPlot" in o["data"]["text/html"] for o in figures)
    assert all("plotly.js v" not in o["data"]["text/html"] for o in figures)


def test_predictions_are_in_the_report_and_on_disk(demo_cycle):
    _, ws, result = demo_cycle
    import pandas as pd

    frame = pd.read_csv(ws.reports / "cycle_1" / "predictions.csv")
    assert set(frame["task"]) == set(result.tasks)
    universe = frame[frame["task"].str.startswith("UNIVERSE_")]
    assert len(universe) > 2 * 10 and set(universe["target"]) == {"excess"}  # a forecast per symbol of the cross-section
    assert set(frame["direction"]) <= {"up", "down", "flat"}
    assert 'id="predictions"' in result.report.read_text(encoding="utf-8")
