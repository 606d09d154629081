"""Pruning across walk-forward splits: the same trial budget with each pruner, side by side.

For every symbol × seed, one study of the default search space per pruner (none, Optuna's median
and Wilcoxon pruners, bistlab's cannot-win rule; see :mod:`bistlab.search.pruning`), the same budget of
finished trials. Per pruner: model fits (a count, which a busy machine does not distort) and
fit/predict seconds, the share of seconds saved against no pruning,
the trials pruned, and the best trial (as selection picks it) scored on the holdout: its DirHit
pooled over the runs (hits over every masked holdout row, with that count), its score (mean ± sd
over the runs), and the paired differences against no pruning on the same symbol and seed (a
pruner that loses holdout quality shows a negative difference beyond its spread).

    python bench/bench_pruning.py [--symbols THYAO,GARAN,ASELS,EREGL,BIMAS] [--seeds 3]
                                  [--horizon 1] [--trials 20] [--pruners none,median,wilcoxon,cannot-win]
"""

from __future__ import annotations

import argparse

import numpy as np
import optuna

from common import best_holdout, run_study, universe_of, workspace_with

from bistlab.config import PRUNER_NAMES
from bistlab.search.hpo import trial_attrs


def _mean_sd(values: list[float | None], fmt: str = "{:.1f}") -> str:
    v = [x for x in values if x is not None]
    return f"{fmt.format(np.mean(v))} ± {np.std(v):.1f}" if v else "–"


def _pooled(rs: list[dict[str, float | None]]) -> str:
    hits, count = sum(r["hits"] for r in rs), sum(r["count"] for r in rs)
    return f"{100 * hits / count:.1f} % of {count}" if count else "–"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", default="THYAO,GARAN,ASELS,EREGL,BIMAS")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--pruners", default=",".join(PRUNER_NAMES))
    args = ap.parse_args()
    symbols, pruners = args.symbols.split(","), args.pruners.split(",")
    universe = universe_of(workspace_with(symbols))
    results: dict[str, list[dict[str, float | None]]] = {p: [] for p in pruners}
    for sym in symbols:
        task = universe.task(sym, args.horizon)
        for seed in range(args.seeds):
            for pruner in pruners:
                run = run_study(task, n_trials=args.trials, seed=seed, pruner=pruner)
                hold = best_holdout(run)
                pruned = sum(t.state == optuna.trial.TrialState.PRUNED and "pruned_at_split" in trial_attrs(t) for t in run.study.trials)
                results[pruner].append({"model": run.timers.model_seconds, "fits": sum(run.timers.fits.values()), "wall": run.wall_seconds, "pruned": pruned, **hold})
                print(f"  {sym} seed {seed} {pruner:>10}: wall {run.wall_seconds:5.1f} s, model {run.timers.model_seconds:5.1f} s, pruned {pruned:2d}, holdout DirHit {hold['dirhit']}", flush=True)
    base = results.get("none")
    print(f"\nPruning, default space, h={args.horizon}, {args.trials} finished trials per study, {len(symbols)} symbols × {args.seeds} seeds ({len(symbols) * args.seeds} studies per pruner)")
    print("| pruner | model fits | model fit/predict s (total) | saved vs none | study wall s (total) | trials pruned | best trial's holdout DirHit, pooled | its holdout score | DirHit − none (paired) | score − none (paired) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for pruner, rs in results.items():
        model, wall = sum(r["model"] for r in rs), sum(r["wall"] for r in rs)
        saved = f"{100 * (1 - model / sum(r['model'] for r in base)):.0f} %" if base else "–"
        paired = {key: [None if r[key] is None or b[key] is None else r[key] - b[key] for r, b in zip(rs, base)] if base else [] for key in ("dirhit", "score")}
        print(
            f"| {pruner} | {sum(r['fits'] for r in rs)} | {model:.0f} | {saved} | {wall:.0f} | {sum(r['pruned'] for r in rs)} of {len(rs) * args.trials} | "
            f"{_pooled(rs)} | {_mean_sd([r['score'] for r in rs])} | "
            f"{_mean_sd(paired['dirhit'], '{:+.1f}')} | {_mean_sd(paired['score'], '{:+.1f}')} |"
        )


if __name__ == "__main__":
    main()
