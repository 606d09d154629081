"""The peer: what a researcher would write by hand (plain Optuna + LightGBM), beside bistlab.

The peer script computes 16 price features with pandas, searches LightGBM's hyperparameters with
Optuna's TPE over ``TimeSeriesSplit(n_splits=4, gap=h)`` on the rows before the holdout, scores a
trial with the same DirHit / nRMSE / score as bistlab, and scores its best trial on the same
holdout rows (one fit on the development rows); one thread per fit, as bistlab's default (at these
data sizes a second thread per fit is slower: bench/bench_parallel.py). bistlab runs the same budget on the same symbol,
once with ``--models lgbm`` on its core features, once with its default search space (and once
more each with pruning when ``--pruner`` is given); bistlab's studies live in a journal file as in
a cycle (what lets a study resume after a ``kill -9``), one row keeps the lgbm study in the SQLite
file a cycle used before, and one keeps it in memory as the peer does, to show what the file
costs. One table, measured side by side in one run, ``--seeds`` runs per row:

    python bench/peer_plain_optuna.py [--symbol THYAO] [--horizon 1] [--trials 30] [--seeds 3] [--pruner cannot-win]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import TimeSeriesSplit

from bistlab.search.hpo import trial_attrs
from common import best_holdout, core_lgbm_space, run_study, trials_per_minute, universe_of, workspace_with

THR = 0.005


# ---------------------------------------------------------------- the peer, as a researcher writes it


def features(df: pd.DataFrame) -> pd.DataFrame:
    """16 price features (the formulas of bistlab's core group, written out by hand)."""
    c, h, lo, v = df["close"], df["high"], df["low"], df["volume"]
    logc, r1 = np.log(c), np.log(c).diff()
    out = {f"ret_{k}": logc.diff(k) for k in (1, 2, 5, 10, 20)}
    out["vol"] = r1.rolling(20).std()
    out["vol_ratio"] = out["vol"] / r1.rolling(80, min_periods=20).std()
    out["mom"] = logc.diff(20)
    out["sma_gap"] = logc - np.log(c.rolling(20).mean())
    delta = c.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    out["rsi"] = 1 - 1 / (1 + gain / loss.replace(0, np.nan))
    macd = (c.ewm(span=12, adjust=False).mean() - c.ewm(span=26, adjust=False).mean()) / c
    out["macd_hist"] = macd - macd.ewm(span=9, adjust=False).mean()
    mid, sd = c.rolling(20).mean(), c.rolling(20).std()
    out["bb_pctb"] = (c - (mid - 2 * sd)) / (4 * sd)
    tr = pd.concat([h - lo, (h - c.shift()).abs(), (lo - c.shift()).abs()], axis=1).max(axis=1)
    out["atr_norm"] = tr.rolling(14).mean() / c
    out["hl_range"] = np.log(h / lo)
    out["gap"] = np.log(df["open"] / c.shift())
    lv = np.log1p(v)
    out["volume_z"] = (lv - lv.rolling(20).mean()) / lv.rolling(20).std()
    return pd.DataFrame(out).replace([np.inf, -np.inf], np.nan)


def dirhit_nrmse(y: np.ndarray, p: np.ndarray) -> tuple[float | None, float]:
    mask = (np.abs(y) > THR) & (np.abs(p) > THR)
    dirhit = 100 * np.mean(np.sign(p[mask]) == np.sign(y[mask])) if mask.any() else None
    std = np.std(y)
    return dirhit, (np.sqrt(np.mean((p - y) ** 2)) / std if std > 0 else 3.0)


def peer_score(dirhits: list[float], nrmses: list[float], h: int) -> float:
    return 0.7 * float(np.mean(dirhits)) - (6 if h in (1, 3, 7) else 4) * float(np.mean(nrmses))


def run_peer(frame: pd.DataFrame, *, h: int, n_trials: int, holdout: tuple[int, int], dev_end: int, seed: int, replay: list[dict] | None = None) -> dict[str, float]:
    """The peer's study; with ``replay``, its trials fit these LightGBM hyperparameters in this order
    (enqueued) instead of the ones its sampler would draw: the same trees as the run they come from."""
    X = features(frame).to_numpy()
    y = np.log(frame["close"].shift(-h) / frame["close"]).to_numpy()
    Xd, yd = X[:dev_end], y[:dev_end]
    fit_seconds = 0.0

    def objective(trial: optuna.Trial) -> float:
        nonlocal fit_seconds
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 50, 400, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 8),
            "min_child_samples": trial.suggest_int("min_child_samples", 10, 100, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
        trial.set_user_attr("params", params)
        dirhits, nrmses = [], []
        for tr, te in TimeSeriesSplit(n_splits=4, gap=h).split(Xd):
            started = time.perf_counter()
            model = lgb.LGBMRegressor(**params, subsample_freq=1, random_state=seed, n_jobs=1, verbosity=-1).fit(Xd[tr], yd[tr])
            pred = model.predict(Xd[te])
            fit_seconds += time.perf_counter() - started
            d, n = dirhit_nrmse(yd[te], pred)
            if d is not None:
                dirhits.append(d)
            nrmses.append(n)
        return peer_score(dirhits, nrmses, h) if len(dirhits) >= 2 else float("nan")

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    for params in replay or []:
        study.enqueue_trial(params)
    started = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    wall = time.perf_counter() - started
    best = lgb.LGBMRegressor(**study.best_trial.user_attrs["params"], subsample_freq=1, random_state=seed, n_jobs=1, verbosity=-1).fit(Xd, yd)
    rows = slice(*holdout)
    pred = best.predict(X[rows])
    d, n = dirhit_nrmse(y[rows], pred)
    count = int(((np.abs(y[rows]) > THR) & (np.abs(pred) > THR)).sum())
    durations = [t.duration.total_seconds() for t in study.trials if t.duration]
    return {
        "trials_per_min": 60 * n_trials / wall, "fit_share": fit_seconds / wall, "wall": wall, "median_trial": float(np.median(durations)),
        "holdout_dirhit": d, "holdout_count": count, "holdout_score": 0.7 * d - (6 if h in (1, 3, 7) else 4) * n if d is not None else None,
    }


# ---------------------------------------------------------------- bistlab beside it


def run_bistlab(task, *, n_trials: int, space, seed: int, pruner: str, storage: str = "journal") -> dict[str, float]:
    run = run_study(task, n_trials=n_trials, space=space, seed=seed, pruner=pruner, coverage=space is None, storage=storage)
    hold = best_holdout(run)
    busy = run.timers.fit_seconds + run.timers.seconds["predict"]
    durations = [t.duration.total_seconds() for t in run.study.trials if t.duration]
    return {
        "trials_per_min": trials_per_minute(run), "fit_share": busy / run.wall_seconds, "wall": run.wall_seconds,
        "median_trial": float(np.median(durations)), "holdout_dirhit": hold["dirhit"], "holdout_count": hold["count"], "holdout_score": hold["score"],
        "drawn": [params["lgbm"] for t in run.study.trials if t.duration and "lgbm" in (params := trial_attrs(t)["config"]["model_params"])],
    }


def _keep_draws(drawn: dict[int, list[dict]], seed: int, result: dict) -> dict:
    drawn[seed] = result.pop("drawn")
    return result


def _summary(name: str, runs: list[dict[str, float]]) -> tuple[str, float]:
    tpm = [r["trials_per_min"] for r in runs]
    cell = lambda key, fmt: " / ".join("–" if r.get(key) is None else fmt.format(r[key]) for r in runs)  # noqa: E731
    line = (
        f"| {name} | {np.mean(tpm):.0f} ± {np.std(tpm):.0f} | {100 * np.mean([r['fit_share'] for r in runs]):.0f} % | "
        f"{cell('median_trial', '{:.2f}')} s | {cell('holdout_dirhit', '{:.1f}')} % (n {cell('holdout_count', '{:.0f}')}) | {cell('holdout_score', '{:.1f}')} |"
    )
    return line, float(np.mean(tpm))


JOURNAL = "bistlab --models lgbm, core features (journal file: survives kill -9)"
REPLAY = "peer fitting bistlab's draws (the journal row's LightGBM hyperparameters, trial by trial)"


def _rows(task, args: argparse.Namespace, drawn: dict[int, list[dict]]) -> dict[str, Callable[[int], dict[str, float]]]:
    """The table's rows: each a run of one seed. ``drawn[seed]`` is filled by the journal row and
    replayed by the peer right after it: trials/min with the same trees on both sides, what the
    tool adds per trial without the luck of what each sampler draws."""
    p, n, core = task.plan, args.trials, core_lgbm_space(task)
    rows: dict[str, Callable[[int], dict[str, float]]] = {
        "peer: plain Optuna + LightGBM, 16 features": lambda s: run_peer(task.frame, h=args.horizon, n_trials=n, holdout=(p.holdout_start, p.holdout_end), dev_end=p.dev_end, seed=s),
        JOURNAL: lambda s: _keep_draws(drawn, s, run_bistlab(task, n_trials=n, space=core, seed=s, pruner="none")),
    }
    if args.pruner != "none":
        rows[f"bistlab --models lgbm, core features, pruner {args.pruner} (journal file)"] = lambda s: run_bistlab(task, n_trials=n, space=core, seed=s, pruner=args.pruner)
    rows[REPLAY] = lambda s: run_peer(task.frame, h=args.horizon, n_trials=len(drawn[s]), holdout=(p.holdout_start, p.holdout_end), dev_end=p.dev_end, seed=s, replay=drawn[s])
    rows["(before) the same, SQLite study file"] = lambda s: run_bistlab(task, n_trials=n, space=core, seed=s, pruner="none", storage="sqlite")
    rows["(what the study file costs) the same, study in memory: no resume"] = lambda s: run_bistlab(task, n_trials=n, space=core, seed=s, pruner="none", storage="memory")
    if not args.skip_default_space:
        rows["bistlab default space"] = lambda s: run_bistlab(task, n_trials=n, space=None, seed=s, pruner="none")
        if args.pruner != "none":
            rows[f"bistlab default space, pruner {args.pruner}"] = lambda s: run_bistlab(task, n_trials=n, space=None, seed=s, pruner=args.pruner)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbol", default="THYAO")
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3, help="runs per row (seeds 0..n-1): trials per minute depends on the hyperparameters drawn")
    ap.add_argument("--pruner", default="cannot-win", help="also run bistlab with this pruner ('none' to skip)")
    ap.add_argument("--skip-default-space", action="store_true")
    args = ap.parse_args()
    task = universe_of(workspace_with([args.symbol])).task(args.symbol, args.horizon)
    seeds = range(args.seeds)
    rows = _rows(task, args, drawn={})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in rows}
    for s in seeds:  # seed by seed, every row in turn: a machine's load drifting during the run weighs on every row alike
        for name, run in rows.items():
            runs[name].append(run(s))
    print(f"{args.symbol} h={args.horizon}, {args.trials} trials per run, seeds {list(seeds)} (cells: one value per seed)")
    print("| run | trials/min (mean ± sd) | in fit/predict | median trial | best trial's holdout DirHit | its holdout score |")
    print("|---|---|---|---|---|---|")
    rates = {}
    for name, rs in runs.items():
        line, rates[name] = _summary(name, rs)
        print(line)
    peer = next(iter(rates.values()))
    for name, rate in list(rates.items())[1:]:
        print(f"{name} / peer, trials per minute: {rate / peer:.2f}")
    same = [b["trials_per_min"] / r["trials_per_min"] for b, r in zip(runs[JOURNAL], runs[REPLAY])]
    print(f"bistlab journal / the peer on the same draws, seed by seed: {' / '.join(f'{x:.2f}' for x in same)} (mean {np.mean(same):.2f})")


if __name__ == "__main__":
    main()
