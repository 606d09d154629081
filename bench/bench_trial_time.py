"""Where a trial's time goes, and what bistlab's model settings bought, measured side by side.

Three tables, one run:

1. **Default space, before and after**: bistlab's default search space on one symbol and horizons,
   once with the libraries' own histogram settings (CatBoost 254 borders and its own boosting
   type, XGBoost 256 bins, LightGBM 255 bins: the settings before issue 13) and once with
   bistlab's (CatBoost plain boosting on 32 borders, XGBoost 64, LightGBM 63): trials per minute,
   the median trial, and each seed's best trial scored on the holdout (DirHit with its count, score).
2. **Where the time goes** (bistlab's settings), per model choice and per option switched on:
   model fit/predict, feature computation, and everything else (Optuna, the study file,
   metrics, bookkeeping: the rest of the study's wall time).
3. **Same fits**: fixed random configurations of each family fit on the walk-forward splits of
   several BIST symbols with both settings: fit seconds and pooled DirHit of each.

    python bench/bench_trial_time.py [--symbol THYAO] [--horizons 1,7] [--trials 20] [--seeds 2]
                                     [--skip-before] [--skip-same-fits]
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from common import StudyRun, best_holdout, run_study, trials_per_minute, universe_of, workspace_with

from bistlab.evaluation.walkforward import fit_model, make_evaluation_spec
from bistlab.search.hpo import trial_attrs
from bistlab.evaluation.metrics import split_metrics
from bistlab.models import cat, lgbm, xgb
from bistlab.models.options import OPTIONS
from bistlab.models.space import TrialConfig

LIBRARY_DEFAULTS = {(cat, "BORDER_COUNT"): 254, (cat, "BOOSTING_TYPE"): None, (xgb, "MAX_BIN"): 256, (lgbm, "MAX_BIN"): 255}
"""The settings before issue 13: each library's own default bins and CatBoost's own boosting type."""


@contextmanager
def library_defaults() -> Iterator[None]:
    saved = {key: getattr(*key) for key in LIBRARY_DEFAULTS}
    for (module, name), value in LIBRARY_DEFAULTS.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)


# ---------------------------------------------------------------- 1. default space, before and after


def _cell(values: list[Any], fmt: str) -> str:
    return " / ".join("–" if v is None else fmt.format(v) for v in values)


def study_runs(task_of, horizons: list[int], *, trials: int, seeds: int, before: bool) -> dict[tuple[str, int], list[StudyRun]]:
    arms = (["library defaults (before)"] if before else []) + ["bistlab settings (now)"]
    runs: dict[tuple[str, int], list[StudyRun]] = {}
    for arm in arms:
        for h in horizons:
            for seed in range(seeds):
                if arm.startswith("library"):
                    with library_defaults():
                        run = run_study(task_of(h), n_trials=trials, seed=seed)
                        run.holdout = best_holdout(run)  # type: ignore[attr-defined]
                else:
                    run = run_study(task_of(h), n_trials=trials, seed=seed)
                    run.holdout = best_holdout(run)  # type: ignore[attr-defined]
                runs.setdefault((arm, h), []).append(run)
    return runs


def print_summary(runs: dict[tuple[str, int], list[StudyRun]]) -> None:
    print("| settings | h | trials/min (mean ± sd) | median trial | best trial's holdout DirHit (count), per seed | its holdout score |")
    print("|---|---|---|---|---|---|")
    rate: dict[tuple[str, int], float] = {}
    for (arm, h), rs in runs.items():
        tpm = [trials_per_minute(r) for r in rs]
        rate[(arm, h)] = float(np.mean(tpm))
        med = float(np.median([t["wall"] for r in rs for t in r.timers.per_trial.values()]))
        hold = [r.holdout for r in rs]  # type: ignore[attr-defined]
        dirhits = " / ".join("–" if x["dirhit"] is None else f"{x['dirhit']:.1f} % ({x['count']})" for x in hold)
        print(f"| {arm} | {h} | {np.mean(tpm):.1f} ± {np.std(tpm):.1f} | {med:.2f} s | {dirhits} | {_cell([x['score'] for x in hold], '{:.1f}')} |")
    for (arm, h), value in rate.items():
        if arm.startswith("bistlab") and ("library defaults (before)", h) in rate:
            print(f"h={h}: trials per minute, now / before: {value / rate[('library defaults (before)', h)]:.1f}x")


# ---------------------------------------------------------------- 2. where the time goes


def _trial_rows(runs: list[StudyRun]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        for t in run.study.trials:
            spent = run.timers.per_trial.get(t.number)
            attrs = trial_attrs(t)
            if spent is None or "model_choice" not in attrs:
                continue
            flags = attrs.get("features_enabled", {})
            rows.append({**spent, "model": spent["model"], "choice": attrs["model_choice"], "options": [o.name for o in OPTIONS if flags.get(o.name)]})
    return rows


def _breakdown_line(name: str, rows: list[dict[str, Any]]) -> str:
    wall = sum(r["wall"] for r in rows)
    model = sum(r["model"] for r in rows)
    feats = sum(r["features"] for r in rows)
    return (
        f"| {name} | {len(rows)} | {np.median([r['wall'] for r in rows]):.2f} s | {max(r['wall'] for r in rows):.2f} s | "
        f"{100 * model / wall:.0f} % | {100 * feats / wall:.0f} % | {100 * (wall - model - feats) / wall:.0f} % |"
    )


def print_breakdown(runs: list[StudyRun]) -> None:
    rows = _trial_rows(runs)
    print("| trials with | trials | median trial | max | model fit/predict | features | everything else |")
    print("|---|---|---|---|---|---|---|")
    by_choice: dict[str, list] = collections.defaultdict(list)
    by_option: dict[str, list] = collections.defaultdict(list)
    for r in rows:
        by_choice[r["choice"]].append(r)
        for o in r["options"]:
            by_option[o].append(r)
    for name, rs in sorted(by_choice.items()):
        print(_breakdown_line(f"model {name}", rs))
    for name, rs in sorted(by_option.items()):
        print(_breakdown_line(f"option {name} on", rs))
    print(_breakdown_line("all trials", rows))
    wall = sum(r.wall_seconds for r in runs)
    model = sum(r.timers.model_seconds for r in runs)
    feats = sum(r.timers.seconds["features"] for r in runs)
    inside = sum(t["wall"] for r in runs for t in r.timers.per_trial.values())
    print(
        f"Study wall {wall:.1f} s: model fit/predict {100 * model / wall:.1f} %, features {100 * feats / wall:.1f} %, "
        f"everything else {100 * (wall - model - feats) / wall:.1f} % (of which outside the objective — Optuna's sampler, "
        f"the study file, the trial loop — {100 * (wall - inside) / wall:.1f} %)"
    )


# ---------------------------------------------------------------- 3. same fits, both settings

FAMILY_PARAMS = {
    "lgbm": lambda rng: {"n_estimators": int(rng.integers(50, 400)), "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.2)))), "num_leaves": int(rng.integers(4, 64)), "max_depth": int(rng.integers(2, 9)), "min_child_samples": int(rng.integers(10, 100)), "subsample": float(rng.uniform(0.5, 1)), "colsample_bytree": float(rng.uniform(0.4, 1)), "reg_lambda": 1.0},
    "xgb": lambda rng: {"n_estimators": int(rng.integers(50, 400)), "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.2)))), "max_depth": int(rng.integers(2, 9)), "min_child_weight": 1.0, "subsample": float(rng.uniform(0.5, 1)), "colsample_bytree": float(rng.uniform(0.4, 1)), "reg_lambda": 1.0},
    "cat": lambda rng: {"iterations": int(rng.integers(50, 300)), "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.2)))), "depth": int(rng.integers(2, 7)), "l2_leaf_reg": 3.0, "subsample": float(rng.uniform(0.5, 1))},
}


def same_fits(universe, symbols: list[str], horizons: list[int], *, configs: int) -> None:
    rng = np.random.default_rng(0)
    params = {fam: [draw(rng) for _ in range(configs)] for fam, draw in FAMILY_PARAMS.items()}
    print("| family | settings | fits | fit seconds | pooled walk-forward DirHit | DirHit difference per task (mean ± sd) |")
    print("|---|---|---|---|---|---|")
    for fam in FAMILY_PARAMS:
        seconds = {"before": 0.0, "now": 0.0}
        per_task: dict[str, list[float]] = {"before": [], "now": []}
        pooled = {"before": [0, 0], "now": [0, 0]}
        fits = 0
        for sym in symbols:
            for h in horizons:
                task = universe.task(sym, h)
                spec = make_evaluation_spec(task)
                for p in params[fam]:
                    config = TrialConfig(features_enabled={}, feature_params={"core": {}}, model_choice=fam, model_params={fam: p})
                    X = task.features(config)
                    for arm in ("before", "now"):
                        hits = count = 0
                        for sp in spec.splits:
                            train, test = np.arange(sp["train_end"]), np.arange(sp["test_start"], sp["test_end"])
                            started = time.perf_counter()
                            if arm == "before":
                                with library_defaults():
                                    model = fit_model(task, config, X, train, n_jobs=1)
                            else:
                                model = fit_model(task, config, X, train, n_jobs=1)
                            pred = model.predict(X[test])
                            seconds[arm] += time.perf_counter() - started
                            m = split_metrics(task.labels[test], pred, thr=spec.dirhit_threshold, horizon=h)
                            hits, count = hits + (m.dirhit_hits or 0), count + m.mask_count
                            fits += arm == "now"
                        pooled[arm][0] += hits
                        pooled[arm][1] += count
                        per_task[arm].append(100 * hits / max(count, 1))
        diff = np.array(per_task["now"]) - np.array(per_task["before"])
        for arm in ("before", "now"):
            rate = 100 * pooled[arm][0] / max(pooled[arm][1], 1)
            extra = f"{diff.mean():+.1f} ± {diff.std():.1f} points" if arm == "now" else ""
            print(f"| {fam} | {'library defaults' if arm == 'before' else 'bistlab'} | {fits} | {seconds[arm]:.1f} s | {rate:.1f} % of {pooled[arm][1]} | {extra} |")
        print(f"| {fam} | now / before | | {seconds['before'] / seconds['now']:.1f}x faster | | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbol", default="THYAO")
    ap.add_argument("--horizons", default="1,7")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--skip-before", action="store_true", help="only bistlab's settings in table 1")
    ap.add_argument("--skip-same-fits", action="store_true")
    ap.add_argument("--fit-symbols", default="THYAO,GARAN,ASELS,EREGL")
    ap.add_argument("--configs", type=int, default=3, help="random configurations per family in table 3")
    args = ap.parse_args()
    horizons = [int(h) for h in args.horizons.split(",")]
    fit_symbols = args.fit_symbols.split(",")
    universe = universe_of(workspace_with(sorted({args.symbol, *fit_symbols})))
    runs = study_runs(lambda h: universe.task(args.symbol, h), horizons, trials=args.trials, seeds=args.seeds, before=not args.skip_before)
    print(f"\n1. Default space, {args.symbol}, {args.trials} trials per study, seeds 0..{args.seeds - 1}, no pruning, 1 thread per fit")
    print_summary(runs)
    print("\n2. Where the time goes (bistlab settings, every study of table 1)")
    print_breakdown([r for (arm, _), rs in runs.items() if arm.startswith("bistlab") for r in rs])
    if not args.skip_same_fits:
        print(f"\n3. Same fits, library defaults vs bistlab's settings ({', '.join(fit_symbols)}; h {args.horizons}; {args.configs} configurations per family; every walk-forward split)")
        same_fits(universe, fit_symbols, horizons, configs=args.configs)


if __name__ == "__main__":
    main()
