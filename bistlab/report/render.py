"""Rendering the cycle report: ``reports/cycle_<N>.html`` and everything under ``reports/cycle_<N>/``.

Layout of what :func:`render_report` writes (reports are never cleaned up; paths from
:class:`bistlab.core.workspace.Workspace`)::

    reports/cycle_<N>.html                  the report: one self-contained offline file (plotly.js once)
    reports/cycle_<N>/plotly.min.js         one shared local plotly.js for the pages below
    reports/cycle_<N>/notebook.css          one shared stylesheet for the exported notebooks
    reports/cycle_<N>/predictions.csv       the latest forecast per task (bistlab.runs.predict)
    reports/cycle_<N>/tasks.json            the cycle's tasks and configuration
    reports/cycle_<N>/<SYMBOL>_<h>d/index.html                  the task's page
    reports/cycle_<N>/<SYMBOL>_<h>d/{hpo,train,evaluate}.html   its executed notebooks
    reports/cycle_<N>/<SYMBOL>_<h>d/*.json  copies of best_params / model / evaluation + study.json

The main report is the executed ``report`` notebook exported by nbconvert (no code cells), whose
cells display the sections of :mod:`bistlab.report.sections`.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bistlab.runs import notebooks
from bistlab.config import default_workers
from bistlab.report.htmlfmt import esc
from bistlab.report.plots import write_plotlyjs
from bistlab.report.assemble import CycleReport, load_report, save_report
from bistlab.report.data import TaskRecord
from bistlab.report.task_page import write_task_page
from bistlab.core.workspace import ASSET_HREF, NOTEBOOK_CSS, PLOTLY_JS, Workspace

__all__ = ["render_report", "render_cycle_page", "NOTEBOOK_NAMES", "PAGES_PER_WORKER"]

logger = logging.getLogger(__name__)

NOTEBOOK_NAMES = ("hpo", "train", "evaluate")
"""A task's notebooks, exported beside its page."""

PAGES_PER_WORKER = 4
"""Task pages are written by a process pool only when each worker gets at least this many
(a spawned worker costs a few seconds to start; a page and its notebooks about half a second)."""

_REPORT: list[CycleReport] = []
"""The report a pool worker writes pages of (set once per worker by :func:`_worker_report`)."""


def _export_notebooks(ws: Workspace, rep: CycleReport, rec: TaskRecord) -> None:
    paths = ws.task(rep.cycle, rec.key)
    banner = (
        f'<a href="{paths.page.name}">← {esc(rec.key)} page</a> · <a href="{Workspace.report_href(rep.cycle, from_task_page=True)}">cycle {rep.cycle} report</a> · '
        + " · ".join(f'<a href="{paths.notebook_html(n).name}">{n}</a>' for n in NOTEBOOK_NAMES)
    )
    for name in NOTEBOOK_NAMES:
        src, dst = paths.notebook(name), paths.notebook_html(name)
        if not src.exists() or (dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime):
            continue
        try:
            notebooks.to_html(src, dst, exclude_input=False, plotly_src=ASSET_HREF.format(PLOTLY_JS), css_href=ASSET_HREF.format(NOTEBOOK_CSS), banner=banner)
        except Exception as err:  # noqa: BLE001 - one broken notebook must not cost the report
            logger.warning("%s: %s notebook not exported: %s", rec.key, name, err)


def _write_page(rep: CycleReport, rec: TaskRecord) -> None:
    try:
        write_task_page(rep, rec)
    except Exception as err:  # noqa: BLE001 - one broken page must not cost the cycle's report
        logger.exception("%s: task page not written", rec.key)
        page = rep.ws.task(rep.cycle, rec.key).page
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<!DOCTYPE html><html><body><h1>{esc(rec.key)}</h1><p>This page could not be rendered: {esc(type(err).__name__)}: {esc(err)}</p></body></html>", encoding="utf-8")


def _shared_assets(ws: Workspace, cycle: int) -> None:
    ws.report_dir(cycle).mkdir(parents=True, exist_ok=True)
    write_plotlyjs(ws.report_asset(cycle, PLOTLY_JS))
    css = ws.report_asset(cycle, NOTEBOOK_CSS)
    if not css.exists():
        css.write_text(notebooks.notebook_css(), encoding="utf-8")


def _task_output(rep: CycleReport, rec: TaskRecord) -> None:
    """One task's exported notebooks and page."""
    _export_notebooks(rep.ws, rep, rec)
    _write_page(rep, rec)


def _worker_report(rep: CycleReport) -> None:
    _REPORT[:] = [rep]


def _worker_pages(keys: list[str]) -> int:
    rep = _REPORT[0]
    for key in keys:
        _task_output(rep, rep.record(key))
    return len(keys)


def _task_pages(rep: CycleReport, *, workers: int) -> None:
    """Every task's page and notebooks: in this process, or spread over ``workers`` spawned
    processes (each gets the loaded report once) when each would write :data:`PAGES_PER_WORKER`
    pages or more."""
    keys = [r.key for r in rep.records.tasks]
    workers = max(1, min(workers, len(keys) // PAGES_PER_WORKER))
    if workers == 1:
        for rec in rep.records.tasks:
            _task_output(rep, rec)
        return
    chunks = [keys[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_worker_report, initargs=(rep,)) as pool:
        written = sum(pool.map(_worker_pages, chunks))
    logger.info("cycle %d: %d task pages written by %d processes", rep.cycle, written, workers)


def render_report(ws: Workspace, cycle: int, *, workers: int | None = None) -> Path:
    """Render ``reports/cycle_<N>.html`` and everything under ``reports/cycle_<N>/``.

    It only reads files: the forecasts are made before (:func:`bistlab.runs.predict.update_predictions`,
    by the cycle and by ``bistlab report``). Steps: copy the tasks' result files and study records
    into the report folder, write the shared plotly.js and notebook stylesheet, export each task's
    executed notebooks and write each task's page (on ``workers`` processes, default
    :func:`bistlab.config.default_workers`, when the cycle is large enough: :func:`_task_pages`),
    then, last, execute the ``report`` notebook and export it.

    Returns:
        The main report's path.
    """
    started = time.time()
    rep = load_report(ws, cycle, archive=True)
    _shared_assets(ws, cycle)
    _task_pages(rep, workers=default_workers() if workers is None else workers)
    logger.info("cycle %d: task pages written in %.1f s", cycle, time.time() - started)
    cache = save_report(rep, ws.report_cache(cycle))
    try:
        out = render_cycle_page(ws, cycle, cache=cache)
    finally:
        cache.unlink(missing_ok=True)
    logger.info("cycle %d: report %s in %.1f s", cycle, out, time.time() - started)
    return out


def render_cycle_page(ws: Workspace, cycle: int, *, cache: Path | None = None) -> Path:
    """The cycle's own page, ``reports/cycle_<N>.html``: the executed ``report`` notebook exported
    without code (the task pages are written before it); ``cache``: the driver's loaded report
    (:func:`bistlab.report.assemble.save_report`), which the notebook reads instead of collecting
    the cycle again."""
    params = {"workspace": str(ws.root), "db_url": ws.db_url, "cycle": cycle, "report_cache": str(cache) if cache else None}
    executed = notebooks.execute("report", ws.report_notebook(cycle), parameters=params, cwd=ws.root)
    return notebooks.to_html(executed, ws.report_file(cycle))
