"""The estimator a trial fits: model families composed with the model-side options.

:class:`TaskModel` is what every split fits and what training saves. It composes, from a
:class:`~bistlab.models.space.TrialConfig`:

- the base family (or every family when ``model_choice == "all"``), each on the directional
  loss when that option is on, each an average of n seeds under seed bagging (final fits only:
  inner validation and out-of-fold fits use one seed, to bound the cost);
- for the ensemble, a plain mean, the smart ensemble (weights from DirHit on the last part of
  the training window, purged by h) and/or meta stacking (a ridge meta-learner, on standardized inputs, over the base
  models' out-of-fold predictions from purged expanding folds);
- stacked short-horizon predictions: out-of-fold predictions of shorter-horizon models, trained
  on the same rows, appended as features (full-fit predictions for rows to predict); to bound
  the cost a short model is the trial's first family with its loss, one seed, no ensemble;
- from h = 7 on, every fit inside the ensemble and every stacked short-horizon model caps its
  boosting rounds at :data:`ENSEMBLE_MAX_ROUNDS`, the learning rate raised in proportion (cost:
  an ensemble trial fits each family 6 to 30 times per split); a single family's own model is
  fit as drawn;
- the prediction scale: every prediction times one factor ≥ 1 fit on the training rows
  (:func:`prediction_scale`), so a model that shrinks towards the mean still makes calls beyond
  the DirHit threshold; signs are kept.

Everything a TaskModel learns comes from the rows passed to ``fit``; out-of-fold predictions
come from folds purged by the label horizon, so no meta input is fit on its own label.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bistlab.errors import InsufficientDataError
from bistlab.models import Regressor, registry as model_registry
from bistlab.models.options import shorter_horizons
from bistlab.models.space import TrialConfig
from bistlab.data.splits import PurgedWalkForward

__all__ = [
    "TaskModel",
    "SeedBag",
    "Ensemble",
    "oof_predictions",
    "build_base",
    "meta_learner",
    "prediction_scale",
    "MAX_PREDICTION_SCALE",
    "ENSEMBLE_MAX_ROUNDS",
    "CAPPED_FROM_HORIZON",
    "MAX_CAPPED_LEARNING_RATE",
    "rounds_cap",
    "capped_params",
]

logger = logging.getLogger(__name__)

MIN_INNER_TRAIN_ROWS = 100
MIN_META_ROWS = 30
"""Fewest out-of-fold rows a meta-learner is fit on; with fewer, meta stacking is skipped for the fit."""
MAX_PREDICTION_SCALE = 50.0
"""Largest factor :func:`prediction_scale` applies: a model whose predictions are 50× smaller than
its labels is close to a constant, and a larger factor would only turn its noise into calls."""
ENSEMBLE_MAX_ROUNDS: int | None = 50
"""Most boosting rounds (trees, iterations) of a fit inside the ensemble (its members, their
out-of-fold and smart-weight fits) and of a stacked short-horizon model, from
:data:`CAPPED_FROM_HORIZON` on; a drawn count above it is cut to it with the learning rate raised
in proportion (:func:`capped_params`). ``None``: no cap. At h = 7 an ensemble trial fits each
family 6 to 30 times per split (seed bagging, out-of-fold folds, smart weights, short models);
drawn rounds are log-uniform in 50..400 (50..300 for CatBoost). Measured on 5 BIST studies at
h = 7 (``bench/bench_ensemble_cost.py``): model fit seconds 2.6× fewer, the median ensemble
trial 6.5 → 3.2 s, the selected trials' holdout DirHit +2.8 points (95 % CI −3.6 .. +9.1) and
nRMSE −0.04 (−0.10 .. +0.03): no measurable loss (docs/performance.md, "Ensemble cost at h ≥ 7")."""
CAPPED_FROM_HORIZON = 7
"""Shortest horizon (trading days) at which :data:`ENSEMBLE_MAX_ROUNDS` applies (measured at h = 7)."""
MAX_CAPPED_LEARNING_RATE = 0.3
"""Highest learning rate a capped fit is given (the search draws up to 0.2)."""


class SeedBag:
    """The average of the same model fit with several seeds."""

    def __init__(self, models: Sequence[Regressor]) -> None:
        self.models = list(models)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "SeedBag":
        for m in self.models:
            m.fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.mean([np.asarray(m.predict(X), dtype=float) for m in self.models], axis=0)


def rounds_cap(horizon: int) -> int | None:
    """The cap on boosting rounds of ensemble and stacked short-horizon fits at ``horizon`` (trading
    days): :data:`ENSEMBLE_MAX_ROUNDS` from :data:`CAPPED_FROM_HORIZON` on, else ``None``."""
    return ENSEMBLE_MAX_ROUNDS if horizon >= CAPPED_FROM_HORIZON else None


def capped_params(family: str, params: dict[str, Any], max_rounds: int | None) -> dict[str, Any]:
    """``params`` with the boosting rounds cut to ``max_rounds`` and the learning rate raised by the
    same factor (at most :data:`MAX_CAPPED_LEARNING_RATE`), so the fit keeps about the same total
    shrinkage (rounds × learning rate) in fewer rounds.

    Args:
        family: the model family's name; a family without ``rounds`` is returned unchanged.
        params: its hyperparameters (as drawn by the search).
        max_rounds: the cap (rounds); ``None``: no cap.

    Returns:
        A new dict when capped, else ``params`` itself.
    """
    key = model_registry()[family].rounds
    if max_rounds is None or key is None or int(params.get(key, 0)) <= max_rounds:
        return params
    factor = int(params[key]) / max_rounds
    out = {**params, key: max_rounds}
    if "learning_rate" in params:
        out["learning_rate"] = min(MAX_CAPPED_LEARNING_RATE, max(float(params["learning_rate"]), float(params["learning_rate"]) * factor))
    return out


def build_base(
    config: TrialConfig, family: str, *, n_jobs: int = 1, seed_offset: int = 0, bagging: bool = True, max_rounds: int | None = None
) -> Regressor:
    """One family's model with the directional loss and (unless ``bagging`` is False) seed bagging;
    with ``max_rounds``, its boosting rounds capped (:func:`capped_params`)."""
    fam = model_registry()[family]
    directional = config.option("directional_loss")
    weight = directional["weight"] if directional else None
    seeds = config.option("seed_bagging") if bagging else None
    n_seeds = int(seeds["n_seeds"]) if seeds else 1
    params = capped_params(family, config.model_params[family], max_rounds)
    models = [fam.build(params, seed=config.seed + seed_offset + i, n_jobs=n_jobs, directional_weight=weight) for i in range(n_seeds)]
    return models[0] if n_seeds == 1 else SeedBag(models)


def oof_predictions(make_model, X: np.ndarray, y: np.ndarray, *, n_folds: int, gap: int) -> np.ndarray:
    """Out-of-fold predictions over rows ``0..n-1`` (time order) from purged expanding folds.

    Rows of a fold with fewer than ``MIN_INNER_TRAIN_ROWS`` earlier labelled rows stay NaN. A fold's model is fit only on
    rows that end ``gap`` rows before the fold starts, so no label it learns from reaches the fold, and only on rows
    whose label is known (a universe task's shorter-horizon label is missing where a symbol lacks a session).

    Raises:
        InsufficientDataError: too few rows for ``n_folds`` folds.
    """
    out = np.full(len(y), np.nan)
    for train_end, start, end in PurgedWalkForward(n_folds, horizon=gap).boundaries(len(y)):
        if train_end < MIN_INNER_TRAIN_ROWS:
            continue
        known = np.flatnonzero(np.isfinite(y[:train_end]))
        if len(known) < MIN_INNER_TRAIN_ROWS:
            continue
        model = make_model()
        model.fit(X[known], y[known])
        out[start:end] = model.predict(X[start:end])
    return out


def _dirhit(y: np.ndarray, p: np.ndarray, thr: float = 0.005) -> float:
    mask = (np.abs(y) > thr) & (np.abs(p) > thr)
    return float(np.mean(np.sign(p[mask]) == np.sign(y[mask]))) if mask.any() else 0.5


def prediction_scale(y: np.ndarray, pred: np.ndarray, *, spread: float) -> float:
    """The factor that gives a model's predictions the size of its labels, from training rows only.

    ``spread * median(|y|) / median(|pred|)``, at least 1 and at most :data:`MAX_PREDICTION_SCALE`,
    where ``pred`` are the model's predictions of the rows it was fit on and ``y`` their labels.
    Regressors of daily log returns shrink towards the mean (strong regularisation, a small
    learning rate, few trees, seed and ensemble averaging): their |predictions| are a few times
    smaller than the labels', rarely beyond the DirHit threshold, and a split's mask is empty. The
    factor is positive, so every prediction keeps its sign; it widens, never narrows.

    Args:
        y: labels of the training rows (log returns).
        pred: the fitted model's predictions of the same rows (log returns).
        spread: the target median |prediction| as a fraction of the median |label| (0.5 to 1).

    Returns:
        The factor (dimensionless); 1.0 when either median is zero or not finite.
    """
    size_y = float(np.nanmedian(np.abs(np.asarray(y, dtype=float)))) if len(y) else math.nan
    size_p = float(np.nanmedian(np.abs(np.asarray(pred, dtype=float)))) if len(pred) else math.nan
    if not (math.isfinite(size_y) and math.isfinite(size_p)) or size_y <= 0.0 or size_p <= 0.0:
        return 1.0
    return float(min(MAX_PREDICTION_SCALE, max(1.0, spread * size_y / size_p)))


def meta_learner(alpha: float, *, n_rows: int) -> Any:
    """The meta stacking learner: ridge regression on standardized base predictions.

    Base predictions are log returns of about 0.01 or less, so a ridge penalty on them raw would
    flatten any learner to the mean. Standardized, each column's ``X'X`` is ``n_rows``; the
    penalty is ``alpha * n_rows``, so ``alpha`` is scale-free: 1 halves an isolated coefficient,
    0.01 barely touches it.

    Args:
        alpha: the relative penalty (the search draws it in [1e-3, 1]).
        n_rows: rows the learner is fit on.
    """
    return make_pipeline(StandardScaler(), Ridge(alpha=alpha * max(1, n_rows)))


class Ensemble:
    """Every family of the config, combined by mean, smart weights and/or a meta-learner.

    Args:
        config: the trial's configuration (``model_choice == "all"``).
        horizon: the label horizon h in trading days (purge of the inner validation; from
            :data:`CAPPED_FROM_HORIZON` on, every fit's rounds are capped: :func:`rounds_cap`).
        n_jobs: threads per fit.
    """

    def __init__(self, config: TrialConfig, *, horizon: int, n_jobs: int = 1) -> None:
        self.config = config
        self.horizon = horizon
        self.n_jobs = n_jobs
        self.max_rounds = rounds_cap(horizon)
        self.families = config.families
        self.models: dict[str, Regressor] = {}
        self.weights: np.ndarray = np.full(len(self.families), 1.0 / len(self.families))
        self.meta: Any = None
        self.info: dict[str, Any] = {}

    def _smart_weights(self, X: np.ndarray, y: np.ndarray, val_frac: float) -> np.ndarray:
        n = len(y)
        start = int(n * (1.0 - val_frac))
        train_end = start - self.horizon
        if train_end < MIN_INNER_TRAIN_ROWS or n - start < 10:
            return self.weights
        scores = []
        for f in self.families:
            m = build_base(self.config, f, n_jobs=self.n_jobs, bagging=False, max_rounds=self.max_rounds).fit(X[:train_end], y[:train_end])
            scores.append(_dirhit(y[start:], m.predict(X[start:])))
        edge = np.clip(np.array(scores) - 0.5, 0.0, None) + 1e-3
        return edge / edge.sum()

    def _base_matrix(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([self.models[f].predict(X) for f in self.families])

    def fit(self, X: np.ndarray, y: np.ndarray) -> "Ensemble":
        smart = self.config.option("smart_ensemble")
        if smart:
            self.weights = self._smart_weights(X, y, float(smart["val_frac"]))
            self.info["smart_weights"] = dict(zip(self.families, self.weights.tolist()))
        meta = self.config.option("meta_stacking")
        if meta:
            self._fit_meta(X, y, n_folds=int(meta["n_folds"]), alpha=float(meta["alpha"]))
        for f in self.families:
            self.models[f] = build_base(self.config, f, n_jobs=self.n_jobs, max_rounds=self.max_rounds).fit(X, y)
        return self

    def _fit_meta(self, X: np.ndarray, y: np.ndarray, *, n_folds: int, alpha: float) -> None:
        """Fit the meta-learner on the base models' out-of-fold predictions, or skip meta stacking
        (recorded in ``info["skipped"]``) when the window is too short to form enough of them."""

        def member(family: str) -> Regressor:
            return build_base(self.config, family, n_jobs=self.n_jobs, bagging=False, max_rounds=self.max_rounds)

        try:
            oof = np.column_stack([oof_predictions(lambda f=f: member(f), X, y, n_folds=n_folds, gap=self.horizon) for f in self.families])
        except InsufficientDataError:
            oof = np.full((len(y), len(self.families)), np.nan)
        rows = ~np.isnan(oof).any(axis=1)
        if int(rows.sum()) < MIN_META_ROWS:
            reason = (
                f"meta stacking skipped: {int(rows.sum())} out-of-fold rows (need {MIN_META_ROWS}); of its {n_folds} purged inner folds over "
                f"{len(y)} training rows too few have {MIN_INNER_TRAIN_ROWS} earlier rows to fit on; the plain ensemble was used"
            )
            self.info.setdefault("skipped", {})["meta_stacking"] = reason
            logger.info("%s", reason)
            return
        self.meta = meta_learner(alpha, n_rows=int(rows.sum())).fit(self._meta_inputs(oof)[rows], y[rows])

    def _meta_inputs(self, base: np.ndarray) -> np.ndarray:
        if self.config.option("smart_ensemble"):
            return np.column_stack([base, base @ self.weights])
        return base

    def component_predictions(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each family's own prediction, for per-model metrics."""
        return dict(zip(self.families, self._base_matrix(X).T))

    def predict(self, X: np.ndarray) -> np.ndarray:
        base = self._base_matrix(X)
        if self.meta is not None:
            return self.meta.predict(self._meta_inputs(base))
        return base @ self.weights


class TaskModel:
    """The model of one task's trial: what a split fits and what training saves.

    Args:
        config: the trial's configuration.
        horizon: the label horizon h in trading days.
        n_jobs: threads per fit.
    """

    def __init__(self, config: TrialConfig, *, horizon: int, n_jobs: int = 1) -> None:
        self.config = config
        self.horizon = horizon
        self.n_jobs = n_jobs
        self.core: Regressor | None = None
        self.short_models: dict[int, Regressor] = {}
        self.scale = 1.0
        self.component_scales: dict[str, float] = {}

    @property
    def stacked_horizons(self) -> tuple[int, ...]:
        """The shorter horizons whose predictions are stacked (empty when the option is off)."""
        stacked = self.config.option("stacked_short")
        shorter = shorter_horizons(self.horizon)
        if not stacked or not shorter:
            return ()
        return shorter[-1:] if stacked.get("which") == "nearest" else shorter

    def _make_core(self, config: TrialConfig, horizon: int, *, max_rounds: int | None = None) -> Regressor:
        if len(config.families) > 1:
            return Ensemble(config, horizon=horizon, n_jobs=self.n_jobs)
        return build_base(config, config.families[0], n_jobs=self.n_jobs, max_rounds=max_rounds)

    def _short_config(self) -> TrialConfig:
        """Short-horizon models: the trial's first family with its loss, one seed, no ensemble, its
        rounds capped from :data:`CAPPED_FROM_HORIZON` on (cost)."""
        off = ("stacked_short", "seed_bagging", "smart_ensemble", "meta_stacking")
        enabled = {**self.config.features_enabled, **{name: False for name in off}}
        family = self.config.families[0]
        return replace(self.config, features_enabled=enabled, model_choice=family, model_params={family: self.config.model_params[family]})

    def fit(self, X: np.ndarray, y: np.ndarray, *, short_labels: dict[int, np.ndarray] | None = None) -> "TaskModel":
        """Fit on rows in time order.

        Args:
            X: features of the training rows.
            y: their forward log returns over h.
            short_labels: horizon -> forward log returns of the same rows over that shorter
                horizon; required for each of :attr:`stacked_horizons`.
        """
        columns = []
        short_config = self._short_config()
        cap = rounds_cap(self.horizon)
        for hs in self.stacked_horizons:
            if short_labels is None or hs not in short_labels:
                raise ValueError(f"`short_labels` must hold horizon {hs} for stacked_short but got {sorted(short_labels or {})}")
            ys = short_labels[hs]
            try:
                oof = oof_predictions(lambda hs=hs: self._make_core(short_config, hs, max_rounds=cap), X, ys, n_folds=3, gap=hs)
            except InsufficientDataError:
                oof = np.full(len(ys), np.nan)
            columns.append(oof)
            known = np.isfinite(ys)  # a universe task's short label is missing where a symbol lacks a session
            self.short_models[hs] = self._make_core(short_config, hs, max_rounds=cap).fit(X[known], ys[known])
        X_fit = np.column_stack([X, *columns]) if columns else X
        self.core = self._make_core(self.config, self.horizon).fit(X_fit, y)
        self._fit_scale(X_fit, y)
        return self

    def _fit_scale(self, X_fit: np.ndarray, y: np.ndarray) -> None:
        """The prediction scale (and each ensemble member's own) from the training rows' predictions;
        1.0 when the option is off."""
        option = self.config.option("prediction_scale")
        self.scale, self.component_scales = 1.0, {}
        if option is None:
            return
        spread = float(option["spread"])
        self.scale = prediction_scale(y, self.core.predict(X_fit), spread=spread)
        if isinstance(self.core, Ensemble):
            parts = self.core.component_predictions(X_fit)
            self.component_scales = {f: prediction_scale(y, p, spread=spread) for f, p in parts.items()}

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        if self.core is None:
            raise RuntimeError("TaskModel.predict called before fit")
        columns = [self.short_models[hs].predict(X) for hs in self.stacked_horizons]
        return np.column_stack([X, *columns]) if columns else X

    @property
    def skipped(self) -> dict[str, str]:
        """Options this fit could not apply, with the reason (e.g. meta stacking on a short window)."""
        return dict(getattr(self.core, "info", {}).get("skipped") or {})

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted forward log returns over h for the given rows, times the prediction scale
        (1.0 unless the option is on; models saved before it existed have none)."""
        return getattr(self, "scale", 1.0) * np.asarray(self.core.predict(self._inputs(X)), dtype=float)

    def component_predictions(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each base family's own prediction (ensembles, each times its own training-row scale),
        else the model's under its family's name."""
        if isinstance(self.core, Ensemble):
            scales = getattr(self, "component_scales", {})
            return {f: scales.get(f, 1.0) * p for f, p in self.core.component_predictions(self._inputs(X)).items()}
        return {self.config.families[0]: self.predict(X)}
