"""The three steps of a task (HPO + selection, training, evaluation) as plain functions.

The notebooks, the CLI and the tests call these. Each step reads what the previous one wrote in
the task's run folder ``runs/cycle_<N>/<SYMBOL>_<h>d/`` and writes its own JSON there:
``best_params.json`` (HPO), ``model.pkl`` + ``model.json`` (training), ``evaluation.json``.
"""

from __future__ import annotations

import logging
import pickle
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from bistlab.config import EvalSettings, Workspace
from bistlab.dataset import TaskData, prepare_task, task_key
from bistlab.errors import DataError, StopRequested, SymbolNotFoundError
from bistlab.evaluation import (
    EvaluationSpec,
    check_spec,
    evaluate_holdout_online,
    evaluate_splits,
    fit_model,
    make_evaluation_spec,
)
from bistlab.hpo import complete_trials, open_task_study, run_hpo
from bistlab.jsonio import read_json, write_json_atomic
from bistlab.metrics import DirHit, symbol_metrics, usable_verdict
from bistlab.selection import SupportFilter, filtered_dirhit, select_best_trial
from bistlab.space import SearchSpace, TrialConfig
from bistlab.store import LoadedPrices, PriceStore

__all__ = [
    "TaskPaths",
    "Universe",
    "load_universe",
    "load_task",
    "study_name",
    "hpo_step",
    "train_step",
    "evaluate_step",
    "package_versions",
    "settings_from_spec",
]

logger = logging.getLogger(__name__)

PACKAGES = ("bistlab", "optuna", "lightgbm", "xgboost", "catboost", "torch", "numpy", "pandas", "sqlalchemy", "papermill")


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Versions of ``names`` (default: the packages a result depends on), plus Python's."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@dataclass(frozen=True)
class TaskPaths:
    """Files of one task in one cycle."""

    folder: Path

    @classmethod
    def of(cls, ws: Workspace, cycle: int, symbol: str, horizon: int) -> "TaskPaths":
        return cls(ws.task_dir(cycle, task_key(symbol, horizon)))

    @property
    def best_params(self) -> Path:
        return self.folder / "best_params.json"

    @property
    def model(self) -> Path:
        return self.folder / "model.pkl"

    @property
    def model_meta(self) -> Path:
        return self.folder / "model.json"

    @property
    def evaluation(self) -> Path:
        return self.folder / "evaluation.json"


def study_name(symbol: str, horizon: int, cycle: int) -> str:
    """``"<SYMBOL>_<h>d_c<N>"``."""
    return f"{task_key(symbol, horizon)}_c{cycle}"


@dataclass
class Universe:
    """Every symbol of a price store, read and validated once: what a task needs from the store
    (its own prices, every other symbol as a peer for external features, its sentiment rows).

    Attributes:
        url: the store's URL with any password masked, for messages.
        loaded: the symbols that passed validation.
        errors: why each other stored symbol did not.
        sentiment: per loaded symbol, its sentiment rows (``None``: the store has no sentiment table).
    """

    url: str
    loaded: dict[str, LoadedPrices]
    errors: dict[str, DataError]
    sentiment: dict[str, pd.DataFrame | None]

    def task(self, symbol: str, horizon: int, *, settings: EvalSettings | None = None) -> TaskData:
        """Prepare ``symbol`` at ``horizon`` (trading days) with the others as its peers.

        Raises:
            SymbolNotFoundError: the store has no such symbol.
            DataError: the symbol's own rows failed validation (e.g. too few rows).
        """
        if symbol in self.errors:
            raise self.errors[symbol]
        if symbol not in self.loaded:
            known = len(self.loaded) + len(self.errors)
            hint = f" (did you mean {symbol.upper()!r}?)" if symbol.upper() in self.loaded else ""
            raise SymbolNotFoundError(
                f"`symbol` must be one of the {known} symbols in price store {self.url} but got {symbol!r}{hint}",
                symbol=symbol,
            )
        loaded = self.loaded[symbol]
        peers = {other: lp.frame for other, lp in self.loaded.items() if other != symbol}
        return prepare_task(
            symbol,
            loaded.frame,
            horizon=horizon,
            fingerprint=loaded.fingerprint,
            settings=settings,
            peers=peers,
            sentiment=self.sentiment.get(symbol),
        )


def load_universe(ws: Workspace, *, only: str | None = None) -> Universe:
    """Read and validate every symbol of the workspace's price store once.

    Args:
        ws: the workspace (its store URL, table and column mapping).
        only: read sentiment rows for this symbol alone (one task); default: for every symbol.
    """
    store = PriceStore.from_workspace(ws)
    try:
        loaded: dict[str, LoadedPrices] = {}
        errors: dict[str, DataError] = {}
        for symbol in store.symbols():
            try:
                loaded[symbol] = store.load(symbol)
            except DataError as err:
                errors[symbol] = err
                if symbol != only:
                    logger.warning("%s: left out of external features: %s", symbol, err)
        wanted = [only] if only else list(loaded)
        sentiment = {symbol: store.read_sentiment(symbol) for symbol in wanted if symbol in loaded}
        return Universe(url=store.safe_url, loaded=loaded, errors=errors, sentiment=sentiment)
    finally:
        store.close()


def load_task(ws: Workspace, symbol: str, horizon: int, *, settings: EvalSettings | None = None) -> TaskData:
    """Load and validate one symbol from the price store, once, and prepare the task.

    Raises:
        SymbolNotFoundError: the store has no such symbol.
        InsufficientDataError: too few usable rows for the horizon.
    """
    return load_universe(ws, only=symbol).task(symbol, horizon, settings=settings)


def hpo_step(
    ws: Workspace,
    symbol: str,
    horizon: int,
    *,
    cycle: int,
    n_trials: int,
    seed: int = 0,
    n_jobs: int = 1,
    warm_start: dict[str, Any] | None = None,
    settings: EvalSettings | None = None,
    models: Sequence[str] | None = None,
    show_progress_bar: bool = False,
) -> dict[str, Any]:
    """Run (or resume) the task's study, select the best trial and write ``best_params.json``.

    ``models`` restricts the model families searched (default: every available one).

    Returns:
        The content of ``best_params.json``.
    """
    started = time.time()
    task = load_task(ws, symbol, horizon, settings=settings)
    spec = make_evaluation_spec(task)
    paths = TaskPaths.of(ws, cycle, symbol, horizon)
    paths.folder.mkdir(parents=True, exist_ok=True)
    (ws.studies / f"cycle_{cycle}").mkdir(parents=True, exist_ok=True)
    storage = ws.study_storage(cycle, task.key)
    study, restart_note = open_task_study(storage, study_name(symbol, horizon, cycle), spec, seed=seed)
    space = SearchSpace.for_task(task.context, models=models)
    done = len(complete_trials(study))
    if done < n_trials:
        logger.info("%s cycle %d: %d of %d trials complete; running the rest", task.key, cycle, done, n_trials)
        run_hpo(
            task,
            spec,
            study=study,
            n_trials=n_trials,
            space=space,
            seed=seed,
            n_jobs=n_jobs,
            warm_start=warm_start,
            stop=ws.stop_requested,
            show_progress_bar=show_progress_bar,
        )
        done = len(complete_trials(study))
        if done < n_trials and ws.stop_requested():
            raise StopRequested(f"{task.key}: paused by a stop request after {done} of {n_trials} trials", task=task.key)
    return write_best_params(ws, study, task=task, spec=spec, cycle=cycle, space=space, wall_seconds=time.time() - started, restart_note=restart_note)


def write_best_params(
    ws: Workspace,
    study: optuna.Study,
    *,
    task: TaskData,
    spec: EvaluationSpec,
    cycle: int,
    space: SearchSpace,
    wall_seconds: float | None = None,
    restart_note: str | None = None,
) -> dict[str, Any]:
    """Select from ``study`` and write the task's ``best_params.json`` (also used to recover it).

    Only trials scored on ``spec`` are ranked; ``restart_note`` says why the study is a fresh one.
    """
    s = task.settings
    flt = SupportFilter(s.min_mask_count, s.min_mask_pct, s.min_valid_splits)
    sel = select_best_trial(study.trials, symbol=task.symbol, horizon=task.horizon, flt=flt, study_name=study.study_name, spec_id=spec.spec_id)
    attrs = sel.user_attrs
    sm = attrs["symbol_metrics"][task.key]
    result = {
        "symbol": task.symbol,
        "horizon": task.horizon,
        "cycle": cycle,
        "study_name": study.study_name,
        "storage": ws.study_storage(cycle, task.key),
        "n_trials": len(study.trials),
        "n_complete": sel.n_complete,
        "n_qualified": sel.n_qualified,
        "best_trial_number": sel.trial_number,
        "best_params": sel.params,
        "best_value": sel.score,
        "hpo_dirhit": sel.filtered_dirhit,
        "hpo_avg_dirhit": sm["avg_dirhit"],
        "counted_splits": list(sel.counted_splits),
        "low_support": sel.low_support,
        "filter_used": sel.filter_used,
        "config": attrs["config"],
        "features_enabled": attrs["features_enabled"],
        "feature_params": attrs["feature_params"],
        "model_choice": attrs["model_choice"],
        "symbol_metrics": {task.key: sm},
        "space_removed": space.removed,
        "evaluation_spec": spec.to_dict(),
        "data_fingerprint": task.fingerprint,
        "hpo_wall_seconds": wall_seconds,
        "study_restart_note": restart_note,
        "options_skipped": attrs.get("options_skipped") or {},
    }
    write_json_atomic(TaskPaths.of(ws, cycle, task.symbol, task.horizon).best_params, result)
    logger.info(
        "%s cycle %d: best trial %d, HPO DirHit %.2f%%%s",
        task.key, cycle, sel.trial_number, sel.filtered_dirhit, " (LOW_SUPPORT)" if sel.low_support else "",
    )
    return result


def train_step(ws: Workspace, symbol: str, horizon: int, *, cycle: int, n_jobs: int = 1) -> dict[str, Any]:
    """Fit the selected configuration on every row before the holdout and save it with its metadata.

    Returns:
        The content of ``model.json``.
    """
    started = time.time()
    paths = TaskPaths.of(ws, cycle, symbol, horizon)
    best = read_json(paths.best_params)
    spec = EvaluationSpec.from_dict(best["evaluation_spec"])
    config = TrialConfig.from_dict(best["config"])
    task = load_task(ws, symbol, horizon, settings=settings_from_spec(spec))
    check_spec(task, spec)
    X = task.features(config)
    rows = np.arange(spec.holdout["dev_end"])
    model = fit_model(task, config, X, rows, n_jobs=n_jobs)
    with open(paths.model, "wb") as fh:
        pickle.dump(model, fh)
    meta = {
        "symbol": symbol,
        "horizon": horizon,
        "cycle": cycle,
        "model_file": paths.model.name,
        "trained_rows": [0, int(rows.size)],
        "trained_dates": [task.frame.index[0].strftime("%Y-%m-%d"), task.frame.index[rows.size - 1].strftime("%Y-%m-%d")],
        "config": config.to_dict(),
        "best_params": best["best_params"],
        "features": task.feature_names(config),
        "evaluation_spec": spec.to_dict(),
        "data_fingerprint": task.fingerprint,
        "package_versions": package_versions(),
        "low_support": best["low_support"],
        "train_wall_seconds": time.time() - started,
    }
    write_json_atomic(paths.model_meta, meta)
    return meta


def settings_from_spec(spec: EvaluationSpec | dict[str, Any]) -> EvalSettings:
    """The evaluation settings a stored evaluation_spec (object or dict) was made with."""
    data = spec.to_dict() if isinstance(spec, EvaluationSpec) else spec
    f = data["filter"]
    return EvalSettings(
        dirhit_threshold=data["dirhit_threshold"],
        min_mask_count=f["min_mask_count"],
        min_mask_pct=f["min_mask_pct"],
        min_valid_splits=f["min_valid_splits"],
        n_splits=len(data["splits"]),
        refit_every=data["refit_every"],
    )


def evaluate_step(ws: Workspace, symbol: str, horizon: int, *, cycle: int, n_jobs: int = 1) -> dict[str, Any]:
    """WFV DirHit on the HPO's own splits (parity) and online DirHit on the holdout.

    Returns:
        The content of ``evaluation.json``.
    """
    started = time.time()
    paths = TaskPaths.of(ws, cycle, symbol, horizon)
    best = read_json(paths.best_params)
    spec = EvaluationSpec.from_dict(best["evaluation_spec"])
    config = TrialConfig.from_dict(best["config"])
    settings = settings_from_spec(spec)
    task = load_task(ws, symbol, horizon, settings=settings)
    wfv_splits = evaluate_splits(task, config, spec, n_jobs=n_jobs)
    wfv = symbol_metrics(wfv_splits, symbol=symbol, horizon=horizon, min_valid_splits=settings.min_valid_splits)
    flt = SupportFilter(**best["filter_used"])
    filtered = filtered_dirhit(wfv["split_metrics"], flt)
    holdout, preds = evaluate_holdout_online(task, config, spec, n_jobs=n_jobs)
    h = holdout.to_dict()
    figure = DirHit.rate(holdout.dirhit_hits, holdout.mask_count, holdout.dirhit_n_eff)
    start, end = spec.holdout["start"], spec.holdout["end"]
    result = {
        "symbol": symbol,
        "horizon": horizon,
        "cycle": cycle,
        "low_support": best["low_support"],
        "hpo_dirhit": best["hpo_dirhit"],
        "wfv_dirhit": filtered[0] if filtered else None,
        "filter_used": best["filter_used"],
        "wfv_counted_splits": list(filtered[1]) if filtered else [],
        "wfv_pooled": {
            "hits": sum(wfv["split_metrics"][i]["dirhit_hits"] for i in (filtered[1] if filtered else ())),
            "count": sum(wfv["split_metrics"][i]["mask_count"] for i in (filtered[1] if filtered else ())),
        },
        "wfv_avg_dirhit": wfv["avg_dirhit"],
        "wfv_parity_gap": (filtered[0] - best["hpo_dirhit"]) if filtered else None,
        "wfv": wfv,
        "holdout": {**h, "dirhit_ci95": [figure.low, figure.high] if figure.defined else None},
        "holdout_dates": spec.holdout["dates"],
        "holdout_predictions": {
            "dates": [d.strftime("%Y-%m-%d") for d in task.frame.index[start:end]],
            "y_pred": preds.tolist(),
            "y_true": task.labels[start:end].tolist(),
        },
        "verdict": usable_verdict(holdout, horizon=horizon),
        "data_fingerprint": task.fingerprint,
        "eval_wall_seconds": time.time() - started,
    }
    write_json_atomic(paths.evaluation, result)
    return result
