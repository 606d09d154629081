"""The forward record of an as-of cycle: its frozen models scored on every session that followed.

An **as-of cycle** (``bistlab cycle run --as-of DATE``, ``CycleConfig.as_of``) reads the price
store as it stood on DATE (:func:`bistlab.evaluation.universe.load_universe`): HPO, selection, training and
the holdout evaluation see no row after it. Each completed task's **frozen final model** is the
selected configuration refit on every row whose label was realised by DATE
(``model_final.pkl`` with its :class:`~bistlab.core.records.FinalModelMeta`, made by
:func:`freeze_final_models` from the cycle's prices). :func:`forward_cycle` then scores it on
every later session whose label the store knows now, as the forecast ledger scores forecasts
(:mod:`bistlab.evaluation.ledger`), but at once for every session:

- **Rows.** A per-symbol task: the symbol's rows after DATE with a known h-day label, features from
  the full prices (causal: a row's features use data up to that row only). A universe task: the
  panel of every symbol built from the full prices, its rows on sessions after DATE with a known
  target (its holdout plan on more data does not matter here: only features and targets are used).
- **Figures.** The masked DirHit (|realised| and |predicted| above the task's threshold) with its
  count, effective count and 95 % interval, and the two baselines on the same rows: persistence
  (the sign of the h-day return up to the row) and majority (the majority direction of the labels
  realised by DATE). A per-symbol task's figures come from :func:`bistlab.evaluation.metrics.split_metrics`
  (intervals at the effective count of overlapping labels, :data:`~bistlab.evaluation.metrics.INTERVAL_METHOD`);
  a universe task's from :func:`bistlab.evaluation.panel_metrics.panel_metrics` (pooled over every symbol,
  intervals from a block bootstrap over dates).
- **Record.** One :class:`~bistlab.core.records.ForwardScore` (``forward.json``) per task, in its run
  folder and as a copy in the report folder, with the task's usable flag at the cycle.
  :func:`bistlab.evaluation.forward_scores.forward_groups` pools the per-symbol tasks into usable against not-usable models (tasks
  treated as independent, effective counts summed), as :func:`bistlab.evaluation.ledger.forward_record` does.

Nothing here refits on rows after DATE: a final model that was refit on later prices since (e.g.
by ``bistlab predict``) is refit frozen again from the prices up to DATE, with the same
configuration and seed.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from bistlab.evaluation.dataset import TaskData
from bistlab.core.pickles import load_pickle
from bistlab.errors import BistlabError, DataError, NoTrainedCycleError
from bistlab.evaluation.walkforward import settings_from_spec
from bistlab.core.jsonio import write_json_atomic
from bistlab.evaluation.honesty import CycleControl
from bistlab.evaluation.looks import control_cycle
from bistlab.evaluation.metrics import effective_count, split_metrics
from bistlab.evaluation.dirhit import split_figures
from bistlab.evaluation.intervals import INTERVAL_METHOD
from bistlab.evaluation.panel import PanelTask
from bistlab.evaluation.panel_calendar import PanelSettings
from bistlab.evaluation.panel_metrics import panel_metrics
from bistlab.evaluation.date_bootstrap import BOOTSTRAP_METHOD
from bistlab.runs.predict import forecast_task
from bistlab.models.space import TrialConfig
from bistlab.core.state import StateFile, TaskState, TaskStatus, tasks_of_cycle
from bistlab.report.summary import panel_figures
from bistlab.evaluation.universe import Universe, load_universe
from bistlab.core.workspace import TaskPaths, Workspace
from bistlab.core.records import BestParams, Evaluation, FinalModelMeta, ForwardScore, ModelMeta

__all__ = [
    "ScorableTask",
    "cycle_as_of",
    "default_forward_cycle",
    "freeze_final_models",
    "forward_cycle",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- which cycle, which models


def cycle_as_of(ws: Workspace, cycle: int) -> str | None:
    """The as-of date (ISO ``YYYY-MM-DD``) a cycle was run with; ``None`` for a cycle that saw every row."""
    return tasks_of_cycle(ws, cycle).config.get("as_of") or None


def _known_cycles(ws: Workspace) -> list[int]:
    """Cycle numbers with a run folder or in the state file, newest first."""
    current = StateFile(ws.state_file).read().cycle
    return sorted(set(ws.run_cycles()) | ({current} if current else set()), reverse=True)


def default_forward_cycle(ws: Workspace) -> int:
    """The newest cycle run with an as-of date, else the newest cycle.

    Raises:
        NoTrainedCycleError: no cycle has run in the workspace.
    """
    cycles = _known_cycles(ws)
    if not cycles:
        raise NoTrainedCycleError(f"no cycle has run in workspace {ws.root}: run `bistlab cycle run --as-of DATE` first")
    return next((n for n in cycles if tasks_of_cycle(ws, n).config.get("as_of")), cycles[0])


def _as_of_universe(ws: Workspace, cycle: int, as_of: str) -> Universe:
    """The prices as the cycle read them: its snapshot when it was cut at ``as_of``, else the
    store read again up to ``as_of``."""
    snapshot = ws.universe_snapshot(cycle)
    if snapshot.exists():
        universe = Universe.load(snapshot)
        if universe.as_of == as_of:
            return universe
    return load_universe(ws, as_of=as_of)


@dataclass(frozen=True)
class ScorableTask:
    """A completed task of an as-of cycle with a selection and a trained model.

    Attributes:
        paths: the task's files in the cycle.
        best: its selection (``best_params.json``), read once.
        evaluation: its holdout evaluation (``None``: not evaluated), read once.
    """

    paths: TaskPaths
    best: BestParams
    evaluation: Evaluation | None

    @property
    def key(self) -> str:
        return self.paths.key


def _scorable(ws: Workspace, cycle: int, tasks: list[TaskState]) -> list[ScorableTask]:
    """Completed tasks with a selection and a trained model, each with its files read once."""
    out = []
    for t in tasks:
        paths = ws.task(cycle, t.key)
        best = paths.read(BestParams)
        if t.status == TaskStatus.COMPLETED and best is not None and paths.find(ModelMeta.FILE):
            out.append(ScorableTask(paths, best, paths.read(Evaluation)))
    return out


def _check_frozen(meta: FinalModelMeta | None, key: str, as_of: str) -> FinalModelMeta:
    """The final model's record, if it saw no label realised after ``as_of``.

    Raises:
        DataError: no record, or a label realised after ``as_of``.
    """
    if meta is None:
        raise DataError(f"{key}: `{FinalModelMeta.FILE}` must exist beside the frozen final model but got none")
    if meta.last_label_realised > as_of:
        raise DataError(f"{key}: `last_label_realised` of the frozen final model must be on or before the as-of date {as_of} but got {meta.last_label_realised}")
    return meta


def freeze_final_models(tasks: list[ScorableTask], *, as_of: str, universe: Universe) -> dict[str, FinalModelMeta]:
    """Make sure every completed task of an as-of cycle has its frozen final model: the selected
    configuration fit on every row labelled by ``as_of`` (reused when it already is, refit from
    the cycle's prices when it is missing or was refit on later prices).

    Args:
        tasks: the cycle's completed tasks with a selection and a trained model.
        as_of: its as-of date (ISO).
        universe: the prices up to ``as_of`` (the cycle's snapshot, else the store cut at it).

    Returns:
        Task key -> the frozen model's record (tasks whose refit failed are left out, with a warning).
    """
    out: dict[str, FinalModelMeta] = {}
    for t in tasks:
        before = t.paths.read(FinalModelMeta)
        try:
            meta = _check_frozen(forecast_task(t.paths, best=t.best, loader=universe.task).final_meta, t.key, as_of)
        except Exception as err:  # noqa: BLE001 - one task's failure is its own, never the cycle's
            logger.warning("%s: no frozen final model: %s: %s", t.key, type(err).__name__, err)
            continue
        if before is not None and before.last_label_realised > as_of:
            logger.warning("%s: the final model had been refit on prices after %s (e.g. by `bistlab predict`); refit frozen at %s", t.key, as_of, as_of)
        out[t.key] = meta
    return out


def _frozen_model(paths: TaskPaths, best: BestParams, as_of: str) -> tuple[Any, FinalModelMeta]:
    """The frozen final model and its record.

    Raises:
        DataError: missing, unreadable, fit on another configuration, or past ``as_of``.
    """
    meta = _check_frozen(paths.read(FinalModelMeta), paths.key, as_of)
    if meta.config != TrialConfig.from_dict(best.config).to_dict():
        raise DataError(f"{paths.key}: `config` of the frozen final model must be the selected configuration but got another one")
    try:
        return load_pickle(paths.final_model), meta
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
        raise DataError(f"{paths.key}: `{paths.final_model.name}` must be a readable model but got {type(err).__name__}: {err}") from err


# ---------------------------------------------------------------- scoring


def _majority(labels: np.ndarray) -> int:
    """+1 or -1: the majority direction of finite ``labels`` (up on a tie, as the holdout's)."""
    known = labels[np.isfinite(labels)]
    return 1 if int((known > 0).sum()) >= int((known < 0).sum()) else -1


def _dates(index: pd.DatetimeIndex) -> tuple[str | None, str | None]:
    return (index[0].strftime("%Y-%m-%d"), index[-1].strftime("%Y-%m-%d")) if len(index) else (None, None)


def _score_symbol(task: TaskData, model: Any, X: np.ndarray, cut: pd.Timestamp, thr: float) -> dict[str, Any]:
    """A per-symbol task's rows after ``cut`` with a known label, scored (:func:`split_metrics`)."""
    h = task.horizon
    end = int(task.frame.index.searchsorted(cut, side="right"))  # rows on or before the as-of date
    rows = end + np.flatnonzero(np.isfinite(task.labels[end:]))
    preds = model.predict(X[rows]) if rows.size else np.array([])
    m = split_metrics(
        task.labels[rows], preds, thr=thr, past_return=task.past_return[rows],
        train_majority=_majority(task.labels[: max(end - h, 0)]),  # labels realised by the as-of date
        horizon=h, positions=task.positions(rows),
    )
    figures = split_figures(m, horizon=h)
    first, last = _dates(task.frame.index[rows])
    return {
        "target": "raw", "sessions": int(rows.size), "rows": int(rows.size), "first_date": first, "last_date": last,
        "metrics": m.to_dict(), "figures": {k: v.to_dict() for k, v in figures.items()}, "n_eff": float(m.dirhit_n_eff or 0),
        "method": INTERVAL_METHOD,
    }


def _score_panel(task: PanelTask, model: Any, X: np.ndarray, cut: pd.Timestamp, thr: float) -> dict[str, Any]:
    """A universe task's rows on sessions after ``cut`` with a known target, scored
    (:func:`panel_metrics`, pooled over every symbol with date-block bootstrap intervals)."""
    h, session = task.horizon, task.session
    first_after = int(task.calendar.searchsorted(cut, side="right"))  # sessions on or before the as-of date: [0, first_after)
    labelled = np.isfinite(task.labels)
    rows = np.flatnonzero(labelled & (session >= first_after))
    realised = labelled & (session + h <= first_after - 1)  # targets realised by the as-of date
    first, last = _dates(task.calendar[np.unique(session[rows])])
    out = {
        "target": task.panel.target, "sessions": int(np.unique(session[rows]).size), "rows": int(rows.size),
        "first_date": first, "last_date": last, "method": BOOTSTRAP_METHOD, "metrics": {}, "figures": {}, "n_eff": 0.0,
    }
    if not rows.size:
        return out
    preds = np.asarray(model.predict(X[rows]), dtype=float)
    pm = panel_metrics(
        session=session[rows], y_true=task.labels[rows], y_pred=preds, past_target=task.past_return[rows],
        train_majority=_majority(task.labels[realised]), horizon=h, thr=thr, cost_per_side=task.panel.cost_per_side,
        symbol=task.symbols[rows],
    )
    masked = (np.abs(task.labels[rows]) > thr) & (np.abs(preds) > thr)
    out.update(metrics=pm.to_dict(), figures={k: v.to_dict() for k, v in panel_figures(pm.to_dict()).items()}, n_eff=float(effective_count(session[rows][masked], horizon=h)))
    return out


def _score_task(t: ScorableTask, *, full: Universe, as_of: str, control: CycleControl) -> ForwardScore:
    """One task's frozen model on every session after ``as_of`` (see the module docstring), with its
    usable flags at the cycle: passes its rule alone, usable after the cycle-wide ``control``
    (``None`` for a task not evaluated).

    Raises:
        BistlabError: no frozen model, or the task cannot be built from the full prices.
    """
    best, ev = t.best, t.evaluation
    model, meta = _frozen_model(t.paths, best, as_of)
    spec = best.evaluation_spec
    extra = {"panel": PanelSettings.from_dict(spec["panel"])} if spec.get("panel") is not None else {}
    task = full.task(best.symbol, best.horizon, settings=settings_from_spec(spec), **extra)
    X = task.features(TrialConfig.from_dict(best.config))
    score = _score_panel if isinstance(task, PanelTask) else _score_symbol
    fields = score(task, model, X, pd.Timestamp(as_of), float(spec["dirhit_threshold"]))
    passes = bool(ev.rule_verdict()["passes_rule"]) if ev else None
    return ForwardScore(
        symbol=best.symbol, horizon=best.horizon, cycle=t.paths.cycle, as_of=as_of,
        scored_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), dirhit_threshold=float(spec["dirhit_threshold"]),
        last_label_realised=meta.last_label_realised, model_fingerprint=meta.data_fingerprint, data_fingerprint=task.fingerprint,
        passes_rule=passes, usable=bool(passes and control.kept.get(t.key)) if ev else None, **fields,
    )


def forward_cycle(ws: Workspace, cycle: int | None = None) -> list[ForwardScore]:
    """Score every completed task of an as-of cycle on every session after its as-of date, with the
    prices the store holds now; write each task's :class:`~bistlab.core.records.ForwardScore`.

    Args:
        ws: the workspace.
        cycle: the cycle (default: :func:`default_forward_cycle`).

    Returns:
        One record per task scored, horizon-first (a task that cannot be scored is left out with a
        warning saying why).

    Raises:
        NoTrainedCycleError: no cycle has run, or the cycle has no completed task.
        BistlabError: the cycle was not run with an as-of date.
    """
    number = default_forward_cycle(ws) if cycle is None else int(cycle)
    listed = tasks_of_cycle(ws, number)  # read once: the as-of date and the tasks
    as_of = listed.config.get("as_of")
    if not as_of:
        raise BistlabError(
            f"cycle {number} was not run with an as-of date: its models saw every stored row, so no later session can judge them "
            "(run `bistlab cycle run --as-of DATE`; a cycle's own forecasts are judged by the forecast ledger, `bistlab predict`)"
        )
    tasks = _scorable(ws, number, listed.tasks)
    if not tasks:
        raise NoTrainedCycleError(f"cycle {number} has no completed task with a trained model in workspace {ws.root}: nothing to score")
    freeze_final_models(tasks, as_of=as_of, universe=_as_of_universe(ws, number, as_of))
    full = load_universe(ws)
    evaluations = {t.key: t.evaluation for t in tasks if t.evaluation}
    control, _ = control_cycle(ws, number, evaluations)  # as the report and the forecasts: every look at the same holdouts counted
    scores = []
    for t in tasks:
        try:
            score = _score_task(t, full=full, as_of=as_of, control=control)
        except Exception as err:  # noqa: BLE001 - one task's failure is its own, never the others' record
            logger.warning("%s: not scored: %s: %s", t.key, type(err).__name__, err)
            continue
        t.paths.write(score)  # the record in the run folder, its copy in the report folder
        write_json_atomic(t.paths.report_folder / ForwardScore.FILE, score.to_dict())
        scores.append(score)
    logger.info("cycle %d (as of %s): %d of %d tasks scored", number, as_of, len(scores), len(tasks))
    return scores
