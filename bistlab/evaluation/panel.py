"""The universe task's data: one panel of every symbol, its date-aligned splits and its target
(DESIGN.md "Universe models").

A universe task (``UNIVERSE_<h>d``) learns one model per horizon from every symbol of the cycle at
once. Its data is a **panel**: one row per (session, symbol) where the symbol has a clean row and
its features are defined, rows sorted by session then symbol, so that every date range is a
contiguous range of rows. On it:

- **Calendar.** The sessions are the union of the members' dates. A label at session i is
  ``log(close[i + h] / close[i])`` over the *calendar's* h sessions; a symbol without a row at
  session i + h has no label there (a missing day drops a few labels, never shifts one).
- **Target.** ``excess`` (default): that label minus the median label of the symbols present at
  session i (at least :attr:`PanelSettings.min_cross_section` of them, else no label): whether
  the symbol beats the typical stock, so neither the market's drift nor the skew of returns makes
  a constant call look skilled. ``raw``: the label itself. The persistence baseline is the
  backward h-session target known at session i.
- **Corporate actions.** A close-to-close move beyond :attr:`PanelSettings.corporate_action_move`
  (:func:`bistlab.data.validate.corporate_actions`) splits the symbol's history into segments: no label
  and no past return spans one, and each segment's features are computed on that segment alone,
  so no feature window crosses it.
- **Features.** Each symbol's own causal feature groups (as a per-symbol task computes them),
  then, per session, each feature's percentile rank over the symbols present that session (no
  row uses another date's cross-section). A symbol enters after :attr:`PanelSettings.warmup`
  rows of each segment (late listings enter when their features are defined).
- **Splits by date** (:meth:`PanelTask.split_boundaries`): purged walk-forward over sessions
  (:class:`~bistlab.data.splits.PurgedWalkForward` on session numbers); the holdout is the last labelled
  sessions (10 %, at least 40, at most 120), the same dates for every symbol; a development row's
  label ends before the holdout's first session, a training row's before its test window's.

:class:`PanelTask` offers what the task steps read from a per-symbol
:class:`~bistlab.evaluation.dataset.TaskData` (``frame``, ``labels``, ``past_return``, ``plan``,
``features``...), so HPO, selection, training and evaluation run on it unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from bistlab.config import EvalSettings
from bistlab.errors import InsufficientDataError
from bistlab.features import FeatureCache, FeatureContext, build_feature_matrix, registry as feature_registry
from bistlab.evaluation.panel_calendar import (
    PanelMember,
    PanelSettings,
    calendar_closes,
    calendar_moves,
    entered_sessions,
    panel_members,
    panel_target,
)
from bistlab.models.space import SearchSpace, TrialConfig
from bistlab.data.splits import HoldoutPlan, SessionPlan, plan_sessions
from bistlab.core.names import UNIVERSE_SYMBOL, task_key

__all__ = ["UNIVERSE_SYMBOL", "PanelTask", "build_panel", "is_universe", "universe_key"]

logger = logging.getLogger(__name__)

_MATRIX_CACHE = 2
"""Feature matrices kept per panel (each can be hundreds of MB on a 200-symbol panel)."""


def is_universe(symbol: str) -> bool:
    """Whether ``symbol`` names the universe task (``UNIVERSE``)."""
    return symbol == UNIVERSE_SYMBOL


def universe_key(horizon: int) -> str:
    """``UNIVERSE_<h>d``."""
    return task_key(UNIVERSE_SYMBOL, horizon)


# ------------------------------------------------------------------ labels on the calendar


# ------------------------------------------------------------------ the task


@dataclass
class PanelTask:
    """A universe task's data, read by the task steps as a per-symbol :class:`~bistlab.evaluation.dataset.TaskData` is.

    Attributes:
        horizon: h, trading days (calendar sessions).
        frame: one row per panel row (DatetimeIndex: the row's date), columns ``symbol``,
            ``session`` (index into ``calendar``), ``close``; sorted by session then symbol.
        fingerprint: hash of the members' data fingerprints and the panel settings.
        labels: the target per row (NaN for the last h sessions' rows, kept for forecasts).
        raw_labels: the raw h-day log return per row.
        past_return: the backward h-session target per row (persistence baseline).
        plan: development rows, holdout rows (row indices, ends exclusive).
        settings: evaluation settings.
        panel: panel settings.
        calendar: the sessions.
        members: the symbols in the panel.
        excluded: symbols left out, with the reason.
        tercile: liquidity tercile per row (0 least liquid .. 2; −1 unknown: no volume).
        holdout_sessions: first and last holdout session (calendar indices).
        dev_sessions: first development session and the end of them (exclusive).
        sessions_plan: the holdout and walk-forward splits by session (the one splitter of every
            pooled job, :func:`bistlab.data.splits.plan_sessions`).
    """

    horizon: int
    frame: pd.DataFrame
    fingerprint: str
    labels: np.ndarray
    raw_labels: np.ndarray
    past_return: np.ndarray
    plan: HoldoutPlan
    settings: EvalSettings
    panel: PanelSettings
    calendar: pd.DatetimeIndex
    members: dict[str, PanelMember]
    excluded: dict[str, str]
    tercile: np.ndarray
    holdout_sessions: tuple[int, int]
    dev_sessions: tuple[int, int]
    sessions_plan: SessionPlan
    cache: FeatureCache = field(default_factory=FeatureCache)
    _logc: np.ndarray | None = field(default=None, repr=False)
    _cut: np.ndarray | None = field(default=None, repr=False)
    _entered: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _matrices: OrderedDict = field(default_factory=OrderedDict, repr=False)

    symbol = UNIVERSE_SYMBOL
    sentiment = None
    peers: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return universe_key(self.horizon)

    @property
    def inputs_fingerprint(self) -> str:
        return self.fingerprint

    @property
    def session(self) -> np.ndarray:
        return self.frame["session"].to_numpy()

    @property
    def symbols(self) -> np.ndarray:
        return self.frame["symbol"].to_numpy()

    @property
    def context(self) -> FeatureContext:
        """The first member's context (for what needs one feature context, e.g. option rules)."""
        first = next(iter(self.members.values()))
        return first.contexts(self.horizon)[0]

    # ---- what the steps read

    def labels_for(self, horizon: int) -> np.ndarray:
        """The target over another horizon (trading days) on the same rows (stacked short models)."""
        if horizon == self.horizon:
            return self.labels
        target = panel_target(calendar_moves(self._logc, self._cut, horizon, forward=True), self.panel)
        return target[self.session, self._column()]

    def _column(self) -> np.ndarray:
        order = {s: j for j, s in enumerate(self.members)}
        return np.array([order[s] for s in self.symbols])

    def search_space(self, *, models: list[str] | tuple[str, ...] | None = None) -> SearchSpace:
        """The space: groups every member can compute; the market group is left out (the
        cross-sectional ranks stand for the other symbols)."""
        space = SearchSpace.for_task(self.context, models=models)
        groups, removed = dict(space.groups), dict(space.removed)
        if "external" in removed:
            removed["external"] = "universe task: the per-session ranks of every feature stand for the other symbols"
        for name, group in feature_registry().items():
            if group.flag is None or name == "external":
                continue
            reasons = {m.symbol: r for m in self.members.values() if (r := group.unavailable(m.contexts(self.horizon)[0]))}
            if reasons:
                first = next(iter(reasons.items()))
                removed[name] = f"unavailable for {len(reasons)} of {len(self.members)} symbols (e.g. {first[0]}: {first[1]})"
                groups.pop(name, None)
        return replace(space, groups=groups, removed=removed)

    def split_boundaries(self) -> list[tuple[int, int, int]]:
        """``(train_end, test_start, test_end)`` rows per walk-forward split, placed by session."""
        sess = self.session
        return [tuple(int(r) for r in np.searchsorted(sess, bounds, side="left")) for bounds in self.sessions_plan.splits]  # type: ignore[misc]

    def holdout_blocks(self, refit_every: int) -> list[tuple[int, int, int]]:
        """``(train_end, start, stop)`` rows per online block of ``refit_every`` sessions: the model
        of a block starting at session b is fit on rows whose label ends by b (session + h <= b)."""
        sess = self.session
        first, last = self.holdout_sessions
        out = []
        for b in range(first, last + 1, refit_every):
            train_end = int(np.searchsorted(sess, b - self.horizon, side="right"))
            start = int(np.searchsorted(sess, b, side="left"))
            stop = int(np.searchsorted(sess, min(b + refit_every, last + 1), side="left"))
            if stop > start:  # a session without a row (no symbol labelled) needs no model
                out.append((train_end, start, stop))
        return out

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Session numbers of ``rows``: the rows of one session count as one session in effective counts."""
        return self.session[rows]

    def label_end_date(self, row: int) -> pd.Timestamp:
        """The date whose close realises row ``row``'s label (h calendar sessions later)."""
        return self.calendar[int(self.session[row]) + self.horizon]

    def last_rows(self) -> dict[str, int]:
        """Per symbol, its row at the calendar's last session (what forecasts use); a symbol
        without a row that session has none."""
        last = int(self.session[-1])
        rows = np.flatnonzero(self.session == last)
        return {str(self.symbols[r]): int(r) for r in rows}

    def spec_extra(self) -> dict[str, Any]:
        """What a universe task's evaluation_spec adds: the panel settings and members."""
        return {
            **self.panel.to_dict(),
            "members": list(self.members),
            "excluded": dict(self.excluded),
            "holdout_sessions": [self.calendar[s].strftime("%Y-%m-%d") for s in self.holdout_sessions],
        }

    # ---- features

    def features(self, config: TrialConfig) -> np.ndarray:
        """The feature matrix of ``config`` over every panel row: each symbol's own features and
        their per-session percentile ranks (float32, NaN allowed)."""
        return self._matrix(config)[0]

    def feature_names(self, config: TrialConfig) -> list[str]:
        return self._matrix(config)[1]

    def _matrix(self, config: TrialConfig) -> tuple[np.ndarray, list[str]]:
        key = json.dumps([config.features_enabled, config.feature_params], sort_keys=True, default=str)
        if key in self._matrices:
            self._matrices.move_to_end(key)
            return self._matrices[key]
        # ranks over every symbol with a row past its warm-up that session, labelled or not: whether a
        # row has a label depends on later sessions, and a session's cross-section must not
        sessions, columns, keep = self._entered if self._entered is not None else (self.session, self._column(), np.ones(len(self.frame), dtype=bool))
        own, names = self._own_features(config, sessions, columns)
        ranks = pd.DataFrame(own).groupby(sessions).rank(pct=True).to_numpy(dtype=np.float32)
        built = (np.hstack([own[keep], ranks[keep]]), names + [f"{n}__xs_rank" for n in names])
        self._matrices[key] = built
        while len(self._matrices) > _MATRIX_CACHE:
            self._matrices.popitem(last=False)
        self.cache.trim(64 * max(1, sum(len(m.segments) for m in self.members.values())))
        return built

    def _own_features(self, config: TrialConfig, sessions: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Each member's own features at the (session, member column) pairs given."""
        names: list[str] | None = None
        out: np.ndarray | None = None
        for j, member in enumerate(self.members.values()):
            parts = [build_feature_matrix(ctx, config.features_enabled, config.feature_params, cache=self.cache) for ctx in member.contexts(self.horizon)]
            matrix = pd.concat(parts) if len(parts) > 1 else parts[0]
            if names is None:
                names = list(matrix.columns)
                out = np.full((len(sessions), len(names)), np.nan, dtype=np.float32)
            rows = np.flatnonzero(columns == j)
            if rows.size == 0:
                continue
            out[rows] = matrix.reindex(columns=names).reindex(self.calendar[sessions[rows]]).to_numpy(dtype=np.float32)
        return out, names or []


# ------------------------------------------------------------------ building


def _rows(members: dict[str, PanelMember], calendar: pd.DatetimeIndex, labels: np.ndarray, warmup: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (session, column) pair past its segment's warm-up, sorted by session then symbol, and
    which of them are panel rows: rows with a label, and every row of the last h sessions (no
    label can exist yet: they are what forecasts use)."""
    sessions, columns = [], []
    tail = len(calendar) - horizon
    for j, m in enumerate(members.values()):
        s = entered_sessions(m, calendar, warmup)
        sessions.append(s)
        columns.append(np.full(s.size, j))
    sess, cols = np.concatenate(sessions), np.concatenate(columns)
    order = np.lexsort((cols, sess))
    sess, cols = sess[order], cols[order]
    return sess, cols, np.isfinite(labels[sess, cols]) | (sess >= tail)


def _plan(sess: np.ndarray, labelled: np.ndarray, horizon: int, settings: EvalSettings) -> tuple[HoldoutPlan, SessionPlan]:
    """The holdout: the last labelled sessions; development: sessions whose labels end before it
    (:func:`bistlab.data.splits.plan_sessions`), as rows of the panel."""
    sp = plan_sessions(sess[labelled], horizon, settings=settings, symbol=UNIVERSE_SYMBOL)
    (first_hold, last_hold), (_, dev_end_session) = sp.holdout, sp.dev
    dev_end = int(np.searchsorted(sess, dev_end_session, side="left"))
    if dev_end < 1:
        raise InsufficientDataError(symbol=UNIVERSE_SYMBOL, horizon=horizon, n_rows=int(np.unique(sess[labelled]).size), need=settings.min_rows, detail="no development sessions before the holdout")
    start = int(np.searchsorted(sess, first_hold, side="left"))
    end = int(np.searchsorted(sess, last_hold, side="right"))
    return HoldoutPlan(n_rows=int(sess.size), horizon=horizon, dev_end=dev_end, holdout_start=start, holdout_end=end), sp


def _terciles(members: dict[str, PanelMember], calendar: pd.DatetimeIndex, dev_end_session: int, cols: np.ndarray) -> np.ndarray:
    """Liquidity tercile per row: the symbol's mean turnover (close × volume) over the development
    sessions, ranked among the symbols that have volume (−1: no volume)."""
    cutoff = calendar[max(dev_end_session - 1, 0)]
    turnover = {}
    for j, m in enumerate(members.values()):
        f = m.frame.loc[:cutoff]
        value = float((f["close"] * f["volume"]).mean()) if "volume" in f and f["volume"].notna().any() else float("nan")
        turnover[j] = value if np.isfinite(value) and value > 0 else float("nan")
    known = {j: v for j, v in turnover.items() if np.isfinite(v)}
    by_symbol = np.full(len(members), -1)
    if len(known) >= 3:
        ranks = pd.Series(known).rank(method="first")
        by_symbol[ranks.index.to_numpy()] = np.minimum(((ranks.to_numpy() - 1) * 3 // len(known)).astype(int), 2)
    return by_symbol[cols]


def _fingerprint(members: dict[str, PanelMember], settings: PanelSettings) -> str:
    text = "|".join(f"{s}:{m.fingerprint}" for s, m in members.items()) + "|" + json.dumps(settings.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_panel(
    loaded: dict[str, tuple[pd.DataFrame, str]],
    horizon: int,
    *,
    settings: EvalSettings | None = None,
    panel: PanelSettings | None = None,
) -> PanelTask:
    """The universe task of ``horizon`` (trading days) over ``loaded`` symbols.

    Args:
        loaded: symbol -> (clean OHLCV frame, its data fingerprint).
        horizon: h, trading days.
        settings: evaluation settings (holdout size, splits, threshold).
        panel: panel settings (target, corporate actions, warm-up).

    Raises:
        InsufficientDataError: fewer than 2 members, or too few labelled sessions for the holdout.
    """
    panel = panel or PanelSettings()
    settings = replace(settings or EvalSettings(), refit_every=panel.refit_every)
    members, excluded = panel_members(loaded, panel)
    for symbol, reason in excluded.items():
        logger.info("%s: left out of the universe task: %s", symbol, reason)
    if len(members) < 2:
        raise InsufficientDataError(symbol=UNIVERSE_SYMBOL, horizon=horizon, n_rows=len(members), need=2, detail="symbols with enough rows for a panel")
    calendar, logc, cut = calendar_closes(members)
    target = panel_target(calendar_moves(logc, cut, horizon, forward=True), panel)
    past = panel_target(calendar_moves(logc, cut, horizon, forward=False), panel)
    raw = calendar_moves(logc, cut, horizon, forward=True)
    entered_sess, entered_cols, keep = _rows(members, calendar, target, panel.warmup, horizon)
    sess, cols = entered_sess[keep], entered_cols[keep]
    labelled = np.isfinite(target[sess, cols])
    plan, sessions_plan = _plan(sess, labelled, horizon, settings)
    names = np.array(list(members))
    frame = pd.DataFrame({"symbol": names[cols], "session": sess, "close": np.exp(logc[sess, cols])}, index=calendar[sess])
    frame.index.name = "date"
    return PanelTask(
        horizon=horizon,
        frame=frame,
        fingerprint=_fingerprint(members, panel),
        labels=target[sess, cols],
        raw_labels=raw[sess, cols],
        past_return=past[sess, cols],
        plan=plan,
        settings=settings,
        panel=panel,
        calendar=calendar,
        members=members,
        excluded=excluded,
        tercile=_terciles(members, calendar, sessions_plan.dev[1], cols),
        holdout_sessions=sessions_plan.holdout,
        dev_sessions=sessions_plan.dev,
        sessions_plan=sessions_plan,
        _logc=logc,
        _cut=cut,
        _entered=(entered_sess, entered_cols, keep),
    )
