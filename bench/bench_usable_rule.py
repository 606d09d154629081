"""The usable rule's yardstick (DESIGN.md "Statistical honesty": "Overlapping labels" and "Power").

For each model and horizon, simulates holdouts of a random walk and runs bistlab's real split
metrics and usable rule on each (:mod:`bistlab.evaluation.calibration`):

- no skill, persistent calls (the signs of an AR(1), φ = 0.97) on every row, and the same calls on
  the 20 % of rows a latent AR(1) with φ = 0.8, 0.9 or 0.97 picks (clustered calls): the rule may
  pass at most 2.5 % of them at every h in {1, 3, 7, 14, 30};
- power: a model with true DirHit 65 % on every row at h = 1 must pass at least 80 % of them.

Prints a Markdown table (pass rate with the simulation's own 95 % interval) ready for docs/statistics.md,
then the mean masked rows and effective counts, the verdicts and the wall time. ``--strict`` exits
1 when a yardstick fails.

Usage: python bench/bench_usable_rule.py [--sims 10000] [--power-sims 10000] [--horizons 1,3,7,14,30]
       [--power-horizons 1] [--holdout 120] [--seed 0] [--strict]
"""

from __future__ import annotations

import argparse
import sys
import time

from bistlab.evaluation.calibration import NO_SKILL_MODELS, PLANTED_65, SimulationResult, simulate_rule

NO_SKILL_LIMIT = 0.025
POWER_FLOOR = 0.80


def _cell(r: SimulationResult | None, digits: int) -> str:
    if r is None:
        return "–"
    return f"{100 * r.pass_rate:.{digits}f} % ({100 * r.pass_low:.{digits}f}–{100 * r.pass_high:.{digits}f})"


def _table(results: dict[str, dict[int, SimulationResult]], horizons: list[int], power_name: str) -> list[str]:
    """The Markdown table: one row per model, one column per horizon."""
    lines = ["| model | " + " | ".join(f"h = {h}" for h in horizons) + " |", "|---|" + "---:|" * len(horizons)]
    for name, by_h in results.items():
        digits = 1 if name == power_name else 2
        label = f"power: {name}" if name == power_name else name
        lines.append(f"| {label} | " + " | ".join(_cell(by_h.get(h), digits) for h in horizons) + " |")
    return lines


def _counts(results: dict[str, dict[int, SimulationResult]], horizons: list[int]) -> list[str]:
    """Mean masked rows → mean effective count per model and horizon."""
    lines = ["| mean masked rows → n_eff | " + " | ".join(f"h = {h}" for h in horizons) + " |", "|---|" + "---:|" * len(horizons)]
    for name, by_h in results.items():
        cells = [f"{by_h[h].mean_count:.0f} → {by_h[h].mean_n_eff:.1f}" if h in by_h else "–" for h in horizons]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _verdicts(results: dict[str, dict[int, SimulationResult]], power_name: str) -> tuple[list[str], bool]:
    """The yardstick lines and whether both hold."""
    no_skill = [r for name, by_h in results.items() if name != power_name for r in by_h.values()]
    worst = max(no_skill, key=lambda r: r.pass_rate)
    ok_none = all(r.pass_rate <= NO_SKILL_LIMIT for r in no_skill)
    lines = [f"no skill ≤ {100 * NO_SKILL_LIMIT:.1f} % in every cell: {'holds' if ok_none else 'FAILS'} (highest {100 * worst.pass_rate:.2f} %: {worst.model}, h = {worst.horizon})"]
    ok_power = True
    for h, r in sorted(results.get(power_name, {}).items()):
        ok = r.pass_rate >= POWER_FLOOR
        ok_power &= ok or h != 1
        lines.append(
            f"power ≥ {100 * POWER_FLOOR:.0f} % at h = {h}: {'holds' if ok else 'FAILS'} ({100 * r.pass_rate:.1f} %; mean DirHit {r.mean_dirhit:.1f} % "
            f"on {r.mean_count:.0f} masked rows; lower bound above 50 % alone, without the baselines: {100 * r.above_50_rate:.1f} %)"
        )
    return lines, ok_none and ok_power


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=10_000, help="no-skill holdouts per model and horizon")
    ap.add_argument("--power-sims", type=int, default=10_000, help="holdouts of the planted 65 %% model per horizon")
    ap.add_argument("--horizons", default="1,3,7,14,30")
    ap.add_argument("--power-horizons", default="1")
    ap.add_argument("--holdout", type=int, default=120, help="rows per holdout")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a yardstick fails")
    args = ap.parse_args()
    horizons = [int(x) for x in args.horizons.split(",")]
    power_horizons = [int(x) for x in args.power_horizons.split(",") if x]
    started = time.time()
    results: dict[str, dict[int, SimulationResult]] = {}
    for i, model in enumerate(NO_SKILL_MODELS):
        results[model.name] = {h: simulate_rule(h, model=model, n_sims=args.sims, n_holdout=args.holdout, seed=args.seed + 100 * i + h) for h in horizons}
    results[PLANTED_65.name] = {h: simulate_rule(h, model=PLANTED_65, n_sims=args.power_sims, n_holdout=args.holdout, seed=args.seed + 1000 + h) for h in power_horizons}
    print(
        f"Usable rule on simulated {args.holdout}-row holdouts of a random walk (daily sd 2 %): share of holdouts that pass, "
        f"with the simulation's own 95 % interval; {args.sims:,} holdouts per no-skill cell, {args.power_sims:,} for the power row.\n"
    )
    print("\n".join(_table(results, horizons, PLANTED_65.name)))
    print()
    print("\n".join(_counts(results, horizons)))
    print()
    lines, ok = _verdicts(results, PLANTED_65.name)
    print("\n".join(lines))
    print(f"({time.time() - started:.1f} s)")
    if args.strict and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
