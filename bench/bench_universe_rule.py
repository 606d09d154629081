"""The universe rule's yardstick (DESIGN.md "Universe models"): how often it calls a model usable.

For each horizon, simulates universe holdouts (100 symbols × 1,400 sessions of daily log returns,
one market factor, mean pairwise correlation 0.3; target: the h-day return in excess of the date's
cross-sectional median; holdout: the last 120 labelled sessions) and runs bistlab's real panel
metrics and universe verdict on each (:func:`bistlab.evaluation.universe_simulation.simulate_universe_rule`), for
three models without skill (``none``: a per-symbol AR(1), φ = 0.97; ``common``: half of it shared
by every symbol; ``clustered``: persistent calls on the 20 % of rows a latent AR(1) picks) and one
with skill (``skilled``: the right sign with probability 53 % at h = 1, 57 % beyond).

The yardstick: no-skill models usable in at most 2.5 % of runs at every horizon; the skilled model
in at least 80 % at h = 1 and h = 7. Each rate is printed with its count and a 95 % Wilson interval.

Usage: python bench/bench_universe_rule.py [--runs 1000] [--skilled-runs N] [--horizons 1,7,30] [--seed 0] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bistlab.evaluation.intervals import wilson_interval
from bistlab.evaluation.universe_simulation import SKILLS, simulate_universe_rule

NO_SKILL_MAX = 2.5
SKILLED_MIN = 80.0
POWER_HORIZONS = (1, 7)


def _cell(args: tuple[int, str, int, int]) -> dict[str, Any]:
    horizon, skill, runs, seed = args
    started = time.perf_counter()
    out = simulate_universe_rule(horizon, skill=skill, runs=runs, seed=seed)
    out["seconds"] = time.perf_counter() - started
    return out


def _yardstick(r: dict[str, Any]) -> str:
    rate = 100.0 * r["usable_rate"]
    if r["skill"] != "skilled":
        return f"≤ {NO_SKILL_MAX:g} %: {'holds' if rate <= NO_SKILL_MAX else 'FAILS'}"
    if r["horizon"] in POWER_HORIZONS:
        return f"≥ {SKILLED_MIN:g} %: {'holds' if rate >= SKILLED_MIN else 'FAILS'}"
    return "(not required)"


def _row(r: dict[str, Any]) -> str:
    lo, hi = wilson_interval(r["usable"], r["runs"]) or (float("nan"), float("nan"))
    p = r["passes"]
    dirhit = "—" if r["mean_dirhit"] is None else f"{r['mean_dirhit']:.2f}"
    ic = "—" if r["mean_ic"] is None else f"{r['mean_ic']:+.4f}"
    return (
        f"| {r['horizon']} | {r['skill']} | {r['runs']} | {r['usable']} | {100 * r['usable_rate']:.2f} % | {lo:.2f}–{hi:.2f} % "
        f"| {p['ic']} | {p['dirhit_vs_50']} | {p['dirhit_vs_baseline']} | {dirhit} | {ic} | {r['block_length']} "
        f"| {r['seconds']:.0f} | {_yardstick(r)} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="holdouts per no-skill cell")
    ap.add_argument("--skilled-runs", type=int, default=None, help="holdouts per skilled cell (default: --runs)")
    ap.add_argument("--horizons", default="1,7,30")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()
    horizons = [int(x) for x in args.horizons.split(",")]
    cells = [
        (h, skill, (args.skilled_runs or args.runs) if skill == "skilled" else args.runs, args.seed * 100_003 + 1_000 * h + i)
        for h in horizons
        for i, skill in enumerate(SKILLS)
    ]
    started = time.perf_counter()
    print(
        f"universe rule on simulated holdouts (100 symbols × 1,400 sessions, pairwise correlation 0.3, excess target, "
        f"holdout 120 sessions, 1,000 bootstrap resamples each); seed {args.seed}, {args.jobs} processes"
    )
    print()
    print("| h | model | runs | usable | rate | 95 % CI | IC passes | DirHit > 50 passes | edge passes | mean DirHit | mean IC | block | s | yardstick |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for result in pool.map(_cell, cells):
            print(_row(result), flush=True)
    print()
    print(f"({time.perf_counter() - started:.0f} s wall)")


if __name__ == "__main__":
    main()
