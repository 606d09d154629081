"""One (symbol, horizon) task's data: clean prices, labels, holdout plan and features."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bistlab.config import EvalSettings
from bistlab.features import FeatureCache, FeatureContext, build_feature_matrix
from bistlab.labels import forward_log_return, past_log_return
from bistlab.space import TrialConfig
from bistlab.splits import HoldoutPlan, plan_holdout

__all__ = ["TaskData", "prepare_task", "task_key"]


def task_key(symbol: str, horizon: int) -> str:
    """``"<SYMBOL>_<h>d"``, the key of a task everywhere (state, studies, runs, symbol_metrics)."""
    return f"{symbol}_{horizon}d"


@dataclass
class TaskData:
    """Everything a task computes on, loaded once per task.

    Attributes:
        symbol: the symbol.
        horizon: h, trading days.
        frame: clean OHLCV, DatetimeIndex oldest first.
        fingerprint: data fingerprint of ``frame``.
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
    cache: FeatureCache = field(default_factory=FeatureCache)

    @property
    def key(self) -> str:
        return task_key(self.symbol, self.horizon)

    @property
    def context(self) -> FeatureContext:
        return FeatureContext(symbol=self.symbol, horizon=self.horizon, frame=self.frame, fingerprint=self.fingerprint)

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
    )
