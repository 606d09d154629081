"""One (symbol, horizon) task's data: clean prices, labels, holdout plan and features."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bistlab.config import EvalSettings
from bistlab.features import FeatureCache, FeatureContext, build_feature_matrix
from bistlab.evaluation.labels import forward_log_return, past_log_return
from bistlab.models.space import SearchSpace, TrialConfig
from bistlab.data.splits import HoldoutPlan, PurgedWalkForward, plan_holdout
from bistlab.data.price_frames import fingerprint
from bistlab.core.workspace import task_key

__all__ = ["TaskData", "prepare_task"]


@dataclass
class TaskData:
    """Everything a task computes on, loaded once per task.

    Attributes:
        symbol: the symbol.
        horizon: h, trading days.
        frame: clean OHLCV, DatetimeIndex oldest first.
        fingerprint: data fingerprint of ``frame``.
        peers: the other symbols' clean frames (for external/market features).
        sentiment: this symbol's sentiment rows, ``None`` when the store has no sentiment table.
        labels: forward log return over h per row (NaN for the last h rows).
        past_return: backward h-day log return per row (persistence baseline).
        plan: development range and holdout.
        settings: evaluation settings.
        cache: feature cache shared by every trial and split of the task.
    """

    symbol: str
    horizon: int
    frame: pd.DataFrame
    fingerprint: str
    labels: np.ndarray
    past_return: np.ndarray
    plan: HoldoutPlan
    settings: EvalSettings
    peers: dict[str, pd.DataFrame] = field(default_factory=dict)
    sentiment: pd.DataFrame | None = None
    cache: FeatureCache = field(default_factory=FeatureCache)
    _context: FeatureContext | None = field(default=None, init=False, repr=False)

    @property
    def key(self) -> str:
        return task_key(self.symbol, self.horizon)

    def labels_for(self, horizon: int) -> np.ndarray:
        """Forward log returns over another horizon (trading days), e.g. for stacked short models."""
        if horizon == self.horizon:
            return self.labels
        return forward_log_return(self.frame["close"], horizon).to_numpy()

    @property
    def inputs_fingerprint(self) -> str:
        """Fingerprint of everything features read: this symbol, its peers and its sentiment rows."""
        parts = [self.fingerprint] + [f"{s}:{fingerprint(f)}" for s, f in sorted(self.peers.items())]
        if self.sentiment is not None:
            parts.append(hashlib.sha256(pd.util.hash_pandas_object(self.sentiment).to_numpy().tobytes()).hexdigest()[:16])
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    @property
    def context(self) -> FeatureContext:
        if self._context is None:
            self._context = FeatureContext(
                symbol=self.symbol,
                horizon=self.horizon,
                frame=self.frame,
                fingerprint=self.inputs_fingerprint,
                peers=self.peers,
                sentiment=self.sentiment,
            )
        return self._context

    def search_space(self, *, models: list[str] | tuple[str, ...] | None = None) -> SearchSpace:
        """Every feature group and model family available for this task (see :meth:`SearchSpace.for_task`)."""
        return SearchSpace.for_task(self.context, models=models)

    def split_boundaries(self) -> list[tuple[int, int, int]]:
        """``(train_end, test_start, test_end)`` rows per purged walk-forward split of the development range."""
        return PurgedWalkForward(self.settings.n_splits, horizon=self.horizon, symbol=self.symbol).boundaries(self.plan.dev_end)

    def holdout_blocks(self, refit_every: int) -> list[tuple[int, int, int]]:
        """``(train_end, start, stop)`` rows per online holdout block of ``refit_every`` rows: the
        block starting at row b is predicted by a model fit on rows r with ``r + h <= b``."""
        h, start, end = self.horizon, self.plan.holdout_start, self.plan.holdout_end
        return [(b - h + 1, b, min(b + refit_every, end)) for b in range(start, end, refit_every)]

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Session numbers of ``rows`` for effective counts (a symbol's rows are its sessions)."""
        return np.asarray(rows)

    def label_end_date(self, row: int) -> pd.Timestamp:
        """The date whose close realises row ``row``'s label (h rows later)."""
        return self.frame.index[row + self.horizon]

    def spec_extra(self) -> dict[str, Any] | None:
        """What this task adds to its evaluation_spec (``None``: nothing; a universe task adds its panel)."""
        return None

    def features(self, config: TrialConfig) -> np.ndarray:
        """The feature matrix of ``config`` over all rows (float64, NaN allowed)."""
        matrix = build_feature_matrix(self.context, config.features_enabled, config.feature_params, cache=self.cache)
        return matrix.to_numpy()

    def feature_names(self, config: TrialConfig) -> list[str]:
        matrix = build_feature_matrix(self.context, config.features_enabled, config.feature_params, cache=self.cache)
        return list(matrix.columns)


def prepare_task(
    symbol: str,
    frame: pd.DataFrame,
    *,
    horizon: int,
    fingerprint: str,
    settings: EvalSettings | None = None,
    peers: dict[str, pd.DataFrame] | None = None,
    sentiment: pd.DataFrame | None = None,
) -> TaskData:
    """Labels and holdout plan for one task.

    Raises:
        InsufficientDataError: fewer labelled rows than ``settings.min_rows``.
    """
    settings = settings or EvalSettings()
    plan = plan_holdout(len(frame), horizon, settings=settings, symbol=symbol)
    return TaskData(
        symbol=symbol,
        horizon=horizon,
        frame=frame,
        fingerprint=fingerprint,
        labels=forward_log_return(frame["close"], horizon).to_numpy(),
        past_return=past_log_return(frame["close"], horizon).to_numpy(),
        plan=plan,
        settings=settings,
        peers=dict(peers or {}),
        sentiment=sentiment,
    )
