"""Parallel scaling on this machine, side by side in one run.

1. **A cycle with 1 and 2 workers**: the demo data (3 symbols) × the horizons, the same trial
   budget, each task's three notebooks run by papermill as in ``bistlab cycle run --workers N``
   (threads per fit: cores / workers): wall time and tasks per minute, and the ratio.
2. **Threads per fit vs parallel trials**: one study of the default space (a SQLite file) run by
   one process with 1 or 2 threads per fit, or by 2 processes sharing it with 1 thread each.
3. **Spinning vs sleeping threads when cores are shared**: 2 processes sharing a study with 2
   threads per fit each (twice as many threads as cores), OpenMP threads spinning
   (``OMP_WAIT_POLICY=ACTIVE``, the libraries' default) or sleeping (``PASSIVE``, bistlab's default).

    python bench/bench_parallel.py [--trials 8] [--horizons 1,7] [--study-trials 30] [--symbol THYAO]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import study_url, universe_of, workspace_with

from bistlab.config import CycleConfig
from bistlab.runs.cycle import run_cycle
from bistlab.evaluation.walkforward import make_evaluation_spec
from bistlab.search.hpo import finished_trials, open_study, run_hpo
from bistlab.core.state import StateFile, TaskStatus
from bistlab.evaluation.universe import Universe

HERE = Path(__file__).resolve()


# ---------------------------------------------------------------- 1. a cycle, 1 and 2 workers


def cycle_run(workers: int, *, horizons: tuple[int, ...], trials: int) -> dict[str, float]:
    ws = workspace_with()
    started = time.perf_counter()
    run_cycle(ws, CycleConfig(horizons=horizons, n_trials=trials, workers=workers), report=False)
    wall = time.perf_counter() - started
    tasks = StateFile(ws.state_file).read().tasks
    done = sum(t.status == TaskStatus.COMPLETED for t in tasks.values())
    return {"wall": wall, "tasks": done, "per_min": 60 * done / wall}


# ---------------------------------------------------------------- 2 and 3. processes sharing a study


def worker(url: str, snapshot: str, symbol: str, horizon: int, trials: int, n_jobs: int, seed: int) -> None:
    """One process's share of a study (``run_hpo`` is safe with several processes on one study)."""
    task = Universe.load(Path(snapshot)).task(symbol, horizon)
    study = open_study(url, "bench", seed=seed)
    run_hpo(task, make_evaluation_spec(task), study=study, n_trials=trials, n_jobs=n_jobs, seed=0, coverage=False)


def shared_study(processes: int, n_jobs: int, *, snapshot: Path, symbol: str, horizon: int, trials: int, wait_policy: str = "PASSIVE") -> dict[str, float]:
    url = study_url()
    env = {**os.environ, "OMP_WAIT_POLICY": wait_policy}
    cmd = [sys.executable, str(HERE), "--worker", url, str(snapshot), symbol, str(horizon), str(trials), str(n_jobs)]
    started = time.perf_counter()
    procs = [subprocess.Popen([*cmd, str(seed)], env=env) for seed in range(processes)]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - started
    if any(codes):
        raise SystemExit(f"a worker failed: exit codes {codes}")
    import optuna

    finished = len(finished_trials(optuna.load_study(study_name="bench", storage=url)))
    return {"wall": wall, "trials": finished, "per_min": 60 * finished / wall}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, snapshot, symbol, horizon, trials, n_jobs, seed = sys.argv[2:9]
        worker(url, snapshot, symbol, int(horizon), int(trials), int(n_jobs), int(seed))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8, help="trials per task in the cycles of table 1")
    ap.add_argument("--horizons", default="1,7")
    ap.add_argument("--study-trials", type=int, default=30, help="finished trials of the study in tables 2 and 3")
    ap.add_argument("--symbol", default="THYAO")
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument("--skip-cycles", action="store_true")
    args = ap.parse_args()
    horizons = tuple(int(h) for h in args.horizons.split(","))
    print(f"{os.cpu_count()} cores")
    if not args.skip_cycles:
        cycles = {w: cycle_run(w, horizons=horizons, trials=args.trials) for w in (1, 2)}
        print(f"\n1. A cycle: demo data (3 symbols) × h {args.horizons}, {args.trials} trials per task, notebooks by papermill")
        print("| workers | threads per fit | tasks | wall | tasks/min |")
        print("|---|---|---|---|---|")
        for w, r in cycles.items():
            print(f"| {w} | {CycleConfig(workers=w).n_jobs} | {r['tasks']} | {r['wall']:.0f} s | {r['per_min']:.2f} |")
        print(f"2 workers / 1 worker, tasks per minute: {cycles[2]['per_min'] / cycles[1]['per_min']:.2f}x")
    snapshot = Path(tempfile.mkdtemp(prefix="bistlab-bench-")) / "universe.pkl"
    universe_of(workspace_with([args.symbol])).save(snapshot)
    kw = {"snapshot": snapshot, "symbol": args.symbol, "horizon": args.horizon, "trials": args.study_trials}
    arms = {
        "1 process, 1 thread per fit": shared_study(1, 1, **kw),
        "1 process, 2 threads per fit": shared_study(1, 2, **kw),
        "2 processes sharing the study, 1 thread each": shared_study(2, 1, **kw),
    }
    print(f"\n2. Threads per fit vs parallel trials: one study, default space, {args.symbol} h={args.horizon}, {args.study_trials} finished trials")
    print("| how | wall | trials/min | vs 1 process, 2 threads |")
    print("|---|---|---|---|")
    ref = arms["1 process, 2 threads per fit"]["per_min"]
    for name, r in arms.items():
        print(f"| {name} | {r['wall']:.0f} s | {r['per_min']:.1f} | {r['per_min'] / ref:.2f}x |")
    few = {**kw, "trials": max(4, args.study_trials // 3)}  # spinning threads make this arm 15x slower: fewer trials
    over = {policy: shared_study(2, 2, wait_policy=policy, **few) for policy in ("ACTIVE", "PASSIVE")}
    print(f"\n3. Oversubscribed: 2 processes × 2 threads per fit on the shared study, {few['trials']} finished trials")
    print("| OpenMP threads waiting by | wall | trials/min |")
    print("|---|---|---|")
    for policy, r in over.items():
        print(f"| {'spinning (ACTIVE, the libraries default)' if policy == 'ACTIVE' else 'sleeping (PASSIVE, bistlab default)'} | {r['wall']:.0f} s | {r['per_min']:.1f} |")


if __name__ == "__main__":
    main()
