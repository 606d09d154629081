"""Feature groups and their registry. Imports core and data only.

A feature group is one module in this package that defines ``GROUP``, a :class:`FeatureGroup`.
Adding a group is adding one module: the registry discovers every submodule. Each group sits
behind its flag (``None`` for always-on groups), suggests its own parameters only when the flag
is on, and computes features at row t from data up to and including t only.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd

__all__ = [
    "FeatureContext",
    "FeatureGroup",
    "FeatureCache",
    "registry",
    "build_feature_matrix",
    "MAX_PIECES",
]


MAX_PIECES = 96
"""Columns a context keeps for :meth:`FeatureContext.piece` (about 12 kB each at 1,500 sessions)."""


@dataclass(frozen=True)
class FeatureContext:
    """What a feature group may read.

    Attributes:
        symbol: the task's symbol.
        horizon: h, trading days.
        frame: the symbol's clean OHLCV frame (DatetimeIndex, oldest first).
        fingerprint: data fingerprint of everything below (frame, peers, sentiment): the cache key.
        peers: the other symbols of the price store, clean OHLCV frames by symbol (may be empty).
            Features from them must be aligned to ``frame``'s dates without looking ahead.
        sentiment: this symbol's rows of the optional sentiment table (DatetimeIndex ``date``,
            column ``score``), ``None`` when the store has no sentiment table.
    """

    symbol: str
    horizon: int
    frame: pd.DataFrame
    fingerprint: str
    peers: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    sentiment: pd.DataFrame | None = None
    pieces: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False, repr=False)

    def piece(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """One column of a group, computed once per context and ``key`` (the group's name, the
        column's name and the parameters it depends on, e.g. ``("core", "vol", 20)``): trials
        that draw the same window share it though their other parameters differ. Keeps the newest
        :data:`MAX_PIECES`; callers must not modify what they get.
        """
        found = self.pieces.get(key)
        if found is None:
            found = compute()
            self.pieces[key] = found
            while len(self.pieces) > MAX_PIECES:
                try:
                    self.pieces.pop(next(iter(self.pieces)), None)
                except (RuntimeError, StopIteration):  # another thread trimmed it meanwhile
                    break
        return found


@dataclass(frozen=True)
class FeatureGroup:
    """One feature group.

    Attributes:
        name: short name, also the prefix of its Optuna parameters.
        flag: Optuna parameter switching it on, e.g. ``"enable_regime_detection"``; ``None`` = always on.
        suggest: ``(trial, horizon) -> params``; called only when the group is on.
        compute: ``(context, params) -> DataFrame`` indexed like ``context.frame``.
        unavailable: ``(context) -> reason or None``; a group with a reason is removed from the space.
        description: one line for reports.
    """

    name: str
    flag: str | None
    suggest: Callable[[optuna.trial.BaseTrial, int], dict[str, Any]]
    compute: Callable[[FeatureContext, dict[str, Any]], pd.DataFrame]
    unavailable: Callable[[FeatureContext], str | None] = field(default=lambda ctx: None)
    description: str = ""


_REGISTRY: dict[str, FeatureGroup] | None = None


def registry() -> dict[str, FeatureGroup]:
    """Every feature group, by name, always-on groups first then alphabetical."""
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, FeatureGroup] = {}
        for info in pkgutil.iter_modules(__path__):
            module = importlib.import_module(f"{__name__}.{info.name}")
            group = getattr(module, "GROUP", None)
            if isinstance(group, FeatureGroup):
                found[group.name] = group
        _REGISTRY = dict(sorted(found.items(), key=lambda kv: (kv[1].flag is not None, kv[0])))
    return _REGISTRY


class FeatureCache:
    """Features computed once per (data fingerprint, group, parameters) within a process."""

    def __init__(self) -> None:
        self._store: dict[tuple[str, str, str, str], pd.DataFrame] = {}
        self.hits = 0
        self.misses = 0

    def get(self, group: FeatureGroup, ctx: FeatureContext, params: dict[str, Any]) -> pd.DataFrame:
        key = (ctx.fingerprint, ctx.symbol, group.name, json.dumps(params, sort_keys=True, default=str))
        frame = self._store.get(key)
        if frame is None:
            self.misses += 1
            frame = group.compute(ctx, params)
            self._store[key] = frame
        else:
            self.hits += 1
        return frame

    def trim(self, max_entries: int) -> None:
        """Forget the oldest entries beyond ``max_entries`` (a panel of many symbols would
        otherwise keep every trial's features of every symbol)."""
        while len(self._store) > max_entries:
            self._store.pop(next(iter(self._store)))


def build_feature_matrix(
    ctx: FeatureContext,
    features_enabled: dict[str, bool],
    feature_params: dict[str, dict[str, Any]],
    *,
    cache: FeatureCache | None = None,
) -> pd.DataFrame:
    """Concatenate the enabled groups' features, columns prefixed by group name.

    Args:
        ctx: the task's data.
        features_enabled: group name -> on/off (always-on groups may be absent).
        feature_params: group name -> that group's parameters.
        cache: reuse features across trials and splits.
    """
    cache = cache or FeatureCache()
    parts = []
    for name, group in registry().items():
        if group.flag is not None and not features_enabled.get(name, False):
            continue
        frame = cache.get(group, ctx, feature_params.get(name, {}))
        parts.append(frame.add_prefix(f"{name}__"))
    matrix = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=ctx.frame.index)
    return matrix.replace([np.inf, -np.inf], np.nan).astype("float64")
