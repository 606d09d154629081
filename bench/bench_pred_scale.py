"""How large are a trial's predictions against the DirHit threshold (issue 19, "trials on an empty mask")?

Draws random configurations of each model choice from the default search space (Optuna's random
sampler, the same ``suggest_config`` as HPO), fits each on every walk-forward split of one task and
prints, per model choice: the spread of the predictions against the labels' (std ratio), the median
and 90th percentile of |y_pred| in log-return units, the share of test rows with |y_pred| > thr,
and the share of trials that would end with fewer than ``min_valid_splits`` defined DirHits.
A second table splits the trials by their effective learning budget (learning rate × trees).

``--scale off`` (default) measures the models' own predictions (the prediction scale forced off:
the cause); ``--scale on`` forces it on with ``spread`` 1 (the fix, fit on each split's training
rows); ``--scale space`` leaves it as the search space draws it.

    python bench/bench_pred_scale.py [--symbol SP500] [--horizon 1] [--configs 12] [--scale off|on|space]
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from typing import Any

import numpy as np
import optuna

from common import workspace_with

from bistlab.evaluation.walkforward import fit_model, make_evaluation_spec
from bistlab.models.space import SearchSpace, suggest_config
from bistlab.evaluation.universe import load_task

logger = logging.getLogger(__name__)


def _budget(config: Any) -> float:
    """Mean over the config's families of learning rate × number of trees (a shrinkage proxy)."""
    out = []
    for p in config.model_params.values():
        trees = p.get("n_estimators") or p.get("iterations")
        out.append(float(p["learning_rate"]) * float(trees))
    return float(np.mean(out))


def _measure(task: Any, spec: Any, config: Any) -> dict[str, Any]:
    X = task.features(config)
    thr = spec.dirhit_threshold
    preds, labels, defined = [], [], 0
    for sp in spec.splits:
        model = fit_model(task, config, X, np.arange(sp["train_end"]))
        test = np.arange(sp["test_start"], sp["test_end"])
        p, y = model.predict(X[test]), task.labels[test]
        defined += bool(((np.abs(p) > thr) & (np.abs(y) > thr)).any())
        preds.append(p)
        labels.append(y)
    p, y = np.concatenate(preds), np.concatenate(labels)
    return {
        "choice": config.model_choice,
        "budget": _budget(config),
        "ratio": float(np.std(p) / np.std(y)),
        "p50": float(np.median(np.abs(p))),
        "p90": float(np.quantile(np.abs(p), 0.9)),
        "y50": float(np.median(np.abs(y))),
        "over": float(np.mean(np.abs(p) > thr)),
        "empty": defined < task.settings.min_valid_splits,
    }


def _forced(config: Any, scale: str) -> Any:
    """``config`` with the prediction scale forced off or on (spread 1), or as drawn (``space``)."""
    if scale == "space":
        return config
    on = scale == "on"
    params = {k: v for k, v in config.feature_params.items() if k != "prediction_scale"}
    if on:
        params["prediction_scale"] = {"spread": 1.0}
    return replace(config, features_enabled={**config.features_enabled, "prediction_scale": on}, feature_params=params)


def _table(rows: list[dict[str, Any]], key: str) -> None:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    print(f"{key:>14} | n  | std(p)/std(y) | median|p| | p90 |p| | median|y| | share |p|>thr | empty-mask trials")
    for name, rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        def med(k: str) -> float:
            return float(np.median([r[k] for r in rs]))

        empty = sum(r["empty"] for r in rs)
        print(
            f"{name!s:>14} | {len(rs):2d} | {med('ratio'):13.3f} | {med('p50'):9.5f} | {med('p90'):7.5f} | {med('y50'):9.5f} | "
            f"{100 * med('over'):11.1f} % | {empty}/{len(rs)} ({100 * empty / len(rs):.0f} %)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbol", default="SP500")
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument("--configs", type=int, default=12, help="random configurations per model choice")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", choices=("off", "on", "space"), default="off", help="the prediction scale: forced off, forced on, or as drawn")
    args = ap.parse_args()
    ws = workspace_with([args.symbol])
    task = load_task(ws, args.symbol, args.horizon)
    spec = make_evaluation_spec(task)
    space = SearchSpace.for_task(task.context)
    rows = []
    for choice in space.model_choices:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=args.seed))
        for _ in range(args.configs):
            study.enqueue_trial({"model_choice": choice})
            trial = study.ask()
            config = suggest_config(trial, space, horizon=task.horizon, seed=args.seed)
            rows.append(_measure(task, spec, _forced(config, args.scale)))
            study.tell(trial, 0.0)
    print(f"{args.symbol} h={args.horizon}: thr = {spec.dirhit_threshold}, {len(rows)} random configurations, prediction scale {args.scale}")
    _table(rows, "choice")
    cuts = np.quantile([r["budget"] for r in rows], [1 / 3, 2 / 3])
    for r in rows:
        r["lr x trees"] = "low" if r["budget"] <= cuts[0] else ("mid" if r["budget"] <= cuts[1] else "high")
    print(f"\nby learning rate x trees (terciles at {cuts[0]:.1f} and {cuts[1]:.1f})")
    _table(rows, "lr x trees")


if __name__ == "__main__":
    main()
