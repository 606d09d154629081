"""The universe panel's members and calendar (DESIGN.md "Universe models"): the panel's settings, each
symbol's segments between corporate actions, the closes on the union of the members' sessions, the
h-session moves on that calendar and the target (``excess`` over the session's median, or ``raw``).
Moves are log returns; h is in sessions. :mod:`bistlab.evaluation.panel` builds the panel task from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from bistlab.errors import ConfigError
from bistlab.features import FeatureContext
from bistlab.data.validate import corporate_actions

__all__ = [
    "TARGETS",
    "PanelSettings",
    "PanelMember",
    "calendar_closes",
    "calendar_moves",
    "panel_target",
    "calendar_targets",
    "panel_members",
    "entered_sessions",
]


TARGETS: tuple[str, ...] = ("excess", "raw")
"""Targets of a universe task: ``excess`` over the date's cross-sectional median (default), or ``raw``."""


@dataclass(frozen=True)
class PanelSettings:
    """How a universe task's panel is built.

    Attributes:
        target: ``excess`` (h-day log return minus the date's cross-sectional median) or ``raw``.
        min_cross_section: fewest symbols with a label a session needs for the excess target.
        warmup: rows of each segment (listing, or history after a corporate action) before the
            symbol enters the panel: its features' windows fill first.
        min_rows: fewest panel rows a symbol needs to be a member.
        corporate_action_move: a close-to-close simple move beyond this (up or down) is taken as
            an unadjusted split or bonus issue.
        cost_per_side: cost of one trade side as a log return, for the quintile spread after costs.
        refit_every: sessions between refits of the online holdout evaluation (a refit is a fit on
            every symbol's rows, so fewer than a per-symbol task's 20).
    """

    target: str = "excess"
    min_cross_section: int = 5
    warmup: int = 60
    min_rows: int = 100
    corporate_action_move: float = 0.25
    cost_per_side: float = 0.001
    refit_every: int = 60

    def __post_init__(self) -> None:
        rules = (
            ("target", self.target in TARGETS, f"one of {', '.join(TARGETS)}"),
            ("min_cross_section", self.min_cross_section >= 2, "a whole number >= 2"),
            ("warmup", self.warmup >= 0, "a whole number of rows >= 0"),
            ("min_rows", self.min_rows >= 1, "a whole number >= 1"),
            ("corporate_action_move", 0 < self.corporate_action_move, "a simple return above 0"),
            ("cost_per_side", 0 <= self.cost_per_side < 1, "a log return from 0 to below 1"),
            ("refit_every", self.refit_every >= 1, "a whole number of sessions >= 1"),
        )
        for name, ok, rule in rules:
            if not ok:
                raise ConfigError(name, rule, getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "PanelSettings":
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class PanelMember:
    """One symbol of the panel.

    Attributes:
        symbol: the symbol.
        frame: its clean OHLCV frame.
        fingerprint: the frame's data fingerprint.
        actions: its corporate actions (:func:`bistlab.data.validate.corporate_actions`).
        segments: ``(start, end)`` row ranges of ``frame`` between corporate actions.
    """

    symbol: str
    frame: pd.DataFrame
    fingerprint: str
    actions: pd.DataFrame
    segments: tuple[tuple[int, int], ...]

    def contexts(self, horizon: int) -> list[FeatureContext]:
        """One feature context per segment (features never look across a corporate action)."""
        out = []
        for k, (a, b) in enumerate(self.segments):
            out.append(FeatureContext(symbol=self.symbol, horizon=horizon, frame=self.frame.iloc[a:b], fingerprint=f"{self.fingerprint}:{k}"))
        return out


def _segments(frame: pd.DataFrame, actions: pd.DataFrame) -> tuple[tuple[int, int], ...]:
    cuts = sorted(set(int(i) for i in frame.index.get_indexer(actions.index) if i > 0))
    bounds = [0, *cuts, len(frame)]
    return tuple((a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a)


def _member(symbol: str, frame: pd.DataFrame, fingerprint: str, settings: PanelSettings) -> PanelMember:
    actions = corporate_actions(frame, limit=settings.corporate_action_move)
    return PanelMember(symbol=symbol, frame=frame, fingerprint=fingerprint, actions=actions, segments=_segments(frame, actions))


def calendar_closes(members: dict[str, PanelMember]) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """The calendar (union of dates), log closes (sessions × symbols, NaN where absent) and a
    mask of sessions that open a new segment (a corporate action at that session)."""
    calendar = pd.DatetimeIndex(sorted(set().union(*(m.frame.index for m in members.values()))))
    logc = np.full((len(calendar), len(members)), np.nan)
    cut = np.zeros((len(calendar), len(members)), dtype=bool)
    for j, m in enumerate(members.values()):
        pos = calendar.get_indexer(m.frame.index)
        logc[pos, j] = np.log(m.frame["close"].to_numpy(dtype=float))
        cut[calendar.get_indexer(m.actions.index), j] = True
    return calendar, logc, cut


def calendar_moves(logc: np.ndarray, cut: np.ndarray, horizon: int, *, forward: bool) -> np.ndarray:
    """h-session log moves on the calendar (forward: from i to i + h; else from i − h to i); NaN
    where either end is absent or a corporate action lies within."""
    n = logc.shape[0]
    out = np.full_like(logc, np.nan)
    if horizon >= n:
        return out
    diff = logc[horizon:] - logc[:-horizon]
    counts = np.cumsum(np.vstack([np.zeros((1, cut.shape[1])), cut]), axis=0)  # counts[i] = cuts in sessions < i
    crossing = (counts[horizon + 1 : n + 1] - counts[1 : n - horizon + 1]) > 0  # cuts in (i, i + h]
    diff = np.where(crossing, np.nan, diff)
    if forward:
        out[:-horizon] = diff
    else:
        out[horizon:] = diff
    return out


def panel_target(moves: np.ndarray, settings: PanelSettings) -> np.ndarray:
    if settings.target == "raw":
        return moves
    present = np.isfinite(moves).sum(axis=1)
    enough = present >= settings.min_cross_section
    median = np.full(moves.shape[0], np.nan)
    if enough.any():
        median[enough] = np.nanmedian(moves[enough], axis=1)
    return moves - median[:, None]


def calendar_targets(frames: dict[str, pd.DataFrame], horizon: int, *, panel: PanelSettings | None = None) -> tuple[pd.DatetimeIndex, list[str], np.ndarray, np.ndarray]:
    """The target of every symbol at every session, as a universe task defines it (calendar h
    sessions, corporate actions cut, ``panel.target``): for scoring forecasts after the fact.

    Args:
        frames: symbol -> clean OHLCV frame.
        horizon: h, trading days.
        panel: the panel settings (target, corporate-action threshold).

    Returns:
        The calendar, the symbols (columns), the forward target and the backward target (sessions × symbols).
    """
    panel = panel or PanelSettings()
    members, _ = panel_members({s: (f, "") for s, f in frames.items()}, panel)  # the panel's members only
    calendar, logc, cut = calendar_closes(members)
    forward = panel_target(calendar_moves(logc, cut, horizon, forward=True), panel)
    past = panel_target(calendar_moves(logc, cut, horizon, forward=False), panel)
    return calendar, list(members), forward, past


def panel_members(loaded: dict[str, tuple[pd.DataFrame, str]], settings: PanelSettings) -> tuple[dict[str, PanelMember], dict[str, str]]:
    members: dict[str, PanelMember] = {}
    excluded: dict[str, str] = {}
    for symbol, (frame, fp) in sorted(loaded.items()):
        if len(frame) < settings.warmup + settings.min_rows:
            excluded[symbol] = f"{len(frame)} rows: a member needs {settings.warmup + settings.min_rows} ({settings.warmup} of warm-up)"
            continue
        members[symbol] = _member(symbol, frame, fp, settings)
    return members, excluded


def entered_sessions(member: PanelMember, calendar: pd.DatetimeIndex, warmup: int) -> np.ndarray:
    """Calendar sessions at which the member has a row past each segment's warm-up."""
    keep = np.zeros(len(member.frame), dtype=bool)
    for a, b in member.segments:
        keep[a + warmup : b] = True
    return calendar.get_indexer(member.frame.index[keep])
