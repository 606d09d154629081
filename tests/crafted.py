"""A crafted cycle for report, honesty and prediction tests: real prices, real selection and
training, Optuna studies with chosen split DirHits and holdout numbers chosen by the test.

:func:`craft_cycle` writes what a finished cycle leaves: ``runs/state.json``, per task a study
with crafted trials (``studies/cycle_<N>/<TASK>.db``), ``best_params.json`` written by the real
:func:`bistlab.runs.pipeline.write_best_params` (so LOW_SUPPORT comes from the real selection),
``model.pkl`` / ``model.json`` from the real :func:`bistlab.runs.pipeline.train_step`, and an
``evaluation.json`` whose holdout numbers are the test's, with the verdict of the real
:func:`bistlab.evaluation.metrics.usable_verdict`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna

from bistlab.core.workspace import Workspace
from bistlab.evaluation.walkforward import make_evaluation_spec
from bistlab.core.jsonio import write_json_atomic
from bistlab.evaluation.metrics import symbol_metrics
from bistlab.evaluation.dirhit import usable_verdict
from bistlab.evaluation.intervals import wilson_interval
from bistlab.runs.pipeline import train_step, write_best_params
from bistlab.evaluation.universe import load_task
from bistlab.core.db_urls import storage_path
from bistlab.search.storage import make_storage
from bistlab.core.workspace import TaskPaths
from bistlab.core.names import study_name
from bistlab.models.space import SearchSpace, suggest_config
from bistlab.core.state import CycleState, StateFile, TaskState, TaskStatus
from bistlab.data.store import PriceStore

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class Crafted:
    """One crafted task.

    Attributes:
        symbol, horizon: the task.
        status: completed, skipped or failed.
        trial_dirhits: per trial, the DirHit of each of the 4 splits (percent).
        mask_count: masked rows per split (< 5 makes every split fail the support filter).
        holdout: ``(hits, count, persistence %, majority %)`` of the holdout.
        error: the reason of a skipped or failed task.
    """

    symbol: str
    horizon: int
    status: str = TaskStatus.COMPLETED
    trial_dirhits: list[list[float]] = field(default_factory=list)
    mask_count: int = 60
    holdout: tuple[int, int, float | None, float | None] | None = None
    error: str | None = None

    @property
    def key(self) -> str:
        return f"{self.symbol}_{self.horizon}d"


def _split(dirhit: float, count: int, n_test: int) -> dict[str, Any]:
    hits = round(dirhit * count / 100)
    return {
        "n_test": n_test,
        "mask_count": count,
        "mask_pct": 100.0 * count / n_test,
        "dirhit": 100.0 * hits / count if count else None,
        "dirhit_hits": hits,
        "nrmse": 1.02,
        "call_dirhit": 100.0 * hits / count if count else None,
        "call_count": count,
        "call_coverage_pct": 100.0 * count / n_test,
        "persistence_dirhit": 50.0,
        "majority_dirhit": 52.0,
        "model_metrics": None,
    }


def _holdout(hits: int, count: int, persistence: float | None, majority: float | None, n_test: int, horizon: int) -> dict[str, Any]:
    n_eff = min(count, math.ceil(n_test / horizon))  # the masked rows spread over the whole holdout
    ci = wilson_interval(hits, count, n_eff=n_eff)
    return {
        "horizon": horizon,
        "dirhit_n_eff": n_eff,
        "n_test": n_test,
        "mask_count": count,
        "mask_pct": 100.0 * count / n_test,
        "dirhit": 100.0 * hits / count if count else None,
        "dirhit_hits": hits,
        "nrmse": 0.98,
        "call_dirhit": 100.0 * hits / count if count else None,
        "call_count": count,
        "call_coverage_pct": 100.0 * count / n_test,
        "persistence_dirhit": persistence,
        "majority_dirhit": majority,
        "model_metrics": None,
        "dirhit_ci95": list(ci) if ci else None,
    }


def _craft_task(ws: Workspace, c: Crafted, cycle: int) -> None:
    task = load_task(ws, c.symbol, c.horizon)
    spec = make_evaluation_spec(task)
    space = SearchSpace.for_task(task.context, models=["lgbm"])
    storage = ws.study_storage(cycle, task.key)
    storage_path(storage).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=make_storage(storage), study_name=study_name(c.symbol, c.horizon, cycle), direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    for row in c.trial_dirhits:
        trial = study.ask()
        config = suggest_config(trial, space, horizon=c.horizon, seed=0)
        for family in config.model_params:  # small models: the tests fit them
            config.model_params[family]["n_estimators"] = 40
        splits = [_split(d, c.mask_count, sp["test_end"] - sp["test_start"]) for d, sp in zip(row, spec.splits)]
        sm = symbol_metrics(splits, symbol=c.symbol, horizon=c.horizon)
        for name, value in (("config", config.to_dict()), ("features_enabled", config.features_enabled), ("feature_params", config.feature_params), ("model_choice", config.model_choice), ("symbol_metrics", {task.key: sm})):
            trial.set_user_attr(name, value)
        study.tell(trial, 0.7 * (sm["avg_dirhit"] or 0.0) - 6.0)
    best = write_best_params(ws, study, task=task, spec=spec, cycle=cycle, space=space, wall_seconds=1.5)
    train_step(ws, c.symbol, c.horizon, cycle=cycle)
    hits, count, persistence, majority = c.holdout or (0, 0, None, None)
    n_test = spec.holdout["end"] - spec.holdout["start"]
    holdout = _holdout(hits, count, persistence, majority, n_test, c.horizon)
    sm = best.symbol_metrics[task.key]
    evaluation = {
        "symbol": c.symbol,
        "horizon": c.horizon,
        "cycle": cycle,
        "low_support": best.low_support,
        "hpo_dirhit": best.hpo_dirhit,
        "wfv_dirhit": best.hpo_dirhit,
        "wfv_avg_dirhit": sm["avg_dirhit"],
        "wfv_parity_gap": 0.0,
        "wfv": sm,
        "holdout": holdout,
        "holdout_dates": spec.holdout["dates"],
        "holdout_predictions": {"dates": [], "y_pred": [], "y_true": []},
        "verdict": usable_verdict(holdout),
        "data_fingerprint": task.fingerprint,
        "eval_wall_seconds": 2.5,
    }
    write_json_atomic(TaskPaths.of(ws, cycle, c.symbol, c.horizon).evaluation, evaluation)


def craft_cycle(ws: Workspace, tasks: list[Crafted], *, prices: dict[str, Any], cycle: int = 1) -> Workspace:
    """Write a finished cycle ``cycle`` of ``tasks`` into ``ws`` (prices: symbol -> OHLCV frame)."""
    ws.ensure()
    store = PriceStore(ws.price_url)
    for symbol, frame in prices.items():
        store.write(symbol, frame)
    store.close()
    states = {}
    for c in tasks:
        if c.status == TaskStatus.COMPLETED:
            _craft_task(ws, c, cycle)
        states[c.key] = TaskState(symbol=c.symbol, horizon=c.horizon, status=c.status, cycle=cycle, error=c.error, started_at="2026-01-02T10:00:00+00:00", completed_at="2026-01-02T10:05:00+00:00")

    def change(state: CycleState) -> None:
        state.cycle = cycle
        state.tasks.update(states)
        state.config = {"horizons": sorted({c.horizon for c in tasks}), "n_trials": 6, "seed": 0, "models": ["lgbm"]}

    StateFile(ws.state_file).update(change)
    return ws


def craft_holdout_cycle(ws: Workspace, holdouts: dict[tuple[str, int], dict[str, Any]], *, cycle: int = 1) -> Workspace:
    """A finished cycle whose tasks have nothing but a holdout evaluation (``evaluation.json``
    from the given holdout metrics and the real verdict): enough for the cycle-wide control."""
    ws.ensure()
    states = {}
    for (symbol, horizon), holdout in holdouts.items():
        key = f"{symbol}_{horizon}d"
        evaluation = {
            "symbol": symbol,
            "horizon": horizon,
            "cycle": cycle,
            "low_support": False,
            "hpo_dirhit": None,
            "wfv_dirhit": None,
            "wfv_parity_gap": None,
            "wfv": {},
            "holdout": holdout,
            "holdout_dates": ["2026-01-02", "2026-06-30"],
            "holdout_predictions": {"dates": [], "y_pred": [], "y_true": []},
            "verdict": usable_verdict(holdout, horizon=horizon),
            "data_fingerprint": "crafted",
        }
        write_json_atomic(ws.task_dir(cycle, key) / "evaluation.json", evaluation)
        states[key] = TaskState(symbol=symbol, horizon=horizon, status=TaskStatus.COMPLETED, cycle=cycle, completed_at="2026-07-01T10:00:00+00:00")

    def change(state: CycleState) -> None:
        state.cycle = cycle
        state.tasks.update(states)

    StateFile(ws.state_file).update(change)
    return ws
