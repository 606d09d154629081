"""The usable rule's yardstick (DESIGN.md "Statistical honesty"): how often a no-skill model passes.

For each horizon, simulates holdouts of a random walk predicted by persistent no-skill calls (the
sign of an AR(1), φ = 0.97) and, beside them, holdouts with a planted real signal (label plus
noise, about 70 % DirHit), and runs bistlab's real split metrics and usable rule on each
(:mod:`bistlab.calibration`). The no-skill pass rate must stay at or below 2.5 % (3 % with the
simulation's own noise) at every horizon; the planted signal should pass at h = 1 in most holdouts.

Usage: python bench/bench_usable_rule.py [--sims 2000] [--planted-sims 500] [--horizons 1,3,7,14,30] [--holdout 120]
"""

from __future__ import annotations

import argparse
import time

from bistlab.calibration import simulate_rule


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--planted-sims", type=int, default=500)
    ap.add_argument("--horizons", default="1,3,7,14,30")
    ap.add_argument("--holdout", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    started = time.time()
    print(f"usable rule on simulated holdouts of {args.holdout} rows; {args.sims} no-skill and {args.planted_sims} planted-signal holdouts per horizon")
    print(f"{'h':>3} | {'no skill: pass rate':>20} {'mean DirHit':>11} {'masked':>7} {'n_eff':>6} | {'planted: pass rate':>19} {'mean DirHit':>11} | yardstick (≤ 3 %)")
    for h in (int(x) for x in args.horizons.split(",")):
        none = simulate_rule(h, n_sims=args.sims, n_holdout=args.holdout, seed=args.seed)
        planted = simulate_rule(h, n_sims=args.planted_sims, n_holdout=args.holdout, planted=True, seed=args.seed + 1)
        verdict = "holds" if none.pass_rate <= 0.03 else "FAILS"
        print(
            f"{h:>3} | {100 * none.pass_rate:>19.2f}% {none.mean_dirhit:>10.1f}% {none.mean_count:>7.1f} {none.mean_n_eff:>6.1f} | "
            f"{100 * planted.pass_rate:>18.1f}% {planted.mean_dirhit:>10.1f}% | {verdict}"
        )
    print(f"({time.time() - started:.1f} s)")


if __name__ == "__main__":
    main()
