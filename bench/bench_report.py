"""Cycle report at scale: render time, file sizes and Chromium's load time for N symbol-horizon tasks.

Runs no HPO: it copies a workspace whose cycle has some completed tasks and fills every
(symbol in the store) × horizon task of that cycle with clones of them (results, executed
notebooks and studies rewritten to the new task key and the symbol's data fingerprint), then
renders the report from scratch, renders it again (cached study records and model_final.pkl),
and loads the main report in headless Chromium (when installed). Side by side in the same run,
the task pages (with their exported notebooks) are written by one process and by a pool of
``--workers`` processes, and the 2,500-task report is projected on 16 cores from those figures.

Usage:
    bistlab data import ../shared/data/bist && bistlab cycle run --horizons 1 --trials 2 --models lgbm  # a few tasks suffice
    python bench/bench_report.py --workspace . --horizons 1,3,7,14,30
Prints figures; never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from bistlab.config import EvalSettings
from bistlab.core.workspace import Workspace, task_key
from bistlab.core.names import study_name
from bistlab.core.records import Evaluation
from bistlab.runs.predict import update_predictions
from bistlab.report import load_report, render, render_report
from bistlab.core.state import StateFile, TaskState, TaskStatus
from bistlab.data.store import PriceStore


def synthesize(ws: Workspace, cycle: int, horizons: list[int]) -> int:
    """Fill every store symbol × horizon task of ``cycle`` with clones of its completed tasks."""
    runs = ws.cycle_dir(cycle)
    done = sorted(p.parent.name for p in runs.glob(f"*/{Evaluation.FILE}") if not p.parent.name.startswith("UNIVERSE_"))  # per-symbol tasks are cloned
    if not done:
        raise SystemExit(f"{runs} has no completed task to clone")
    store = PriceStore(ws.price_url)
    loaded, rows = {}, {}
    for s in store.symbols():
        try:
            prices = store.load(s)
        except Exception:  # noqa: BLE001 - a symbol the store cannot load stays a skipped task
            continue
        loaded[s], rows[s] = prices.fingerprint, len(prices.frame)
    store.close()
    min_rows = EvalSettings().min_rows
    made, cloned = 0, []
    for i, (h, sym) in enumerate((h, s) for h in horizons for s in sorted(loaded)):
        key = task_key(sym, h)
        if key in done or rows[sym] - h < min_rows:  # too short: the cycle skips it
            continue
        src = done[i % len(done)]
        src_sym, src_h = src.rsplit("_", 1)[0], int(src.rsplit("_", 1)[1].rstrip("d"))
        best = json.loads(ws.task(cycle, src).best_params.read_text())
        dst = runs / key
        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir(parents=True)
        for f in (runs / src).iterdir():
            if f.suffix in (".json", ".ipynb") and not f.name.startswith("model_final"):
                text = f.read_text().replace(f'"{src}', f'"{key}').replace(f"/{src}", f"/{key}")
                text = text.replace(f'"symbol": "{src_sym}"', f'"symbol": "{sym}"').replace(f'"horizon": {src_h},', f'"horizon": {h},')
                (dst / f.name).write_text(text.replace(best["data_fingerprint"], loaded[sym]))
            elif f.name == "model.pkl":
                shutil.copy(f, dst / f.name)
        study = ws.cycle_studies_dir(cycle)
        shutil.copy(study / f"{src}.db", study / f"{key}.db")
        con = sqlite3.connect(study / f"{key}.db")
        con.execute("UPDATE studies SET study_name = ?", (study_name(sym, h, cycle),))
        con.execute("UPDATE trial_user_attributes SET value_json = replace(value_json, ?, ?)", (f'"{src}"', f'"{key}"'))
        con.commit()
        con.close()
        made += 1
        cloned.append(key)

    def change(st) -> None:
        for key in cloned:  # a cycle planned over fewer symbols: the clones join it
            if key not in st.tasks:
                sym, h = key.rsplit("_", 1)
                st.tasks[key] = TaskState(symbol=sym, horizon=int(h.rstrip("d")), status=TaskStatus.COMPLETED, cycle=cycle)
        for key, t in st.tasks.items():
            if t.cycle == cycle and ws.task(cycle, key).evaluation.exists():
                t.status, t.error = TaskStatus.COMPLETED, None
            elif t.cycle == cycle and t.status not in TaskStatus.ENDED:
                t.status, t.error = TaskStatus.SKIPPED, t.error or "skipped: too short (bench_report clones only tasks the cycle would run)"
        st.paused = False

    StateFile(ws.state_file).update(change)
    return made


def _size(paths) -> int:
    return sum(p.stat().st_size for p in paths)


def chromium_seconds(page: Path, repeats: int = 3) -> list[float]:
    exe = shutil.which("chromium")
    if exe is None:
        return []
    out = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as profile:
            started = time.perf_counter()
            subprocess.run(
                [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1400,2400",
                 "--virtual-time-budget=8000", f"--screenshot={profile}/shot.png", page.as_uri()],
                capture_output=True, timeout=300, check=False,
            )
            out.append(time.perf_counter() - started)
    return out


def _pages(ws: Workspace, cycle: int, workers: int) -> tuple[float, int]:
    """Seconds to write every task page and export its notebooks from scratch on ``workers`` processes."""
    for p in ws.report_dir(cycle).glob("*/*.html"):
        p.unlink()
    rep = load_report(ws, cycle)
    started = time.perf_counter()
    render._task_pages(rep, workers=workers)
    return time.perf_counter() - started, len(rep.records.tasks)


def pages_side_by_side(ws: Workspace, cycle: int, *, workers: int, target: int = 2500, cores: int = 16) -> None:
    """Task pages on one process and on ``workers``, then the ``target``-task report projected on ``cores``."""
    old = render.PAGES_PER_WORKER
    render.PAGES_PER_WORKER = 1
    try:
        serial, n = _pages(ws, cycle, 1)
        pooled, _ = _pages(ws, cycle, workers)
    finally:
        render.PAGES_PER_WORKER = old
    started = time.perf_counter()
    render.render_cycle_page(ws, cycle)
    rest = (time.perf_counter() - started) / n  # the cycle page's own cost per task (it runs once, last)
    efficiency = serial / (pooled * workers)
    per_page = serial / n
    projected = target * per_page / (cores * efficiency) + target * rest
    print(f"task pages and notebooks, {n} tasks: one process {serial:.1f} s ({per_page:.2f} s a task); {workers} processes {pooled:.1f} s ({serial / pooled:.2f} ×, {efficiency:.0%} efficiency)")
    print(f"projected {target}-task report on {cores} cores: pages {target * per_page / (cores * efficiency) / 60:.1f} min + cycle page {target * rest / 60:.1f} min = {projected / 60:.1f} min (serial: {target * (per_page + rest) / 60:.0f} min)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", default=".")
    ap.add_argument("--cycle", type=int, default=None)
    ap.add_argument("--horizons", default="1,3,7,14,30")
    ap.add_argument("--workers", type=int, default=2, help="processes of the parallel page render")
    args = ap.parse_args()
    source = Workspace.from_env(args.workspace)
    copy = Workspace(root=Path(tempfile.mkdtemp(prefix="bistlab-bench-report-")))
    shutil.copytree(source.root, copy.root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("reports"))
    copy.ensure()
    cycle = args.cycle or StateFile(copy.state_file).read().cycle
    made = synthesize(copy, cycle, [int(h) for h in args.horizons.split(",")])
    tasks = len(StateFile(copy.state_file).read().cycle_tasks(cycle))
    started = time.perf_counter()
    update_predictions(copy, cycle)
    forecasts = time.perf_counter() - started
    started = time.perf_counter()
    main_html = render_report(copy, cycle)
    first = time.perf_counter() - started
    started = time.perf_counter()
    render_report(copy, cycle)
    second = time.perf_counter() - started
    folder = copy.report_dir(cycle)
    print(f"workspace copy: {copy.root} ({tasks} tasks, {made} cloned)")
    print(f"forecasts (refits of the final models, before the report): {forecasts:.1f} s")
    print(f"render from scratch: {first:.1f} s; again (cached): {second:.1f} s")
    print(f"main report: {main_html.stat().st_size / 1e6:.2f} MB")
    print(f"task pages: {_size(folder.glob('*/index.html')) / 1e6:.2f} MB in {len(list(folder.glob('*/index.html')))} files")
    print(f"exported notebooks: {_size(folder.glob('*/[het]*.html')) / 1e6:.2f} MB in {len(list(folder.glob('*/[het]*.html')))} files")
    print(f"shared plotly.min.js + notebook.css: {_size([folder / 'plotly.min.js', folder / 'notebook.css']) / 1e6:.2f} MB")
    print(f"{folder.relative_to(copy.root)}/ in all: {_size(p for p in folder.rglob('*') if p.is_file()) / 1e6:.2f} MB")
    pages_side_by_side(copy, cycle, workers=args.workers)
    times = chromium_seconds(main_html)
    if times:
        blank = Path(tempfile.mkdtemp()) / "blank.html"
        blank.write_text("<!DOCTYPE html><html><body>blank</body></html>")
        empty = chromium_seconds(blank, repeats=2)
        print(f"Chromium headless screenshot of the main report: {', '.join(f'{t:.2f}' for t in times)} s (an empty page: {', '.join(f'{t:.2f}' for t in empty)} s)")
    else:
        print("Chromium not installed: no load time")


if __name__ == "__main__":
    main()
