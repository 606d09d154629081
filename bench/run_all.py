"""Every performance benchmark of issue 13 in one go, each printing its table (Markdown).

    python bench/run_all.py            # the sizes docs/performance.md reports (about 75 minutes on 2 cores)
    python bench/run_all.py --quick    # small sizes: checks that every benchmark runs (about 15 minutes)
    python bench/run_all.py --only peer,pruning

The BIST benchmarks need ``../shared/data/bist`` beside the checkout (the peer, trial time,
pruning, parallel and projection); the papermill and memory ones run on the embedded demo data.
Each runs in its own process, one after the other: never two at once, so that they do not
measure each other.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES: dict[str, tuple[list[str], list[str]]] = {
    # name: (full arguments, quick arguments)
    "peer": (["peer_plain_optuna.py", "--trials", "30", "--seeds", "3"], ["peer_plain_optuna.py", "--trials", "8", "--seeds", "1"]),
    "trial_time": (["bench_trial_time.py", "--trials", "20", "--seeds", "2"], ["bench_trial_time.py", "--trials", "6", "--seeds", "1", "--horizons", "1", "--fit-symbols", "THYAO", "--configs", "1"]),
    "storage": (["bench_storage.py"], ["bench_storage.py", "--trials", "5", "--repeats", "1"]),
    "ensemble_cost": (["bench_ensemble_cost.py"], ["bench_ensemble_cost.py", "--tasks", "THYAO:1", "--trials", "4"]),
    "pruning": (["bench_pruning.py", "--trials", "20", "--seeds", "3"], ["bench_pruning.py", "--trials", "6", "--seeds", "1", "--symbols", "THYAO,GARAN"]),
    "parallel": (["bench_parallel.py"], ["bench_parallel.py", "--trials", "2", "--horizons", "1", "--study-trials", "6"]),
    "papermill": (["bench_papermill.py"], ["bench_papermill.py", "--trials", "2", "--repeats", "1"]),
    "memory": (["bench_memory.py"], ["bench_memory.py", "--trials", "4"]),
    "projection": (["projection.py"], ["projection.py", "--symbols", "THYAO", "--trials", "2"]),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated, from: {', '.join(BENCHES)}")
    args = ap.parse_args()
    failed = []
    for name in args.only.split(","):
        full, quick = BENCHES[name]
        cmd = [sys.executable, str(HERE / (quick if args.quick else full)[0]), *(quick if args.quick else full)[1:]]
        print(f"\n## {name}: {' '.join(cmd[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.run(cmd, cwd=HERE).returncode
        print(f"({name}: {time.perf_counter() - started:.0f} s{'' if code == 0 else f', exit code {code}'})", flush=True)
        if code:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
