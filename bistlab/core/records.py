"""The typed records of a task's result files: each owns its file name and reads files written by other versions.

:class:`BestParams` (``best_params.json``), :class:`ModelMeta` (``model.json`` beside ``model.pkl``),
:class:`Evaluation` (``evaluation.json``), :class:`FinalModelMeta` (``model_final.json`` beside
``model_final.pkl``), :class:`ForwardScore` (``forward.json``); where they live is
:class:`bistlab.core.workspace.TaskPaths`. :data:`PREDICTION_COLUMNS` are the columns of a cycle's forecasts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from bistlab.evaluation.metrics import SplitMetrics
from bistlab.evaluation.dirhit import DirHit, usable_verdict
from bistlab.core.names import study_name
from bistlab.core.textfmt import trials_text
from bistlab.core.names import task_key

__all__ = [
    "R",
    "Record",
    "BestParams",
    "ModelMeta",
    "Evaluation",
    "FinalModelMeta",
    "ForwardScore",
    "PREDICTION_COLUMNS",
]


R = TypeVar("R", bound="Record")


class Record:
    """A result file as a typed record: it owns its file name (:attr:`FILE`); :meth:`from_dict`
    ignores keys it does not know (files written by other versions stay readable)."""

    FILE: ClassVar[str]

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class BestParams(Record):
    """``best_params.json``: what HPO selected for one task, and how (:func:`bistlab.runs.pipeline.hpo_step`).

    Attributes:
        symbol, horizon, cycle: the task (horizon in trading days).
        study_name, storage: its Optuna study.
        n_trials, n_complete, n_qualified: trials in all, complete, passing the support filter.
        best_trial_number, best_params, best_value: the selected trial, its Optuna parameters, its score.
        hpo_dirhit: its DirHit over the counted splits (mean, percent; biased upward by the search).
        hpo_avg_dirhit: its mean DirHit over every split with one.
        counted_splits: the splits the support filter counted.
        low_support: no trial passed the support filter; the 0/0.0 fallback selected this one.
        filter_used: the filter that selected it.
        config: the trial's :class:`~bistlab.models.space.TrialConfig` as a dict.
        features_enabled, feature_params, model_choice: from the config, for readers.
        symbol_metrics: ``{"<SYMBOL>_<h>d": symbol metrics}`` with the per-split list.
        space_removed: what was left out of the search space, and why.
        evaluation_spec: the :class:`~bistlab.evaluation.walkforward.EvaluationSpec` as a dict.
        data_fingerprint: the prices the study ran on.
        hpo_wall_seconds: HPO's wall time.
        study_restart_note: why the study is a fresh one (prices changed between stop and resume).
        options_skipped: options the selected trial's fits could not apply, with the reason.
        n_pruned, n_failed: trials of the study stopped by the pruner and failed (``None`` in
            records written before they were kept).
        n_requested: the trials the cycle asked for (finished: complete or pruned).
        n_empty: trials pruned with fewer than ``min_valid_splits`` defined DirHits (empty masks;
            ``None`` in older records).
    """

    FILE: ClassVar[str] = "best_params.json"

    symbol: str
    horizon: int
    cycle: int
    study_name: str
    storage: str
    n_trials: int
    n_complete: int
    n_qualified: int
    best_trial_number: int
    best_params: dict[str, Any]
    best_value: float | None
    hpo_dirhit: float
    hpo_avg_dirhit: float | None
    counted_splits: list[int]
    low_support: bool
    filter_used: dict[str, Any]
    config: dict[str, Any]
    features_enabled: dict[str, bool]
    feature_params: dict[str, Any]
    model_choice: str
    symbol_metrics: dict[str, Any]
    space_removed: dict[str, str]
    evaluation_spec: dict[str, Any]
    data_fingerprint: str
    hpo_wall_seconds: float | None = None
    study_restart_note: str | None = None
    options_skipped: dict[str, Any] = field(default_factory=dict)
    n_pruned: int | None = None
    n_failed: int | None = None
    n_requested: int | None = None
    n_empty: int | None = None

    @property
    def key(self) -> str:
        return task_key(self.symbol, self.horizon)

    def trials_text(self) -> str:
        """The study's trials as :func:`bistlab.core.textfmt.trials_text` says them."""
        finished = self.n_complete + (self.n_pruned or 0)
        return trials_text(finished, self.n_requested, complete=self.n_complete, pruned=self.n_pruned, failed=self.n_failed, empty=self.n_empty, total=self.n_trials)

    @property
    def splits(self) -> list[dict[str, Any]]:
        """The selected trial's split metrics."""
        return list((self.symbol_metrics.get(self.key) or {}).get("split_metrics") or [])


@dataclass(frozen=True)
class ModelMeta(Record):
    """``model.json``: the model training fit on every row before the holdout (beside ``model.pkl``).

    Attributes:
        symbol, horizon, cycle: the task.
        model_file: the pickle beside it.
        trained_rows: ``[first, end)`` row indices fit on; trained_dates: their first and last date.
        config, best_params: the configuration fit.
        features: the feature columns.
        evaluation_spec: the spec it was fit under.
        data_fingerprint: the prices it was fit on.
        package_versions: the versions that fit it.
        low_support: the selection was LOW_SUPPORT.
        train_wall_seconds: training's wall time.
    """

    FILE: ClassVar[str] = "model.json"
    PICKLE: ClassVar[str] = "model.pkl"

    symbol: str
    horizon: int
    cycle: int
    model_file: str
    trained_rows: list[int]
    trained_dates: list[str]
    config: dict[str, Any]
    best_params: dict[str, Any]
    features: list[str]
    evaluation_spec: dict[str, Any]
    data_fingerprint: str
    package_versions: dict[str, str]
    low_support: bool
    train_wall_seconds: float | None = None


@dataclass(frozen=True)
class Evaluation(Record):
    """``evaluation.json``: WFV DirHit on the HPO's own splits (parity) and the online holdout.

    Attributes:
        symbol, horizon, cycle: the task.
        low_support: the selection was LOW_SUPPORT.
        hpo_dirhit: the HPO DirHit it is compared with.
        wfv_dirhit: the mean DirHit over the splits the selection's filter counts, after training.
        filter_used: that filter.
        wfv_counted_splits: those splits.
        wfv_pooled: ``hits`` and ``count`` over them.
        wfv_avg_dirhit: the mean over every split with a DirHit.
        wfv_parity_gap: ``wfv_dirhit − hpo_dirhit`` (0 = parity).
        wfv: symbol metrics of the splits after training.
        holdout: the holdout's :class:`~bistlab.evaluation.metrics.SplitMetrics`.
        holdout_dates: its first and last date.
        holdout_predictions: ``dates``, ``y_pred`` and ``y_true`` of every holdout row.
        verdict: the usable rule on the holdout (:func:`bistlab.evaluation.metrics.usable_verdict`).
        data_fingerprint: the prices evaluated.
        dirhit_threshold: the DirHit threshold of the evaluation (absolute log return).
        eval_wall_seconds: the evaluation's wall time.
        target: what DirHit is measured on: ``raw`` (the h-day log return; per-symbol tasks) or
            ``excess`` (over the date's cross-sectional median; universe tasks by default).
        universe: a universe task's pooled holdout figures (:func:`bistlab.evaluation.panel_metrics.panel_metrics`),
            its verdict's components, and its figures per symbol; empty for a per-symbol task.
    """

    FILE: ClassVar[str] = "evaluation.json"

    symbol: str
    horizon: int
    cycle: int
    low_support: bool
    hpo_dirhit: float | None
    wfv_dirhit: float | None
    holdout: SplitMetrics
    holdout_dates: list[str]
    verdict: dict[str, Any]
    data_fingerprint: str
    filter_used: dict[str, Any] = field(default_factory=dict)
    wfv_counted_splits: list[int] = field(default_factory=list)
    wfv_pooled: dict[str, int] = field(default_factory=dict)
    wfv_avg_dirhit: float | None = None
    wfv_parity_gap: float | None = None
    wfv: dict[str, Any] = field(default_factory=dict)
    holdout_predictions: dict[str, list[Any]] = field(default_factory=dict)
    dirhit_threshold: float | None = None
    eval_wall_seconds: float | None = None
    target: str = "raw"
    universe: dict[str, Any] = field(default_factory=dict)

    @property
    def is_universe(self) -> bool:
        return bool(self.universe)

    def rule_verdict(self) -> dict[str, Any]:
        """The usable rule's verdict: a universe task's as evaluated (its pooled rule,
        :func:`bistlab.evaluation.universe_rule.universe_verdict`); a per-symbol task's recomputed from its
        holdout numbers with today's rule (:func:`bistlab.evaluation.metrics.usable_verdict`)."""
        if self.is_universe:
            return dict(self.verdict)
        return usable_verdict(self.holdout, horizon=self.horizon)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Evaluation":
        holdout = data.get("holdout")
        data = {**data, "holdout": holdout if isinstance(holdout, SplitMetrics) else SplitMetrics.from_dict(holdout or {})}
        return super().from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        low, high = self.verdict.get("dirhit_lower_95"), self.verdict.get("dirhit_upper_95")
        out["holdout"]["dirhit_ci95"] = [low, high] if low is not None else None
        return out


@dataclass(frozen=True)
class FinalModelMeta(Record):
    """``model_final.json``: the selected configuration refit on every labelled row, for forecasts.

    Attributes:
        symbol, horizon, cycle: the task.
        model_file: the pickle beside it.
        trained_rows, trained_dates: the rows fit on.
        last_label_date: the last row whose label was known; last_label_realised: the date it was realised.
        as_of: the last price date.
        config: the configuration refit.
        data_fingerprint: the prices it was fit on; hpo_data_fingerprint: the prices HPO saw.
        fit_wall_seconds: the refit's wall time.
    """

    FILE: ClassVar[str] = "model_final.json"
    PICKLE: ClassVar[str] = "model_final.pkl"

    symbol: str
    horizon: int
    cycle: int
    model_file: str
    trained_rows: list[int]
    trained_dates: list[str]
    last_label_date: str
    last_label_realised: str
    as_of: str
    config: dict[str, Any]
    data_fingerprint: str
    hpo_data_fingerprint: str | None = None
    fit_wall_seconds: float | None = None


@dataclass(frozen=True)
class ForwardScore(Record):
    """``forward.json``: an as-of cycle's frozen final model scored on every later session
    (:func:`bistlab.runs.forward.forward_cycle`); a copy is kept in the report folder.

    Attributes:
        symbol, horizon, cycle: the task (horizon in trading days; sessions for a universe task).
        as_of: the cycle's as-of date: the model saw no price after it.
        scored_at: when it was scored (UTC ISO).
        target: what DirHit is measured on, ``raw`` (the h-day log return) or ``excess``.
        dirhit_threshold: the mask's threshold (absolute log return).
        sessions: sessions after ``as_of`` whose label is known now (scored).
        rows: rows scored (a universe task: every symbol of each session; else ``sessions``).
        first_date, last_date: the first and last session scored (``None``: none yet).
        last_label_realised: the frozen model's last training label was realised on this date
            (never after ``as_of``).
        model_fingerprint: the prices the frozen model was fit on.
        data_fingerprint: the prices scored against (the store now).
        metrics: :class:`~bistlab.evaluation.metrics.SplitMetrics` (per-symbol task) or
            :class:`~bistlab.evaluation.panel_metrics.PanelMetrics` (universe task) of the scored rows, as a dict.
        figures: ``model`` (the masked rows), ``persistence`` and ``majority`` (same rows), and for
            a per-symbol task ``call``: :class:`~bistlab.evaluation.metrics.DirHit` dicts with their intervals.
        n_eff: the effective count of the masked rows (a universe task: of their sessions).
        passes_rule: the task's own usable rule on its holdout at the cycle.
        usable: its usable flag at the cycle (after the cycle-wide false-discovery control).
        method: how the intervals were computed, in words.
    """

    FILE: ClassVar[str] = "forward.json"

    symbol: str
    horizon: int
    cycle: int
    as_of: str
    scored_at: str
    target: str
    dirhit_threshold: float
    sessions: int
    rows: int
    first_date: str | None
    last_date: str | None
    last_label_realised: str
    model_fingerprint: str
    data_fingerprint: str
    metrics: dict[str, Any]
    figures: dict[str, dict[str, Any]]
    n_eff: float
    passes_rule: bool | None = None
    usable: bool | None = None
    method: str = ""

    @property
    def key(self) -> str:
        return task_key(self.symbol, self.horizon)

    def figure(self, name: str) -> DirHit:
        """A figure of :attr:`figures` (``model``, ``persistence``, ``majority``, ``call``); undefined when absent."""
        data = self.figures.get(name)
        return DirHit(**data) if data else DirHit(None, 0, 0.0)


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
    "target",
    "note",
]
"""Columns of ``reports/cycle_<N>/predictions.csv`` (:func:`bistlab.runs.predict.predict_cycle`'s frame). ``as_of``: last price date the forecast uses;
``direction``: up / down / flat (``|expected_log_return| <= dirhit_threshold``);
``expected_return_pct``: ``100 * (exp(expected_log_return) - 1)`` over h trading days;
``data_changed``: the prices changed since the cycle's HPO (the refit used the newer rows);
``target``: what the forecast and the holdout DirHit are about (``raw``: the h-day log return;
``excess``: over the date's cross-sectional median, a universe task's forecast per symbol, task
``UNIVERSE_<h>d``); ``passes_rule``: the holdout's usable test of the task alone; ``usable``: after the cycle-wide
false-discovery control (:func:`bistlab.evaluation.honesty.fdr_control`); the holdout interval is at the
effective count ``holdout_n_eff`` of overlapping h-day labels."""
