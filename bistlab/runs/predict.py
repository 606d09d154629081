"""Predictions: the latest forecast per (symbol, horizon) from a cycle's selected configurations.

Which model makes the forecast. The ``model.pkl`` that training saves was fit on the rows before
the holdout only (so that the holdout stayed unseen); it is weeks out of date for a forecast made
today. A forecast therefore comes from the **same configuration** (the selected trial's
``config`` in ``best_params.json``: feature groups, feature parameters, model choice, model-side
options, hyperparameters, seed) **refit on every labelled row** of the symbol as the price store
holds it now, i.e. every row t whose label ``log(close[t+h] / close[t])`` is known. The refit is
stored once, as ``model_final.pkl`` beside :class:`~bistlab.core.records.FinalModelMeta` in the
task's run folder (trained rows, the last label date, the data fingerprint, wall time), and
reused while the prices' fingerprint is unchanged; new prices trigger a new refit with the same
configuration. The forecast is that model's prediction for the last row of the store (features
use data up to and including that row): the log return expected over the next h trading days.

The skill figures beside each forecast (holdout DirHit with count and the interval at its
effective count, the usable flag after the cycle-wide control) are those of the cycle's
evaluation of the configuration on its holdout; the refit itself has no out-of-sample record, and
a forecast from a model that is not usable has no demonstrated skill.

Public API: :func:`predict_cycle` builds the table (one row per task of the cycle, including
skipped and failed tasks, whose ``note`` says why there is no forecast), records the forecasts in
the forecast ledger (:mod:`bistlab.evaluation.ledger`), and :func:`write_predictions` writes the table as CSV
(``Workspace.predictions_file``; reports are never cleaned up).
"""

from __future__ import annotations

import logging
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bistlab.config import EvalSettings
from bistlab.evaluation.dataset import TaskData
from bistlab.core.pickles import load_pickle
from bistlab.errors import NoTrainedCycleError
from bistlab.evaluation.walkforward import fit_model, settings_from_spec
from bistlab.evaluation.honesty import CycleControl
from bistlab.evaluation.looks import control_cycle
from bistlab.core.jsonio import atomic_file
from bistlab.evaluation.ledger import ForecastLedger
from bistlab.evaluation.dirhit import split_figures
from bistlab.models.space import TrialConfig
from bistlab.core.state import StateFile, TaskState, TaskStatus, tasks_of_cycle
from bistlab.evaluation.panel import PanelTask
from bistlab.evaluation.panel_calendar import PanelSettings
from bistlab.evaluation.universe import Universe, load_universe
from bistlab.core.workspace import TaskPaths, Workspace, task_key
from bistlab.core.records import BestParams, Evaluation, FinalModelMeta, ModelMeta, PREDICTION_COLUMNS

__all__ = [
    "Forecast",
    "predict_cycle",
    "write_predictions",
    "latest_trained_cycle",
    "forecast_task",
    "direction_of",
    "record_forecasts",
    "update_predictions",
]

logger = logging.getLogger(__name__)


Loader = Callable[..., "TaskData | PanelTask"]


def direction_of(expected_log_return: float | None, *, threshold: float) -> str:
    """``"up"``, ``"down"`` or ``"flat"`` (within ``±threshold``, the DirHit threshold, log return)."""
    if expected_log_return is None or not math.isfinite(expected_log_return):
        return "–"
    if expected_log_return > threshold:
        return "up"
    if expected_log_return < -threshold:
        return "down"
    return "flat"


def _trained(ws: Workspace, cycle: int, key: str) -> bool:
    return ws.task(cycle, key).find(ModelMeta.FILE) is not None


def latest_trained_cycle(ws: Workspace) -> int:
    """The newest ended cycle with at least one trained task; else the running cycle if it has one.

    Raises:
        NoTrainedCycleError: no cycle of the workspace has a trained task on disk.
    """
    state = StateFile(ws.state_file).read()
    numbers = sorted(set(ws.run_cycles()) | ({state.cycle} if state.cycle else set()), reverse=True)
    partial = None
    for number in numbers:
        folder = ws.cycle_dir(number)
        if not folder.exists() or not any(_trained(ws, number, p.name) for p in folder.iterdir() if p.is_dir()):
            continue
        if number < state.cycle or (number == state.cycle and state.cycle_ended()) or state.cycle == 0:
            return number
        partial = partial or number
    if partial is not None:
        logger.warning("cycle %d has not ended: forecasts only for its tasks trained so far", partial)
        return partial
    raise NoTrainedCycleError(
        f"no trained cycle in workspace {ws.root}: no trained task ({ModelMeta.FILE}) was found in its runs; run `bistlab cycle run` first"
    )


def _lazy_universe(ws: Workspace) -> Loader:
    """A task loader that reads the price store once, at the first forecast that needs it, for all
    the forecasts of a call."""
    loaded: list[Universe] = []

    def load(symbol: str, horizon: int, *, settings: EvalSettings, panel: PanelSettings | None = None) -> TaskData | PanelTask:
        if not loaded:
            loaded.append(load_universe(ws))
        return loaded[0].task(symbol, horizon, settings=settings, panel=panel)

    return load


@dataclass(frozen=True)
class Forecast:
    """One task's forecast.

    Attributes:
        as_of: the last price date it uses.
        expected_log_return: over the next h trading days (``None`` if not finite).
        data_changed: the prices changed since the cycle's HPO.
        refit: a fit happened now (else the stored final model was reused).
        final_meta: the final model's record.
        per_symbol: a universe task's forecasts, symbol -> expected target over the next h
            sessions (``expected_log_return`` is then ``None``); ``None`` for a per-symbol task.
    """

    as_of: str
    expected_log_return: float | None
    data_changed: bool
    refit: bool
    final_meta: FinalModelMeta
    per_symbol: dict[str, float | None] | None = None


def _stored_final_model(paths: TaskPaths, task: TaskData, config: TrialConfig) -> Any:
    """The stored final model when it was fit on these prices with this configuration, else ``None``."""
    meta = paths.read(FinalModelMeta)
    if not meta or not paths.final_model.exists() or meta.data_fingerprint != task.fingerprint or meta.config != config.to_dict():
        return None
    try:
        return load_pickle(paths.final_model)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
        logger.warning("%s: unreadable %s (%s); refitting", task.key, paths.final_model, err)
        return None


def _refit_final(paths: TaskPaths, task: TaskData, config: TrialConfig, best: BestParams, *, X: np.ndarray, n_jobs: int) -> Any:
    """Fit ``config`` on every labelled row; store the model and its record."""
    started = time.time()
    rows = np.flatnonzero(np.isfinite(task.labels))
    model = fit_model(task, config, X, rows, n_jobs=n_jobs)
    with atomic_file(paths.final_model, binary=True) as fh:
        pickle.dump(model, fh)
    index = task.frame.index
    paths.write(
        FinalModelMeta(
            symbol=task.symbol,
            horizon=task.horizon,
            cycle=paths.cycle,
            model_file=paths.final_model.name,
            trained_rows=[int(rows[0]), int(rows[-1]) + 1],
            trained_dates=[index[rows[0]].strftime("%Y-%m-%d"), index[rows[-1]].strftime("%Y-%m-%d")],
            last_label_date=index[rows[-1]].strftime("%Y-%m-%d"),
            last_label_realised=task.label_end_date(int(rows[-1])).strftime("%Y-%m-%d"),
            as_of=index[-1].strftime("%Y-%m-%d"),
            config=config.to_dict(),
            data_fingerprint=task.fingerprint,
            hpo_data_fingerprint=best.data_fingerprint,
            fit_wall_seconds=time.time() - started,
        )
    )
    return model


def forecast_task(paths: TaskPaths, *, best: BestParams, n_jobs: int = 1, refit: bool = False, loader: Loader | None = None) -> Forecast:
    """The forecast of one task from its selected configuration refit on every labelled row.

    Args:
        paths: the task's files in the cycle whose configuration is used (the final model is stored there).
        best: the task's selection.
        n_jobs: threads for the refit.
        refit: refit even if the stored final model matches the current prices.
        loader: ``(symbol, horizon, *, settings) -> TaskData``; default: one store read per call.

    Raises:
        BistlabError: the symbol cannot be loaded or has too few rows.
    """
    config = TrialConfig.from_dict(best.config)
    panel = best.evaluation_spec.get("panel")
    extra = {"panel": PanelSettings.from_dict(panel)} if panel is not None else {}
    task = (loader or _lazy_universe(paths.ws))(best.symbol, best.horizon, settings=settings_from_spec(best.evaluation_spec), **extra)
    paths.folder.mkdir(parents=True, exist_ok=True)
    X = task.features(config)
    model = None if refit else _stored_final_model(paths, task, config)
    fitted = model is None
    if model is None:
        model = _refit_final(paths, task, config, best, X=X, n_jobs=n_jobs)
    if isinstance(task, PanelTask):
        last = task.last_rows()
        values = model.predict(X[list(last.values())]) if last else []
        per_symbol = {s: (float(v) if math.isfinite(float(v)) else None) for s, v in zip(last, values)}
        return Forecast(
            as_of=task.frame.index[-1].strftime("%Y-%m-%d"),
            expected_log_return=None,
            data_changed=task.fingerprint != best.data_fingerprint,
            refit=fitted,
            final_meta=paths.read(FinalModelMeta),  # type: ignore[arg-type]
            per_symbol=per_symbol,
        )
    prediction = float(model.predict(X[-1:])[0])
    return Forecast(
        as_of=task.frame.index[-1].strftime("%Y-%m-%d"),
        expected_log_return=prediction if math.isfinite(prediction) else None,
        data_changed=task.fingerprint != best.data_fingerprint,
        refit=fitted,
        final_meta=paths.read(FinalModelMeta),  # type: ignore[arg-type]
    )


def _skill_fields(ev: Evaluation, control: CycleControl) -> dict[str, Any]:
    """The holdout's skill beside a forecast: DirHit with count and interval, the usable flags."""
    h = ev.holdout
    verdict = ev.rule_verdict()
    fig = split_figures(h, horizon=ev.horizon)["model"]
    key = task_key(ev.symbol, ev.horizon)
    if ev.is_universe:
        return {**_pooled_fields(ev.universe["metrics"]), "passes_rule": bool(verdict["passes_rule"]), "usable": bool(verdict["passes_rule"] and control.kept.get(key)), "low_support": ev.low_support}
    return {
        "holdout_dirhit": h.dirhit,
        "holdout_count": h.mask_count,
        "holdout_ci_low": fig.low,
        "holdout_ci_high": fig.high,
        "holdout_n_eff": fig.n_eff if fig.defined else None,
        "holdout_dirhit_text": fig.text(),
        "passes_rule": bool(verdict["passes_rule"]),
        "usable": bool(verdict["passes_rule"] and control.kept.get(key)),
        "low_support": ev.low_support,
    }


def _pooled_fields(m: dict[str, Any]) -> dict[str, Any]:
    """A universe task's pooled holdout DirHit (every symbol's rows) with its date-block bootstrap interval."""
    dirhit, lo, hi = m.get("dirhit"), m.get("dirhit_lo"), m.get("dirhit_hi")
    text = "undefined (empty mask)" if dirhit is None else f"{dirhit:.1f} % (n={m['mask_count']} rows on {m['n_dates']} dates, 95 % CI {lo:.1f}–{hi:.1f}, date-block bootstrap; every symbol pooled)"
    return {"holdout_dirhit": dirhit, "holdout_count": m.get("mask_count"), "holdout_ci_low": lo, "holdout_ci_high": hi, "holdout_n_eff": None, "holdout_dirhit_text": text}


def _forecast_fields(fc: Forecast, threshold: float) -> dict[str, Any]:
    r = fc.expected_log_return
    return {
        "as_of": fc.as_of,
        "last_label_date": fc.final_meta.last_label_date,
        "expected_log_return": r,
        "expected_return_pct": 100.0 * math.expm1(r) if r is not None else None,
        "direction": direction_of(r, threshold=threshold),
        "data_changed": fc.data_changed,
        "data_fingerprint": fc.final_meta.data_fingerprint,
    }


def _notes(row: dict[str, Any], *, evaluated: bool) -> str:
    notes = [] if evaluated else ["not evaluated on the holdout yet: skill unknown"]
    if row["data_changed"]:
        notes.append("prices changed since the cycle's HPO: refit on the newer rows with the cycle's configuration")
    if row["low_support"]:
        notes.append("LOW_SUPPORT: selected under the 0/0.0 fallback")
    if row["passes_rule"] and not row["usable"]:
        notes.append("passes the usable rule alone but not the cycle-wide false-discovery control: no demonstrated skill")
    elif row["usable"] is False:
        notes.append("not usable: no demonstrated skill on the holdout")
    return "; ".join(notes)


def _row(ws: Workspace, cycle: int, t: TaskState, *, evaluations: dict[str, Evaluation], control: CycleControl, n_jobs: int, refit: bool, loader: Loader) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in PREDICTION_COLUMNS}
    row.update(task=t.key, symbol=t.symbol, horizon=int(t.horizon), cycle=cycle, status=t.status, direction="–", note="")
    paths = ws.task(cycle, t.key)
    best, ev = paths.read(BestParams), evaluations.get(t.key)
    if ev:
        row.update(_skill_fields(ev, control))
        row["target"] = ev.target
    if best:
        row.update(dirhit_threshold=best.evaluation_spec["dirhit_threshold"], model_choice=best.model_choice, low_support=best.low_support)
        panel = best.evaluation_spec.get("panel")
        if panel is not None and row.get("target") is None:  # a universe task not evaluated yet: its spec's target
            row["target"] = panel.get("target", "excess")
    if t.status in (TaskStatus.SKIPPED, TaskStatus.FAILED) or not best or paths.find(ModelMeta.FILE) is None:
        row["note"] = f"no forecast: {t.error or ('not trained in this cycle' if best else 'no selected configuration (HPO did not finish)')}"
        return row
    if not ev:
        row["usable"] = False
    try:
        fc = forecast_task(paths, best=best, n_jobs=n_jobs, refit=refit, loader=loader)
    except Exception as err:  # noqa: BLE001 - one task's failure is its row's note, never the table's end
        logger.warning("%s: forecast failed: %s", t.key, err)
        prefix = "" if ev else "not evaluated on the holdout yet: skill unknown; "
        row["note"] = prefix + f"forecast failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        return row
    if fc.per_symbol is not None:
        return _universe_rows(row, fc, evaluated=ev is not None)
    row.update(_forecast_fields(fc, row["dirhit_threshold"]))
    row["note"] = _notes(row, evaluated=ev is not None)
    return row


def _universe_rows(row: dict[str, Any], fc: Forecast, *, evaluated: bool) -> list[dict[str, Any]]:
    """One row per symbol forecast by a universe task (expected target over the next h sessions:
    above or below the typical stock for the ``excess`` target)."""
    out = []
    for symbol, value in sorted(fc.per_symbol.items()):
        r = dict(row, symbol=symbol)
        r.update(_forecast_fields(replace(fc, expected_log_return=value), row["dirhit_threshold"]))
        r["note"] = "; ".join(filter(None, [f"universe model, target {row.get('target') or 'excess'}", _notes(r, evaluated=evaluated)]))
        out.append(r)
    return out


def record_forecasts(ws: Workspace, frame: pd.DataFrame) -> int:
    """Append the forecasts of :func:`predict_cycle`'s table to the workspace's forecast ledger.

    Returns:
        Forecasts added (one already recorded for the same task, as-of date and cycle is kept as it was).
    """
    universe = frame["task"].astype(str).str.startswith("UNIVERSE_")
    added = _record(ws, frame[~universe], universe=False)
    return added + _record(ws, frame[universe], universe=True)


def _record(ws: Workspace, frame: pd.DataFrame, *, universe: bool) -> int:
    forecasts = [
        {
            "symbol": r.symbol,
            "horizon": int(r.horizon),
            "as_of": r.as_of,
            "cycle": int(r.cycle),
            "direction": r.direction,
            "expected_log_return": float(r.expected_log_return),
            "dirhit_threshold": float(r.dirhit_threshold),
            "usable": bool(r.usable) if r.usable is not None else None,
            "passes_rule": bool(r.passes_rule) if r.passes_rule is not None else None,
            "data_fingerprint": r.data_fingerprint,
            **({"target": r.target or "excess"} if universe else {}),
        }
        for r in frame.itertuples(index=False)
        if r.expected_log_return is not None and not pd.isna(r.expected_log_return) and r.as_of
    ]
    if not forecasts:
        return 0
    ledger = ForecastLedger.of(ws, universe=universe)
    try:
        return ledger.record(forecasts)
    finally:
        ledger.close()


def _tasks_to_forecast(ws: Workspace, cycle: int | None) -> tuple[int, list[TaskState]]:
    number = latest_trained_cycle(ws) if cycle is None else int(cycle)
    tasks = tasks_of_cycle(ws, number).tasks
    if cycle is not None and not any(_trained(ws, number, t.key) for t in tasks):
        raise NoTrainedCycleError(
            f"cycle {number} has no trained task in workspace {ws.root} (no {ModelMeta.FILE} in its runs: not trained yet, or cleaned up); "
            "run `bistlab cycle run` or choose another cycle"
        )
    return number, tasks


def predict_cycle(ws: Workspace, *, cycle: int | None = None, n_jobs: int = 1, refit: bool = False, record: bool = True) -> pd.DataFrame:
    """The latest forecast of every task of a cycle (see the module docstring for the model used).

    Args:
        ws: the workspace.
        cycle: the cycle whose configurations forecast; ``None`` means :func:`latest_trained_cycle`.
        n_jobs: threads per refit.
        refit: refit every final model even when the prices have not changed.
        record: append the forecasts to the forecast ledger (:mod:`bistlab.evaluation.ledger`).

    Returns:
        One row per task of the cycle, horizon-first, columns :data:`bistlab.core.records.PREDICTION_COLUMNS`;
        ``frame.attrs["cycle"]`` is the cycle used.

    Raises:
        NoTrainedCycleError: the workspace (or the given cycle) has no trained task.
    """
    number, tasks = _tasks_to_forecast(ws, cycle)
    loader = _lazy_universe(ws)
    evaluations = {t.key: ev for t in tasks if (ev := ws.task(number, t.key).read(Evaluation))}
    control, _ = control_cycle(ws, number, evaluations)  # every look at the same holdouts counted (bistlab.evaluation.looks)
    rows = []
    for t in tasks:
        row = _row(ws, number, t, evaluations=evaluations, control=control, n_jobs=n_jobs, refit=refit, loader=loader)
        rows.extend(row if isinstance(row, list) else [row])
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    if record:
        record_forecasts(ws, frame)
    frame["horizon"] = frame["horizon"].astype("int64")
    frame["holdout_count"] = frame["holdout_count"].astype("Int64")
    frame.attrs["cycle"] = number
    return frame


def update_predictions(ws: Workspace, cycle: int) -> pd.DataFrame | None:
    """Make the cycle's forecasts and write ``reports/cycle_<N>/predictions.csv`` (recording them in
    the ledger); ``None`` when the cycle's runs were cleaned up (its CSV, if any, is kept as it was)
    or it has no trained task."""
    if not ws.cycle_dir(cycle).exists():
        return None
    try:
        frame = predict_cycle(ws, cycle=cycle)
    except NoTrainedCycleError as err:
        logger.info("cycle %d: no predictions: %s", cycle, err)
        return None
    write_predictions(frame, ws.predictions_file(cycle))
    return frame


def write_predictions(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write :func:`predict_cycle`'s table as CSV, atomically (temp file + rename).

    Args:
        frame: the predictions.
        path: the CSV file, e.g. ``Workspace.predictions_file(cycle)``.

    Returns:
        The path written.
    """
    with atomic_file(Path(path)) as fh:
        frame.to_csv(fh, index=False)
    return Path(path)
