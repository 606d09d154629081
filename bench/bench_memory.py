"""Peak memory of one gradient-boosting task on the longest demo series (SP500, about 5,000 rows).

Each arm runs in a fresh process and reports the peak resident set size (``ru_maxrss``) of that
process and of everything it started (the notebook kernels):

- in-process: HPO (default search space), training and evaluation called as functions;
- notebooks: the same three stages as papermill notebooks, as a cycle runs them (the driver's own
  peak and the largest kernel's are given apart).

    python bench/bench_memory.py [--symbol SP500] [--horizon 1] [--trials 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()


def child(mode: str, symbol: str, horizon: int, trials: int) -> None:
    from bench_papermill import as_notebooks, in_process
    from common import universe_of, workspace_with

    ws = workspace_with()
    universe = universe_of(ws)
    kw = {"symbol": symbol, "horizon": horizon, "cycle": 1, "trials": trials}
    rows = len(universe.task(symbol, horizon).frame)
    if mode == "in-process":
        in_process(ws, universe, **kw)
    else:
        as_notebooks(ws, universe.save(ws.root / "universe.pkl"), **kw)
    print(json.dumps({"rows": rows, "self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbol", default="SP500")
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    print(f"{args.symbol} h={args.horizon}, {args.trials} trials of the default space, 1 thread per fit")
    print("| how | rows | peak RSS of the process | largest notebook kernel |")
    print("|---|---|---|---|")
    for mode in ("in-process", "notebooks"):
        out = subprocess.run([sys.executable, str(HERE), "--child", mode, args.symbol, str(args.horizon), str(args.trials)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        kernel = f"{r['children_kib'] / 1024:.0f} MiB" if mode == "notebooks" else "–"
        print(f"| {mode} | {r['rows']} | {r['self_kib'] / 1024:.0f} MiB | {kernel} |")


if __name__ == "__main__":
    main()
