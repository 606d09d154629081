"""A cycle of 500 symbols × 5 horizons, projected from a measured one.

Measures a real cycle (papermill notebooks, SQLite studies, one worker with one thread per fit:
one core's throughput) of a few BIST symbols over the default horizons at the default trial
count, then the report of that cycle (forecasts, then render), and projects the wall time of
``--symbols-target`` × the default horizons on 2, 16 and 64 cores run by Dask.

Assumptions, printed with the table:
- a task costs what the measured tasks cost on average (the BIST files hold about 1,377 rows each;
  costs grow with rows: the 5,000-row demo series cost about twice as much);
- one Dask worker per core, one thread per fit (measured faster than two threads per fit on
  these data sizes: ``bench/bench_parallel.py``), at ``--efficiency`` of the single-worker
  throughput each (the 2-worker cycle's measured ratio / 2 on this machine);
- tasks are independent and far more numerous than workers, so the last wave's idle workers cost
  at most one task's time; the studies live in PostgreSQL (``--optuna-url``, as Dask requires),
  whose per-trial writes (tens of milliseconds) are assumed not to saturate the server;
- the report runs once in the driver, its cost growing linearly with tasks.

    python bench/projection.py [--symbols THYAO,GARAN] [--trials 20] [--efficiency 0.85]
"""

from __future__ import annotations

import argparse
import math
import time

from common import workspace_with

from bistlab.config import DEFAULT_HORIZONS, CycleConfig
from bistlab.cycle import run_cycle
from bistlab.predict import update_predictions
from bistlab.report import render_report
from bistlab.state import StateFile, TaskStatus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", default="THYAO,GARAN")
    ap.add_argument("--trials", type=int, default=CycleConfig().n_trials)
    ap.add_argument("--efficiency", type=float, default=0.85, help="per-worker throughput with every core busy, as a share of one worker alone")
    ap.add_argument("--symbols-target", type=int, default=500)
    args = ap.parse_args()
    symbols = tuple(args.symbols.split(","))
    ws = workspace_with(symbols)
    config = CycleConfig(horizons=DEFAULT_HORIZONS, symbols=symbols, n_trials=args.trials, workers=1, n_jobs=1)
    started = time.perf_counter()
    run_cycle(ws, config, report=False)
    cycle_wall = time.perf_counter() - started
    state = StateFile(ws.state_file).read()
    done = sum(t.status == TaskStatus.COMPLETED for t in state.tasks.values())
    started = time.perf_counter()
    update_predictions(ws, state.cycle)
    forecast_wall = time.perf_counter() - started
    render_report(ws, state.cycle)
    report_wall = time.perf_counter() - started
    per_task, report_per_task = cycle_wall / done, report_wall / done
    tasks = args.symbols_target * len(DEFAULT_HORIZONS)
    print(f"Measured: {done} tasks ({', '.join(symbols)} × h {list(DEFAULT_HORIZONS)}, {args.trials} trials each) in {cycle_wall:.0f} s on one core: {per_task:.1f} s per task; report {report_wall:.1f} s ({report_per_task:.2f} s per task, of which forecasts {forecast_wall:.1f} s)")
    print(f"\nProjection: {args.symbols_target} symbols × {len(DEFAULT_HORIZONS)} horizons = {tasks} tasks, {args.trials} trials each, Dask, one worker per core at {args.efficiency:.0%} efficiency")
    print("| cores | tasks | tasks at once | waves | tasks (hours) | report (minutes) | total (hours) |")
    print("|---|---|---|---|---|---|---|")
    for cores in (2, 16, 64):
        waves = math.ceil(tasks / cores)
        run_h = (tasks * per_task / (cores * args.efficiency) + per_task) / 3600
        report_min = tasks * report_per_task / 60
        print(f"| {cores} | {tasks} | {cores} | {waves} | {run_h:.1f} | {report_min:.0f} | {run_h + report_min / 60:.1f} |")


if __name__ == "__main__":
    main()
