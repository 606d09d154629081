"""A universe cycle on real BIST prices (issue 18's yardstick): every symbol of
``../shared/data/bist_universe`` in one universe task per horizon, beside the per-symbol tasks of
20 symbols, then the figures docs/universe.md reports.

Imports the files into a throwaway workspace (or reuses ``--workspace``), runs ``bistlab cycle run``
as a subprocess under ``/usr/bin/time -v`` (wall time, peak memory of the largest process: a task's
notebook kernel), and prints per horizon: the universe model's pooled holdout DirHit and mean
daily rank IC with their intervals (by liquidity tercile too), the quintile spread, the verdict,
the smallest DirHit each verdict could certify (universe and per-symbol), and each universe task's
HPO / training / evaluation wall time.

Usage: python bench/bench_universe_bist.py [--horizons 1,7,30] [--trials 10] [--models lgbm]
       [--symbols 20 symbols] [--workers 2] [--workspace DIR] [--report-only]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED_UNIVERSE = Path(__file__).resolve().parents[2] / "shared" / "data" / "bist_universe"
SYMBOLS = "AKBNK,ARCLK,ASELS,AYGAZ,BIMAS,EKGYO,ENKAI,EREGL,FROTO,GARAN,ISCTR,KCHOL,KOZAL,PETKM,PGSUS,SAHOL,SISE,TCELL,THYAO,TUPRS"


def _bistlab(ws: Path, *args: str, timed: bool = False) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("bistlab")
    cmd = (["/usr/bin/time", "-v"] if timed and Path("/usr/bin/time").exists() else []) + [str(exe), *args]
    return subprocess.run(cmd, env={**os.environ, "BISTLAB_WORKSPACE": str(ws)}, capture_output=True, text=True)


def _peak_mib(stderr: str) -> float | None:
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(found.group(1)) / 1024 if found else None


def _ci(m: dict, key: str, lo: str, hi: str, scale: float = 1.0, fmt: str = ".1f") -> str:
    value = m.get(key)
    if value is None:
        return "undefined"
    return f"{scale * value:{fmt}} [{scale * m[lo]:{fmt}}, {scale * m[hi]:{fmt}}]"


def _universe_rows(ws: Path, cycle: int, horizon: int) -> list[str]:
    folder = ws / "runs" / f"cycle_{cycle}" / f"UNIVERSE_{horizon}d"
    ev = json.loads((folder / "evaluation.json").read_text())
    best = json.loads((folder / "best_params.json").read_text())
    meta = json.loads((folder / "model.json").read_text())
    m, v = ev["universe"]["metrics"], ev["verdict"]
    terciles = "; ".join(f"T{t['tercile'] + 1} {_ci(t, 'ic_mean', 'ic_lo', 'ic_hi', fmt='.3f')}" for t in m.get("ic_by_tercile") or [])
    return [
        f"h = {horizon}: target {ev['target']}, {ev['universe']['members']} symbols, {m['n_dates']} holdout dates, {m['n_rows']} rows; model {best['model_choice']}",
        f"  masked DirHit {_ci(m, 'dirhit', 'dirhit_lo', 'dirhit_hi')} % on {m['mask_count']} rows ({m['mask_pct']:.1f} %); "
        f"every row {_ci(m, 'all_dirhit', 'all_dirhit_lo', 'all_dirhit_hi')} %",
        f"  baselines on the same rows: persistence {_ci(m, 'persistence_dirhit', 'persistence_lo', 'persistence_hi')} %, "
        f"majority {_ci(m, 'majority_dirhit', 'majority_lo', 'majority_hi')} %; edge over the best {_ci(m, 'edge', 'edge_lo', 'edge_hi')} points",
        f"  mean daily rank IC {_ci(m, 'ic_mean', 'ic_lo', 'ic_hi', fmt='.3f')}, ICIR {m['icir']:.2f}; by liquidity tercile (T1 least liquid): {terciles}",
        f"  top − bottom quintile {_ci(m, 'spread_mean', 'spread_lo', 'spread_hi', scale=100, fmt='.2f')} % per {horizon} sessions; "
        f"after {1e4 * m['cost_per_side']:.0f} bp per side {_ci(m, 'spread_net', 'spread_net_lo', 'spread_net_hi', scale=100, fmt='.2f')} %",
        f"  verdict: {'USABLE' if v['usable'] else 'not usable'} (p = {v['p_value']:.4f}); smallest certifiable DirHit {v.get('min_passing_dirhit') or float('nan'):.1f} %"
        + (f"; {'; '.join(v['reasons'])}" if v.get("reasons") else ""),
        f"  wall: HPO {best.get('hpo_wall_seconds') or 0:.0f} s ({best['n_trials']} trials), training {meta.get('train_wall_seconds') or 0:.0f} s, evaluation {ev.get('eval_wall_seconds') or 0:.0f} s",
    ]


def _per_symbol_rows(ws: Path, cycle: int, horizon: int) -> list[str]:
    from bistlab.evaluation.dirhit import usable_verdict
    from bistlab.evaluation.intervals import min_passing_dirhit

    smallest, usable, n = [], 0, 0
    for folder in sorted((ws / "runs" / f"cycle_{cycle}").glob(f"*_{horizon}d")):
        if folder.name.startswith("UNIVERSE_") or not (folder / "evaluation.json").exists():
            continue
        ev = json.loads((folder / "evaluation.json").read_text())
        verdict = usable_verdict(ev["holdout"], horizon=horizon)
        n += 1
        usable += bool(verdict["passes_rule"])
        smallest.append(verdict["min_passing_dirhit"])
    finite = sorted(s for s in smallest if s is not None)
    none = len(smallest) - len(finite)
    span = f"{finite[0]:.1f}–{finite[-1]:.1f} % (median {finite[len(finite) // 2]:.1f} %)" if finite else "none"
    return [f"  per-symbol tasks: {n} evaluated, {usable} pass their own rule; smallest certifiable DirHit {span}; {none} could certify nothing (even 100 % cannot pass)"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--horizons", default="1,7,30")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--models", default="lgbm")
    ap.add_argument("--symbols", default=SYMBOLS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workspace", type=Path, default=None)
    ap.add_argument("--report-only", action="store_true", help="only print the figures of the workspace's latest cycle")
    args = ap.parse_args()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="bistlab-universe-"))
    ws.mkdir(parents=True, exist_ok=True)
    peak = wall = None
    if not args.report_only:
        if not (ws / "runs" / "prices.sqlite").exists():
            print(_bistlab(ws, "data", "import", str(SHARED_UNIVERSE)).stdout.strip().splitlines()[-1])
        started = time.time()
        run = _bistlab(ws, "cycle", "run", "--horizons", args.horizons, "--trials", str(args.trials), "--models", args.models, "--symbols", args.symbols, "--workers", str(args.workers), "--universe", timed=True)
        wall, peak = time.time() - started, _peak_mib(run.stderr)
        print(run.stdout.strip())
        if run.returncode:
            print(run.stderr[-3000:])
    state = json.loads((ws / "runs" / "state.json").read_text())
    cycle = state["cycle"]
    conf = state.get("config") or {}
    print(f"workspace {ws}, cycle {cycle}: {conf.get('n_trials')} trials per task, models {conf.get('models') or 'all'}, {conf.get('workers')} workers, per-symbol tasks {len(conf.get('symbols') or [])}")
    if wall is not None:
        print(f"cycle wall {wall / 60:.1f} min; peak memory of the largest process {peak or float('nan'):.0f} MiB")
    for h in (int(x) for x in args.horizons.split(",")):
        try:
            print("\n".join(_universe_rows(ws, cycle, h) + _per_symbol_rows(ws, cycle, h)))
        except (OSError, KeyError, ValueError) as err:
            print(f"h = {h}: no universe evaluation ({type(err).__name__}: {err})")


if __name__ == "__main__":
    main()
