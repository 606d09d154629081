"""Evaluation: the evaluation_spec, walk-forward split metrics and the online holdout.

HPO writes the :class:`EvaluationSpec` of a task; training reads it back and evaluates on the
very same splits, so the post-training WFV DirHit equals the trial's DirHit (parity).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from bistlab.config import EvalSettings
from bistlab.evaluation.dataset import TaskData
from bistlab.errors import DataError
from bistlab.core.jsonio import to_jsonable
from bistlab.evaluation.metrics import SplitMetrics, majority_direction, split_metrics
from bistlab.models.estimator import TaskModel
from bistlab.models.space import TrialConfig

__all__ = [
    "EvaluationSpec",
    "make_evaluation_spec",
    "fit_model",
    "evaluate_splits",
    "evaluate_holdout_online",
    "check_spec",
    "spec_id",
    "settings_from_spec",
]


@dataclass(frozen=True)
class EvaluationSpec:
    """Serializable description of one task's evaluation.

    Attributes:
        symbol: the symbol.
        horizon: h, trading days.
        n_rows: rows of the clean frame.
        fingerprint: data fingerprint the spec was built on.
        purge: rows between each training end and its test start (= h).
        splits: per split ``train_end, test_start, test_end`` (row indices, ends exclusive) and dates.
        holdout: ``start``, ``end`` (row indices) and dates of the holdout.
        dirhit_threshold: ``thr``.
        filter: support-filter thresholds used at selection.
        refit_every: online holdout refit interval, rows (sessions for a universe task).
        panel: a universe task's panel (target, settings, members; see :mod:`bistlab.evaluation.panel`);
            ``None`` for a per-symbol task (and then left out of the stored spec).
    """

    symbol: str
    horizon: int
    n_rows: int
    fingerprint: str
    purge: int
    splits: list[dict[str, Any]]
    holdout: dict[str, Any]
    dirhit_threshold: float
    filter: dict[str, Any]
    refit_every: int
    panel: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["panel"] is None:
            del data["panel"]  # per-symbol specs stay as they were (their spec ids unchanged)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EvaluationSpec":
        return cls(**data)

    @property
    def spec_id(self) -> str:
        """A short hash of the whole spec: trials with different ids were scored on different splits or data."""
        return spec_id(self.to_dict())


def spec_id(spec: dict[str, Any]) -> str:
    """:attr:`EvaluationSpec.spec_id` of a stored spec (dict)."""
    text = json.dumps(to_jsonable(spec), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
        holdout_rows=data["holdout"].get("rows_requested"),
    )


def _date(task: TaskData, i: int) -> str:
    return task.frame.index[i].strftime("%Y-%m-%d")


def make_evaluation_spec(task: TaskData) -> EvaluationSpec:
    """The spec of ``task``: its purged walk-forward splits and holdout."""
    s = task.settings
    splits = []
    for train_end, test_start, test_end in task.split_boundaries():
        splits.append(
            {
                "train_end": train_end,
                "test_start": test_start,
                "test_end": test_end,
                "train_dates": [_date(task, 0), _date(task, train_end - 1)],
                "test_dates": [_date(task, test_start), _date(task, test_end - 1)],
            }
        )
    p = task.plan
    return EvaluationSpec(
        symbol=task.symbol,
        horizon=task.horizon,
        n_rows=p.n_rows,
        fingerprint=task.fingerprint,
        purge=task.horizon,
        splits=splits,
        holdout={
            "start": p.holdout_start,
            "end": p.holdout_end,
            "dev_end": p.dev_end,
            "dates": [_date(task, p.holdout_start), _date(task, p.holdout_end - 1)],
            **({"rows_requested": s.holdout_rows} if s.holdout_rows is not None else {}),  # absent by default: older spec ids stay
        },
        dirhit_threshold=s.dirhit_threshold,
        filter={"min_mask_count": s.min_mask_count, "min_mask_pct": s.min_mask_pct, "min_valid_splits": s.min_valid_splits},
        refit_every=s.refit_every,
        panel=task.spec_extra(),
    )


def check_spec(task: TaskData, spec: EvaluationSpec) -> None:
    if spec.fingerprint != task.fingerprint or spec.n_rows != len(task.frame):
        raise DataError(
            f"{task.key}: `data fingerprint` must match the evaluation_spec's {spec.fingerprint} "
            f"({spec.n_rows} rows) but got {task.fingerprint} ({len(task.frame)} rows); the prices changed since HPO",
            symbol=task.symbol,
        )


def fit_model(task: TaskData, config: TrialConfig, X: np.ndarray, rows: np.ndarray, *, n_jobs: int = 1) -> TaskModel:
    """Fit ``config``'s :class:`~bistlab.models.estimator.TaskModel` on the given rows (labels known)."""
    model = TaskModel(config, horizon=task.horizon, n_jobs=n_jobs)
    short = {hs: task.labels_for(hs)[rows] for hs in model.stacked_horizons}
    return model.fit(X[rows], task.labels[rows], short_labels=short)


def evaluate_splits(
    task: TaskData,
    config: TrialConfig,
    spec: EvaluationSpec,
    *,
    n_jobs: int = 1,
    on_split: Callable[[int, SplitMetrics], None] | None = None,
    skipped: dict[str, dict[str, Any]] | None = None,
    scales: list[float] | None = None,
) -> list[SplitMetrics]:
    """Fit on each split's training rows, predict its test window, measure.

    Args:
        task: the task's data.
        config: the configuration to evaluate.
        spec: the splits (read back from HPO for parity).
        n_jobs: threads for the model fit.
        on_split: called after each split with its index and metrics (e.g. to report to a pruner;
            it may raise ``optuna.TrialPruned``).
        skipped: filled with the options a split's fit could not apply: option name ->
            ``{"reason": ..., "splits": [indices]}`` (e.g. meta stacking on a short window).
        scales: filled with each split's prediction scale, fit on its training rows
            (:func:`bistlab.models.estimator.prediction_scale`; 1.0 when the option is off).
    """
    check_spec(task, spec)
    X = task.features(config)
    out: list[SplitMetrics] = []
    for i, sp in enumerate(spec.splits):
        train = np.arange(sp["train_end"])
        test = np.arange(sp["test_start"], sp["test_end"])
        model = fit_model(task, config, X, train, n_jobs=n_jobs)
        if skipped is not None:
            for option, reason in model.skipped.items():
                skipped.setdefault(option, {"reason": reason, "splits": []})["splits"].append(i)
        if scales is not None:
            scales.append(float(model.scale))
        m = split_metrics(
            task.labels[test],
            model.predict(X[test]),
            thr=spec.dirhit_threshold,
            past_return=task.past_return[test],
            train_majority=majority_direction(task.labels[train]),
            horizon=task.horizon,
            positions=task.positions(test),
        )
        if len(config.families) > 1:
            per_model = {}
            for family, pred in model.component_predictions(X[test]).items():
                c = split_metrics(task.labels[test], pred, thr=spec.dirhit_threshold, horizon=task.horizon, positions=task.positions(test))
                per_model[family] = {"dirhit": c.dirhit, "mask_count": c.mask_count, "n_eff": c.dirhit_n_eff, "nrmse": c.nrmse}
            m = replace(m, model_metrics=per_model)
        out.append(m)
        if on_split is not None:
            on_split(i, m)
    return out


def evaluate_holdout_online(
    task: TaskData,
    config: TrialConfig,
    spec: EvaluationSpec,
    *,
    n_jobs: int = 1,
) -> tuple[SplitMetrics, np.ndarray]:
    """Online DirHit on the holdout: step through it, refitting every ``spec.refit_every`` rows.

    The model that predicts holdout row t is fit on every row r with ``r + h <= b`` (labels known
    at the block start b ≤ t), so it never sees a price after b. A universe task's blocks are
    ``refit_every`` sessions of every symbol (:meth:`bistlab.evaluation.panel.PanelTask.holdout_blocks`).

    Returns:
        The holdout's metrics and the predictions (one per holdout row).
    """
    check_spec(task, spec)
    X = task.features(config)
    h = task.horizon
    start, end = spec.holdout["start"], spec.holdout["end"]
    preds = np.full(end - start, np.nan)
    blocks = task.holdout_blocks(spec.refit_every)
    first_train_end = blocks[0][0]
    for train_end, b, stop in blocks:
        model = fit_model(task, config, X, np.arange(train_end), n_jobs=n_jobs)
        preds[b - start : stop - start] = model.predict(X[b:stop])
    test = np.arange(start, end)
    metrics = split_metrics(
        task.labels[test],
        preds,
        thr=spec.dirhit_threshold,
        past_return=task.past_return[test],
        train_majority=majority_direction(task.labels[:first_train_end]),
        horizon=h,
        positions=task.positions(test),
    )
    return metrics, preds
