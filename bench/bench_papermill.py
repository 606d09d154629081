"""Papermill's overhead: a task's three stages run as notebooks (as a cycle runs them) against the
same step functions called in-process, side by side.

Each arm runs the task in its own cycle folder of one workspace, with the same parameters and the
same snapshot of the prices; the in-process arm runs in a process that has already imported
bistlab and run one task (what an in-process runner pays once), the two arms alternate. The overhead per notebook is the difference
in wall time divided by the notebooks run: a kernel's start, its imports, the figures and tables
the notebook shows, and writing the executed notebook.

    python bench/bench_papermill.py [--symbol SP500] [--horizon 1] [--trials 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import universe_of, workspace_with

from bistlab.runs import notebooks, pipeline
from bistlab.config import DEFAULT_PRUNER

STAGES = ("hpo", "train", "evaluate")


def in_process(ws, universe, *, symbol: str, horizon: int, cycle: int, trials: int) -> dict[str, float]:
    walls = {}
    started = time.perf_counter()
    pipeline.hpo_step(ws, symbol, horizon, cycle=cycle, n_trials=trials, seed=0, n_jobs=1, universe=universe, pruner=DEFAULT_PRUNER)
    walls["hpo"] = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.train_step(ws, symbol, horizon, cycle=cycle, n_jobs=1, universe=universe)
    walls["train"] = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.evaluate_step(ws, symbol, horizon, cycle=cycle, n_jobs=1, universe=universe)
    walls["evaluate"] = time.perf_counter() - started
    return walls


def as_notebooks(ws, snapshot, *, symbol: str, horizon: int, cycle: int, trials: int) -> dict[str, float]:
    common = {"universe_file": str(snapshot), "workspace": str(ws.root), "db_url": ws.db_url, "optuna_url": ws.optuna_url, "symbol": symbol, "horizon": horizon, "cycle": cycle, "n_jobs": 1}
    extra = {"hpo": {"n_trials": trials, "seed": 0, "models": None, "warm_start": None, "pruner": DEFAULT_PRUNER}}
    walls = {}
    for stage in STAGES:
        started = time.perf_counter()
        notebooks.execute(stage, ws.root / "bench" / f"{cycle}_{stage}.ipynb", parameters={**common, **extra.get(stage, {})}, cwd=ws.root)
        walls[stage] = time.perf_counter() - started
    return walls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbol", default="SP500")
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2, help="tasks per arm (each in its own cycle folder)")
    args = ap.parse_args()
    ws = workspace_with()
    universe = universe_of(ws)
    snapshot = universe.save(ws.root / "universe.pkl")
    runs: dict[str, list[dict[str, float]]] = {"in-process": [], "notebooks": []}
    kw = {"symbol": args.symbol, "horizon": args.horizon, "trials": args.trials}
    in_process(ws, universe, cycle=99, **kw)  # warm-up, not counted: the model libraries' first imports
    for i in range(args.repeats):
        runs["in-process"].append(in_process(ws, universe, cycle=100 + i, **kw))
        runs["notebooks"].append(as_notebooks(ws, snapshot, cycle=200 + i, **kw))
    print(f"{args.symbol} h={args.horizon}, {args.trials} trials, {args.repeats} tasks per arm (median seconds per stage)")
    print("| stage | in-process | notebook | overhead per notebook |")
    print("|---|---|---|---|")
    for stage in STAGES:
        a, b = (float(np.median([r[stage] for r in runs[arm]])) for arm in ("in-process", "notebooks"))
        print(f"| {stage} | {a:.2f} s | {b:.2f} s | {b - a:+.2f} s |")
    total = {arm: float(np.median([sum(r.values()) for r in rs])) for arm, rs in runs.items()}
    print(f"| task | {total['in-process']:.2f} s | {total['notebooks']:.2f} s | {(total['notebooks'] - total['in-process']) / len(STAGES):+.2f} s per notebook on average |")


if __name__ == "__main__":
    main()
