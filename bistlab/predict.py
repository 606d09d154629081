"""Predictions: the latest forecast per (symbol, horizon) from a cycle's selected configurations.

Which model makes the forecast. The ``model.pkl`` that training saves was fit on the rows before
the holdout only (so that the holdout stayed unseen); it is weeks out of date for a forecast made
today. A forecast therefore comes from the **same configuration** (the selected trial's
``config`` in ``best_params.json``: feature groups, feature parameters, model choice, model-side
options, hyperparameters, seed) **refit on every labelled row** of the symbol as the price store
holds it now, i.e. every row t whose label ``log(close[t+h] / close[t])`` is known. The refit is
stored once, as ``runs/cycle_<N>/<SYMBOL>_<h>d/model_final.pkl`` beside ``model_final.json``
(trained rows, the last label date, the data fingerprint, wall time), and reused while the
prices' fingerprint is unchanged; new prices trigger a new refit with the same configuration.
The forecast is that model's prediction for the last row of the store (features use data up to
and including that row): the log return expected over the next h trading days.

The skill figures beside each forecast (holdout DirHit with count and 95 % Wilson interval, the
usable flag) are those of the cycle's evaluation of the configuration on its holdout; the refit
itself has no out-of-sample record, and a forecast from a model that is not usable has no
demonstrated skill.

Public API: :func:`predict_cycle` builds the table (one row per task of the cycle, including
skipped and failed tasks, whose ``note`` says why there is no forecast) and
:func:`write_predictions` writes it as CSV; :func:`default_predictions_path` is
``reports/cycle_<N>/predictions.csv`` (reports are never cleaned up).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bistlab.config import EvalSettings, Workspace
from bistlab.dataset import task_key
from bistlab.errors import NoTrainedCycleError
from bistlab.jsonio import read_json, write_json_atomic
from bistlab.honesty import CycleControl, fdr_control
from bistlab.ledger import ForecastLedger
from bistlab.metrics import split_figures, usable_verdict
from bistlab.state import StateFile, TaskStatus

__all__ = [
    "PREDICTION_COLUMNS",
    "predict_cycle",
    "write_predictions",
    "default_predictions_path",
    "latest_trained_cycle",
    "forecast_task",
    "direction_of",
    "record_forecasts",
]

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "task",
    "symbol",
    "horizon",
    "cycle",
    "status",
    "as_of",
    "last_label_date",
    "direction",
    "expected_log_return",
    "expected_return_pct",
    "dirhit_threshold",
    "holdout_dirhit",
    "holdout_count",
    "holdout_ci_low",
    "holdout_ci_high",
    "holdout_n_eff",
    "holdout_dirhit_text",
    "passes_rule",
    "usable",
    "low_support",
    "model_choice",
    "data_changed",
    "data_fingerprint",
    "note",
]
"""Columns of :func:`predict_cycle`'s frame. ``as_of``: last price date the forecast uses;
``direction``: up / down / flat (``|expected_log_return| <= dirhit_threshold``);
``expected_return_pct``: ``100 * (exp(expected_log_return) - 1)`` over h trading days;
``data_changed``: the prices changed since the cycle's HPO (the refit used the newer rows);
``passes_rule``: the holdout's usable test of the task alone; ``usable``: after the cycle-wide
false-discovery control (:func:`bistlab.honesty.fdr_control`); the holdout interval is at the
effective count ``holdout_n_eff`` of overlapping h-day labels."""

FINAL_MODEL = "model_final.pkl"
FINAL_META = "model_final.json"


def direction_of(expected_log_return: float | None, *, threshold: float) -> str:
    """``"up"``, ``"down"`` or ``"flat"`` (within ``±threshold``, the DirHit threshold, log return)."""
    if expected_log_return is None or not math.isfinite(expected_log_return):
        return "–"
    if expected_log_return > threshold:
        return "up"
    if expected_log_return < -threshold:
        return "down"
    return "flat"


def default_predictions_path(ws: Workspace, cycle: int) -> Path:
    """``reports/cycle_<N>/predictions.csv``: where the report and ``bistlab predict`` put the table."""
    return ws.reports / f"cycle_{cycle}" / "predictions.csv"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return read_json(path) if path.exists() else None
    except (OSError, ValueError) as err:
        logger.warning("unreadable %s: %s", path, err)
        return None


def _task_file(ws: Workspace, cycle: int, key: str, name: str) -> Path | None:
    """A task's result file from ``runs/`` or, after cleanup, the report's copy under ``reports/``."""
    for folder in (ws.task_dir(cycle, key), ws.reports / f"cycle_{cycle}" / key):
        if (folder / name).exists():
            return folder / name
    return None


def _cycle_numbers(ws: Workspace) -> list[int]:
    numbers = set()
    for folder in ws.runs.glob("cycle_*"):
        try:
            numbers.add(int(folder.name.split("_", 1)[1]))
        except ValueError:
            continue
    state = StateFile(ws.state_file).read()
    if state.cycle:
        numbers.add(state.cycle)
    return sorted(numbers, reverse=True)


def _trained_keys(ws: Workspace, cycle: int) -> list[str]:
    folder = ws.cycle_dir(cycle)
    return sorted(p.parent.name for p in folder.glob("*/model.json")) if folder.exists() else []


def latest_trained_cycle(ws: Workspace) -> int:
    """The newest ended cycle with at least one trained task; else the running cycle if it has one.

    Raises:
        NoTrainedCycleError: no cycle of the workspace has a trained task on disk.
    """
    state = StateFile(ws.state_file).read()
    partial = None
    for number in _cycle_numbers(ws):
        if not _trained_keys(ws, number):
            continue
        ended = number < state.cycle or (number == state.cycle and state.cycle_ended()) or state.cycle == 0
        if ended:
            return number
        partial = partial or number
    if partial is not None:
        logger.warning("cycle %d has not ended: forecasts only for its tasks trained so far", partial)
        return partial
    raise NoTrainedCycleError(
        f"no trained cycle in workspace {ws.root}: no runs/cycle_<N>/<SYMBOL>_<h>d/model.json was found; "
        "run `bistlab cycle run` first"
    )


def _task_list(ws: Workspace, cycle: int) -> list[dict[str, Any]]:
    """The cycle's tasks (symbol, horizon, status, error), from the state file, the report's copy or the run folders."""
    from bistlab.audit import cycle_tasks

    return cycle_tasks(ws, cycle)[0]


def _lazy_universe(ws: Workspace) -> Callable[..., Any]:
    """A task loader that reads the price store once, at the first forecast that needs it
    (:func:`bistlab.pipeline.load_universe`), for all the forecasts of a call."""
    from bistlab.pipeline import Universe, load_universe

    loaded: list[Universe] = []

    def load(symbol: str, horizon: int, *, settings: EvalSettings) -> Any:
        if not loaded:
            loaded.append(load_universe(ws))
        return loaded[0].task(symbol, horizon, settings=settings)

    return load


def _write_pickle_atomic(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(obj, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def forecast_task(
    ws: Workspace,
    cycle: int,
    *,
    symbol: str,
    horizon: int,
    best: dict[str, Any],
    n_jobs: int = 1,
    refit: bool = False,
    loader: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """The forecast of one task from its selected configuration refit on every labelled row.

    Args:
        ws: the workspace.
        cycle: the cycle whose configuration is used.
        symbol: the symbol.
        horizon: h, trading days.
        best: the task's ``best_params.json``.
        n_jobs: threads for the refit.
        refit: refit even if ``model_final.pkl`` matches the current prices.
        loader: ``(symbol, horizon, *, settings) -> TaskData``; default
            :func:`bistlab.pipeline.load_task` (one store read per call).

    Returns:
        ``as_of``, ``last_label_date``, ``expected_log_return``, ``data_changed``, ``refit``
        (whether a fit happened now) and ``final_meta`` (the content of ``model_final.json``).

    Raises:
        BistlabError: the symbol cannot be loaded or has too few rows.
    """
    from bistlab.evaluation import fit_model
    from bistlab.pipeline import load_task, settings_from_spec
    from bistlab.space import TrialConfig

    spec = best["evaluation_spec"]
    config = TrialConfig.from_dict(best["config"])
    if loader is None:
        task = load_task(ws, symbol, horizon, settings=settings_from_spec(spec))
    else:
        task = loader(symbol, horizon, settings=settings_from_spec(spec))
    folder = ws.task_dir(cycle, task_key(symbol, horizon))
    folder.mkdir(parents=True, exist_ok=True)
    meta_path, model_path = folder / FINAL_META, folder / FINAL_MODEL
    meta = _read(meta_path)
    model = None
    fitted = False
    if not refit and meta and model_path.exists() and meta.get("data_fingerprint") == task.fingerprint and meta.get("config") == config.to_dict():
        try:
            with open(model_path, "rb") as fh:
                model = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
            logger.warning("%s: unreadable %s (%s); refitting", task.key, model_path, err)
            model = None
    X = task.features(config)
    if model is None:
        started = time.time()
        rows = np.flatnonzero(np.isfinite(task.labels))
        model = fit_model(task, config, X, rows, n_jobs=n_jobs)
        _write_pickle_atomic(model_path, model)
        index = task.frame.index
        meta = {
            "symbol": symbol,
            "horizon": horizon,
            "cycle": cycle,
            "model_file": FINAL_MODEL,
            "trained_rows": [int(rows[0]), int(rows[-1]) + 1],
            "trained_dates": [index[rows[0]].strftime("%Y-%m-%d"), index[rows[-1]].strftime("%Y-%m-%d")],
            "last_label_date": index[rows[-1]].strftime("%Y-%m-%d"),
            "last_label_realised": index[rows[-1] + horizon].strftime("%Y-%m-%d"),
            "as_of": index[-1].strftime("%Y-%m-%d"),
            "config": config.to_dict(),
            "data_fingerprint": task.fingerprint,
            "hpo_data_fingerprint": best.get("data_fingerprint"),
            "fit_wall_seconds": time.time() - started,
        }
        write_json_atomic(meta_path, meta)
        fitted = True
    prediction = float(model.predict(X[-1:])[0])
    return {
        "as_of": task.frame.index[-1].strftime("%Y-%m-%d"),
        "last_label_date": meta["last_label_date"],
        "expected_log_return": prediction if math.isfinite(prediction) else None,
        "data_changed": task.fingerprint != best.get("data_fingerprint"),
        "refit": fitted,
        "final_meta": meta,
    }


def _row(
    ws: Workspace,
    cycle: int,
    t: dict[str, Any],
    *,
    evaluations: dict[str, dict[str, Any]],
    control: CycleControl,
    n_jobs: int,
    refit: bool,
    loader: Callable[..., Any],
) -> dict[str, Any]:
    key = task_key(t["symbol"], t["horizon"])
    row: dict[str, Any] = {c: None for c in PREDICTION_COLUMNS}
    row.update(task=key, symbol=t["symbol"], horizon=int(t["horizon"]), cycle=cycle, status=t["status"], direction="–", note="")
    best_file = _task_file(ws, cycle, key, "best_params.json")
    best = _read(best_file) if best_file else None
    ev = evaluations.get(key)
    if ev:
        h = ev["holdout"]
        verdict = usable_verdict(h, horizon=int(t["horizon"]))
        fig = split_figures(h, horizon=int(t["horizon"]))["model"]
        row.update(
            holdout_dirhit=h["dirhit"],
            holdout_count=h["mask_count"],
            holdout_ci_low=fig.low,
            holdout_ci_high=fig.high,
            holdout_n_eff=fig.n_eff if fig.defined else None,
            holdout_dirhit_text=fig.text(),
            passes_rule=bool(verdict["passes_rule"]),
            usable=bool(verdict["passes_rule"] and control.kept.get(key)),
            low_support=bool(ev.get("low_support")),
        )
    if best:
        row.update(dirhit_threshold=best["evaluation_spec"]["dirhit_threshold"], model_choice=best.get("model_choice"), low_support=bool(best["low_support"]))
    trained = (ws.task_dir(cycle, key) / "model.json").exists() or _task_file(ws, cycle, key, "model.json") is not None
    if t["status"] in (TaskStatus.SKIPPED, TaskStatus.FAILED) or not best or not trained:
        reason = t.get("error") or ("not trained in this cycle" if best else "no selected configuration (HPO did not finish)")
        row["note"] = f"no forecast: {reason}"
        return row
    if not ev:
        row["note"] = "not evaluated on the holdout yet: skill unknown; "
        row["usable"] = False
    try:
        fc = forecast_task(ws, cycle, symbol=t["symbol"], horizon=int(t["horizon"]), best=best, n_jobs=n_jobs, refit=refit, loader=loader)
    except Exception as err:  # noqa: BLE001 - one task's failure is its row's note, never the table's end
        logger.warning("%s: forecast failed: %s", key, err)
        row["note"] = (row["note"] or "") + f"forecast failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        return row
    r = fc["expected_log_return"]
    row.update(
        as_of=fc["as_of"],
        last_label_date=fc["last_label_date"],
        expected_log_return=r,
        expected_return_pct=100.0 * math.expm1(r) if r is not None else None,
        direction=direction_of(r, threshold=row["dirhit_threshold"]),
        data_changed=fc["data_changed"],
        data_fingerprint=fc["final_meta"].get("data_fingerprint"),
    )
    notes = [row["note"].rstrip("; ")] if row["note"] else []
    if fc["data_changed"]:
        notes.append("prices changed since the cycle's HPO: refit on the newer rows with the cycle's configuration")
    if row["low_support"]:
        notes.append("LOW_SUPPORT: selected under the 0/0.0 fallback")
    if row["passes_rule"] and not row["usable"]:
        notes.append("passes the usable rule alone but not the cycle-wide false-discovery control: no demonstrated skill")
    elif row["usable"] is False:
        notes.append("not usable: no demonstrated skill on the holdout")
    row["note"] = "; ".join(n for n in notes if n)
    return row


def _evaluations(ws: Workspace, cycle: int, tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each task's ``evaluation.json`` (from ``runs/`` or the report's copy), by task key."""
    out = {}
    for t in tasks:
        key = task_key(t["symbol"], t["horizon"])
        path = _task_file(ws, cycle, key, "evaluation.json")
        ev = _read(path) if path else None
        if ev:
            out[key] = ev
    return out


def record_forecasts(ws: Workspace, frame: pd.DataFrame) -> int:
    """Append the forecasts of :func:`predict_cycle`'s table to the workspace's forecast ledger.

    Returns:
        Forecasts added (one already recorded for the same task, as-of date and cycle is kept as it was).
    """
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
        }
        for r in frame.itertuples(index=False)
        if r.expected_log_return is not None and not pd.isna(r.expected_log_return) and r.as_of
    ]
    ledger = ForecastLedger.of(ws)
    try:
        return ledger.record(forecasts)
    finally:
        ledger.close()


def predict_cycle(ws: Workspace, *, cycle: int | None = None, n_jobs: int = 1, refit: bool = False, record: bool = True) -> pd.DataFrame:
    """The latest forecast of every task of a cycle (see the module docstring for the model used).

    Args:
        ws: the workspace.
        cycle: the cycle whose configurations forecast; ``None`` means
            :func:`latest_trained_cycle`.
        n_jobs: threads per refit.
        refit: refit every ``model_final.pkl`` even when the prices have not changed.
        record: append the forecasts to the forecast ledger (:mod:`bistlab.ledger`).

    Returns:
        One row per task of the cycle, horizon-first, columns :data:`PREDICTION_COLUMNS`;
        ``frame.attrs["cycle"]`` is the cycle used.

    Raises:
        NoTrainedCycleError: the workspace (or the given cycle) has no trained task.
    """
    number = latest_trained_cycle(ws) if cycle is None else int(cycle)
    tasks = _task_list(ws, number)
    if cycle is not None and not any(_task_file(ws, number, task_key(t["symbol"], t["horizon"]), "model.json") for t in tasks):
        raise NoTrainedCycleError(
            f"cycle {number} has no trained task in workspace {ws.root} (no runs/cycle_{number}/<SYMBOL>_<h>d/model.json: "
            "not trained yet, or cleaned up); run `bistlab cycle run` or choose another cycle"
        )
    loader = _lazy_universe(ws)
    evaluations = _evaluations(ws, number, tasks)
    control = fdr_control({k: usable_verdict(ev["holdout"], horizon=int(ev["horizon"])) for k, ev in evaluations.items()})
    rows = [_row(ws, number, t, evaluations=evaluations, control=control, n_jobs=n_jobs, refit=refit, loader=loader) for t in tasks]
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    if record:
        record_forecasts(ws, frame)
    frame["horizon"] = frame["horizon"].astype("int64")
    frame["holdout_count"] = frame["holdout_count"].astype("Int64")
    frame.attrs["cycle"] = number
    return frame


def write_predictions(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write :func:`predict_cycle`'s table as CSV, atomically (temp file + rename).

    Args:
        frame: the predictions.
        path: the CSV file, e.g. :func:`default_predictions_path`.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
