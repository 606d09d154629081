"""A cycle of 500 symbols × 5 horizons, projected from a measured one, with and without universe tasks.

Measures a real cycle (papermill notebooks, SQLite studies, one worker with one thread per fit:
one core's throughput) of a few BIST symbols over the default horizons at the default trial
count, then the report of that cycle (forecasts, then render), and projects the wall time of
``--symbols-target`` × the default horizons on 2, 16 and 64 cores run by Dask. ``--per-task-seconds``
and ``--report-per-task`` skip the measurement and project from given figures instead.

Universe tasks (one per horizon, every symbol pooled into one panel: docs/universe.md) are added
from their measured wall time (HPO + training + evaluation, ``--universe-trials`` lgbm trials) at
190 symbols of ``../shared/data/bist_universe`` (:data:`UNIVERSE_190`), scaled to the target's
symbols in proportion to the panel's rows; ``--universe-measure 40,80`` measures a universe task
at those sizes here first (in-process, h = ``--universe-horizon``) and prints the seconds per
1,000 panel rows each cost, which checks the proportional scaling.

Assumptions, printed with the table:
- a per-symbol task costs what the measured tasks cost on average (the BIST files hold about 1,377
  rows each; costs grow with rows: the 5,000-row demo series cost about twice as much);
- a universe task costs in proportion to its panel rows: a trial's and a refit's LightGBM trees
  cost rows × features, the trial and refit counts do not depend on the symbols; 500 symbols
  hold 500/190 of the rows of 190 (as many sessions each; newer listings hold fewer, so this
  errs long); h = 3 costs what h = 1 did, h = 14 what h = 7 did (the nearest measured horizon);
- one Dask worker per core, one thread per fit (measured faster than two threads per fit on
  these data sizes: ``bench/bench_parallel.py``), at ``--efficiency`` of the single-worker
  throughput each (the 2-worker cycle's measured ratio / 2 on this machine);
- the schedule: longest tasks first (the universe tasks), each task to the first free worker
  (simulated, task by task); the studies live in PostgreSQL (``--optuna-url``, as Dask requires),
  whose per-trial writes (tens of milliseconds) are assumed not to saturate the server;
- the report runs once in the driver, its cost growing linearly with tasks.

    python bench/projection.py [--symbols THYAO,GARAN] [--trials 20] [--efficiency 0.85]
                               [--per-task-seconds 49.9 --report-per-task 0.62] [--universe-measure 40,80]
"""

from __future__ import annotations

import argparse
import heapq
import shutil
import tempfile
import time
from pathlib import Path

from common import workspace_with

from bistlab.config import DEFAULT_HORIZONS, CycleConfig
from bistlab.runs.cycle import run_cycle
from bistlab.runs.pipeline import evaluate_step, hpo_step, read_step_input, train_step
from bistlab.runs.predict import update_predictions
from bistlab.report import render_report
from bistlab.core.state import StateFile, TaskStatus

SHARED_UNIVERSE = Path(__file__).resolve().parents[2] / "shared" / "data" / "bist_universe"
UNIVERSE_190 = {1: (280.0, 71.0, 140.0), 7: (130.0, 9.0, 29.0), 30: (127.0, 9.0, 29.0)}
"""Measured universe task walls at 190 symbols (about 200,000 panel rows), 10 lgbm trials: HPO,
training, evaluation seconds per horizon (docs/universe.md, ``bench/bench_universe_bist.py``, a
2-core machine with other jobs beside it)."""
UNIVERSE_MEASURED_SYMBOLS = 190
UNIVERSE_MEASURED_TRIALS = 10


def measure_cycle(symbols: tuple[str, ...], trials: int) -> tuple[float, float]:
    """Seconds per task of a real cycle of ``symbols`` × the default horizons (one core), and of its report per task."""
    ws = workspace_with(symbols)
    # per-symbol tasks only: the universe tasks are projected from their own measured costs
    config = CycleConfig(horizons=DEFAULT_HORIZONS, symbols=symbols, n_trials=trials, workers=1, n_jobs=1, universe=False)
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
    print(f"Measured: {done} tasks ({', '.join(symbols)} × h {list(DEFAULT_HORIZONS)}, {trials} trials each) in {cycle_wall:.0f} s on one core: {cycle_wall / done:.1f} s per task; report {report_wall:.1f} s ({report_wall / done:.2f} s per task, of which forecasts {forecast_wall:.1f} s)")
    return cycle_wall / done, report_wall / done


def measure_universe(n_symbols: int, horizon: int, trials: int) -> tuple[int, float, float, float]:
    """One universe task of the first ``n_symbols`` files of the BIST universe, in-process on one
    core, without pruning (the sampler's seed draws the same first trials at every size): its panel
    rows and the HPO, training and evaluation seconds."""
    folder = Path(tempfile.mkdtemp(prefix="bistlab-bench-universe-"))
    for path in sorted(SHARED_UNIVERSE.glob("*.csv"))[:n_symbols]:
        shutil.copy(path, folder / path.name)
    ws = workspace_with(data=folder)
    marks = [time.perf_counter()]
    hpo_step(ws, "UNIVERSE", horizon, cycle=1, n_trials=trials, models=["lgbm"], pruner="none")  # no pruning: the same trials at every size
    marks.append(time.perf_counter())
    train_step(ws, "UNIVERSE", horizon, cycle=1)
    marks.append(time.perf_counter())
    evaluate_step(ws, "UNIVERSE", horizon, cycle=1)
    marks.append(time.perf_counter())
    rows = read_step_input(ws, "UNIVERSE", horizon, cycle=1)[1].n_rows
    hpo, train, evaluate = (b - a for a, b in zip(marks, marks[1:]))
    return rows, hpo, train, evaluate


def universe_seconds(horizon: int, n_symbols: int, trials: int = UNIVERSE_MEASURED_TRIALS) -> float:
    """A universe task's projected seconds (HPO + training + evaluation) at ``n_symbols`` and
    ``trials``: the nearest measured horizon's, in proportion to the symbols (the panel's rows), its
    HPO in proportion to the trials."""
    nearest = min(UNIVERSE_190, key=lambda h: (abs(h - horizon), -sum(UNIVERSE_190[h])))
    hpo, train, evaluate = UNIVERSE_190[nearest]
    return (hpo * trials / UNIVERSE_MEASURED_TRIALS + train + evaluate) * n_symbols / UNIVERSE_MEASURED_SYMBOLS


def schedule_hours(task_seconds: list[float], cores: int, efficiency: float) -> float:
    """Wall hours of ``task_seconds`` on ``cores`` workers at ``efficiency``: longest first, each to
    the first free worker."""
    free = [0.0] * cores
    for seconds in sorted(task_seconds, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + seconds / efficiency)
    return max(free) / 3600


def print_projection(args: argparse.Namespace, per_task: float, report_per_task: float) -> None:
    horizons = list(DEFAULT_HORIZONS)
    symbol_tasks = [per_task] * (args.symbols_target * len(horizons))
    universe = [args.universe_cost_factor * universe_seconds(h, args.symbols_target, args.universe_trials) for h in horizons]
    print(f"\nUniverse tasks at {args.symbols_target} symbols (HPO + training + evaluation, {args.universe_trials} lgbm trials, × {args.universe_cost_factor:g}), h {horizons}: " + ", ".join(f"{s / 60:.1f} min" for s in universe))
    print(f"Projection: {args.symbols_target} symbols × {len(horizons)} horizons, {args.trials} trials per per-symbol task, Dask, one worker per core at {args.efficiency:.0%} efficiency, longest tasks first")
    print("| night | cores | tasks | tasks (hours) | report (minutes) | total (hours) |")
    print("|---|---|---|---|---|---|")
    nights = {"per-symbol tasks only": symbol_tasks, "per-symbol + universe tasks": symbol_tasks + universe, "universe tasks only": universe}
    for name, tasks in nights.items():
        for cores in (2, 16, 64):
            run_h = schedule_hours(tasks, cores, args.efficiency)
            report_min = len(tasks) * report_per_task / 60
            print(f"| {name} | {cores} | {len(tasks)} | {run_h:.2f} | {report_min:.1f} | {run_h + report_min / 60:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", default="THYAO,GARAN")
    ap.add_argument("--trials", type=int, default=CycleConfig().n_trials)
    ap.add_argument("--efficiency", type=float, default=0.85, help="per-worker throughput with every core busy, as a share of one worker alone")
    ap.add_argument("--symbols-target", type=int, default=500)
    ap.add_argument("--per-task-seconds", type=float, help="skip the cycle's measurement: seconds per per-symbol task")
    ap.add_argument("--report-per-task", type=float, default=0.62, help="with --per-task-seconds: the report's seconds per task")
    ap.add_argument("--universe-measure", default="", help="symbol counts at which to measure a universe task first, e.g. 40,80")
    ap.add_argument("--universe-horizon", type=int, default=7)
    ap.add_argument("--universe-cost-factor", type=float, default=1.0, help="universe tasks cost this many times the scaled 190-symbol figures (sensitivity)")
    ap.add_argument("--universe-trials", type=int, default=UNIVERSE_MEASURED_TRIALS, help="lgbm trials per universe task (measured: 10; HPO scales in proportion)")
    args = ap.parse_args()
    for n in [int(x) for x in args.universe_measure.split(",") if x]:
        rows, hpo, train, evaluate = measure_universe(n, args.universe_horizon, args.universe_trials)
        total = hpo + train + evaluate
        print(f"Universe task measured: {n} symbols, h = {args.universe_horizon}, {rows} panel rows, {args.universe_trials} lgbm trials: HPO {hpo:.1f} s, training {train:.1f} s, evaluation {evaluate:.1f} s; {1000 * total / rows:.2f} s per 1,000 rows")
    h = args.universe_horizon
    if h in UNIVERSE_190:
        print(f"Universe task at 190 symbols (docs/universe.md), h = {h}: {sum(UNIVERSE_190[h]):.0f} s, about 200,000 panel rows: {1000 * sum(UNIVERSE_190[h]) / 200_000:.2f} s per 1,000 rows")
    if args.per_task_seconds is None:
        per_task, report_per_task = measure_cycle(tuple(args.symbols.split(",")), args.trials)
    else:
        per_task, report_per_task = args.per_task_seconds, args.report_per_task
    print_projection(args, per_task, report_per_task)


if __name__ == "__main__":
    main()
