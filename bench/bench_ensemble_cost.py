"""The ensemble's cost at h ≥ 7: where an ensemble trial's time goes, and the rounds cap, before
and after in one run.

For each (symbol, seed) one study of the default space at the given horizon is run twice, with
the same seed: once without the cap on ensemble and stacked short-horizon fits
(``estimator.ENSEMBLE_MAX_ROUNDS = None``, the behaviour before issue 23) and once with it. Printed:

1. per arm, the median trial (all trials, ensemble trials), and the seconds of the ensemble
   trials by role: the members' final fits, the meta-learner's out-of-fold fits, the smart
   weights' fits, the stacked short-horizon models, the rest (metrics, features, Optuna);
2. per study, the selected trial (support filter) fit on the development rows and scored on the
   holdout: DirHit (hits of count), nRMSE, score; paired differences (after − before) with their
   mean and a 95 % t interval.

    python bench/bench_ensemble_cost.py [--tasks THYAO:0,THYAO:1,GARAN:0] [--horizon 7] [--trials 20]
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from scipy import stats

from common import StudyRun, run_study, universe_of, workspace_with

import bistlab.models.estimator as estimator
from bistlab.evaluation.walkforward import evaluate_splits, fit_model, make_evaluation_spec
from bistlab.search.hpo import trial_attrs
from bistlab.evaluation.metrics import score, split_metrics
from bistlab.search.selection import select_best_trial
from bistlab.models.space import TrialConfig, suggest_config

ROLES = {"_fit_meta": "meta out-of-fold fits", "_smart_weights": "smart-weight fits", "fit": "whole ensemble fit"}
"""Ensemble methods timed (their seconds include the fits inside them)."""


def _timed_roles(seconds: dict[str, float]) -> Callable[[], None]:
    """Wrap the ensemble's fit steps to add their seconds to ``seconds``; returns the undo."""
    saved = {name: getattr(estimator.Ensemble, name) for name in ROLES}

    def wrap(name: str) -> Callable[..., Any]:
        inner = saved[name]

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[ROLES[name]] += time.perf_counter() - started

        return timed_call

    for name in ROLES:
        setattr(estimator.Ensemble, name, wrap(name))

    def undo() -> None:
        for name, fn in saved.items():
            setattr(estimator.Ensemble, name, fn)

    return undo


def holdout(run: StudyRun) -> dict[str, Any]:
    """The selected trial fit on the development rows and scored on the holdout (one static fit)."""
    sel = select_best_trial(run.study.trials, symbol=run.task.symbol, horizon=run.task.horizon)
    config = TrialConfig.from_dict(sel.user_attrs["config"])
    X = run.task.features(config)
    model = fit_model(run.task, config, X, np.arange(run.spec.holdout["dev_end"]))
    rows = np.arange(run.spec.holdout["start"], run.spec.holdout["end"])
    m = split_metrics(run.task.labels[rows], model.predict(X[rows]), thr=run.spec.dirhit_threshold, horizon=run.task.horizon)
    return {"trial": sel.trial_number, "choice": config.model_choice, "dirhit": m.dirhit, "hits": m.dirhit_hits or 0, "count": m.mask_count, "nrmse": m.nrmse, "score": score(m.dirhit, m.nrmse, horizon=run.task.horizon)}


def one_arm(task, *, trials: int, seed: int, cap: int | None) -> dict[str, Any]:
    """One study with ``ENSEMBLE_MAX_ROUNDS = cap``: its trial times, roles and holdout."""
    saved, estimator.ENSEMBLE_MAX_ROUNDS = estimator.ENSEMBLE_MAX_ROUNDS, cap
    roles: dict[str, float] = collections.defaultdict(float)
    undo = _timed_roles(roles)
    try:
        run = run_study(task, n_trials=trials, seed=seed)
        result = holdout(run)
    finally:
        undo()
        estimator.ENSEMBLE_MAX_ROUNDS = saved
    walls = {t.number: run.timers.per_trial[t.number]["wall"] for t in run.study.trials if t.number in run.timers.per_trial}
    ens = [walls[t.number] for t in run.study.trials if trial_attrs(t).get("model_choice") == "all" and t.number in walls]
    return {"walls": list(walls.values()), "ensemble": ens, "roles": dict(roles), "study_wall": run.wall_seconds, "model_seconds": run.timers.model_seconds, **result}


def _interval(diffs: list[float]) -> str:
    d = np.array([x for x in diffs if x is not None and np.isfinite(x)], dtype=float)
    if len(d) < 2:
        return f"{d.mean():+.2f}" if len(d) else "–"
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return f"{d.mean():+.2f} (95 % CI {d.mean() - half:+.2f} .. {d.mean() + half:+.2f}, n = {len(d)})"


def print_times(arms: dict[str, list[dict[str, Any]]]) -> None:
    print("| arm | trials | median trial | ensemble trials | median ensemble trial | study seconds | model fit/predict | ensemble fits: members | meta out-of-fold | smart weights |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for arm, rows in arms.items():
        walls = [w for r in rows for w in r["walls"]]
        ens = [w for r in rows for w in r["ensemble"]]
        roles = collections.Counter()
        for r in rows:
            roles.update(r["roles"])
        whole, meta, smart = roles[ROLES["fit"]], roles[ROLES["_fit_meta"]], roles[ROLES["_smart_weights"]]
        members = whole - meta - smart
        print(
            f"| {arm} | {len(walls)} | {np.median(walls):.2f} s | {len(ens)} | {np.median(ens) if ens else float('nan'):.2f} s | "
            f"{sum(r['study_wall'] for r in rows):.1f} | {sum(r['model_seconds'] for r in rows):.1f} s | {members:.1f} s | {meta:.1f} s | {smart:.1f} s |"
        )


def print_symbol_medians(keys: list[str], arms: dict[str, list[dict[str, Any]]]) -> None:
    """The median trial per symbol (every seed of it pooled), each arm."""
    symbols = sorted({k.split()[0] for k in keys})
    for arm, rows in arms.items():
        cells = []
        for sym in symbols:
            walls = [w for k, r in zip(keys, rows) if k.split()[0] == sym for w in r["walls"]]
            cells.append(f"{sym} {np.median(walls):.2f} s ({len(walls)} trials)")
        print(f"median trial, {arm}: {', '.join(cells)}")


def print_holdout(keys: list[str], arms: dict[str, list[dict[str, Any]]]) -> None:
    before, after = arms.values()
    print("| task | before: trial, choice | DirHit (hits/count) | nRMSE | score | after: trial, choice | DirHit (hits/count) | nRMSE | score |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key, b, a in zip(keys, before, after):
        cells = [f"#{r['trial']} {r['choice']} | {r['dirhit']:.1f} % ({r['hits']}/{r['count']}) | {r['nrmse']:.3f} | {r['score']:.1f}" for r in (b, a)]
        print(f"| {key} | {cells[0]} | {cells[1]} |")
    pooled = [(sum(r["hits"] for r in rs), sum(r["count"] for r in rs)) for rs in (before, after)]
    print(f"Pooled holdout DirHit: before {100 * pooled[0][0] / max(pooled[0][1], 1):.1f} % of {pooled[0][1]}, after {100 * pooled[1][0] / max(pooled[1][1], 1):.1f} % of {pooled[1][1]}")
    for name in ("dirhit", "nrmse", "score"):
        print(f"after − before, {name}: {_interval([a[name] - b[name] for a, b in zip(after, before) if a[name] is not None and b[name] is not None])}")


def ensemble_configs(task, n: int, seed: int = 0) -> list[TrialConfig]:
    """``n`` random ensemble configurations of the default space at the task's horizon."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    space = task.search_space()
    out = []
    for _ in range(n):
        study.enqueue_trial({"model_choice": "all"})
        trial = study.ask()
        out.append(suggest_config(trial, space, horizon=task.horizon, seed=seed))
        study.tell(trial, 0.0)
    return out


def same_configs(universe, symbols: list[str], horizon: int, n: int) -> None:
    """The same random ensemble configurations on every walk-forward split, without and with the cap:
    seconds, pooled DirHit (hits of count) and mean nRMSE, paired per (symbol, configuration)."""
    cap = estimator.ENSEMBLE_MAX_ROUNDS
    seconds = {None: 0.0, cap: 0.0}
    pooled = {None: [0, 0], cap: [0, 0]}
    diffs: dict[str, list[float]] = {"dirhit": [], "nrmse": []}
    for sym in symbols:
        task = universe.task(sym, horizon)
        spec = make_evaluation_spec(task)
        for config in ensemble_configs(task, n):
            got = {}
            for arm in (None, cap):
                estimator.ENSEMBLE_MAX_ROUNDS = arm
                started = time.perf_counter()
                splits = evaluate_splits(task, config, spec)
                seconds[arm] += time.perf_counter() - started
                hits, count = sum(m.dirhit_hits or 0 for m in splits), sum(m.mask_count for m in splits)
                pooled[arm][0] += hits
                pooled[arm][1] += count
                got[arm] = (100 * hits / max(count, 1), float(np.mean([m.nrmse for m in splits if m.nrmse is not None])))
            estimator.ENSEMBLE_MAX_ROUNDS = cap
            diffs["dirhit"].append(got[cap][0] - got[None][0])
            diffs["nrmse"].append(got[cap][1] - got[None][1])
    print("| arm | evaluations | seconds | pooled walk-forward DirHit |")
    print("|---|---|---|---|")
    for arm, name in ((None, "no cap (before)"), (cap, f"rounds cap {cap} (now)")):
        print(f"| {name} | {len(diffs['dirhit'])} | {seconds[arm]:.1f} s | {100 * pooled[arm][0] / max(pooled[arm][1], 1):.1f} % of {pooled[arm][1]} |")
    print(f"cost, before / after: {seconds[None] / seconds[cap]:.2f}x")
    for name, d in diffs.items():
        print(f"after − before per (symbol, configuration), {name}: {_interval(d)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="THYAO:0,THYAO:1,GARAN:0,ASELS:0,EREGL:0", help="symbol:seed, comma-separated")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--same-configs", type=int, default=0, help="also: this many random ensemble configurations per symbol, both arms, on the walk-forward splits")
    ap.add_argument("--only-same-configs", action="store_true", help="skip the studies")
    args = ap.parse_args()
    tasks = [(s.split(":")[0], int(s.split(":")[1])) for s in args.tasks.split(",")]
    universe = universe_of(workspace_with(sorted({s for s, _ in tasks})))
    if args.same_configs:
        symbols = sorted({s for s, _ in tasks})
        print(f"\nSame {args.same_configs} random ensemble configurations per symbol ({', '.join(symbols)}), h = {args.horizon}, every walk-forward split, 1 thread per fit")
        same_configs(universe, symbols, args.horizon, args.same_configs)
    if args.only_same_configs:
        return
    cap = estimator.ENSEMBLE_MAX_ROUNDS
    arms: dict[str, list[dict[str, Any]]] = {"no cap (before)": [], f"rounds cap {cap} (now)": []}
    for symbol, seed in tasks:
        task = universe.task(symbol, args.horizon)
        for arm, value in zip(arms, (None, cap)):
            arms[arm].append(one_arm(task, trials=args.trials, seed=seed, cap=value))
    print(f"\nDefault space, h = {args.horizon}, {args.trials} trials per study, no pruning, 1 thread per fit; tasks {args.tasks}")
    print_times(arms)
    print_symbol_medians([f"{s} seed {seed}" for s, seed in tasks], arms)
    print("\nSelected trial of each study on the holdout (paired: same symbol, seed)")
    print_holdout([f"{s} seed {seed}" for s, seed in tasks], arms)


if __name__ == "__main__":
    main()
