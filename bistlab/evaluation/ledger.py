"""The forecast ledger: every forecast ``bistlab predict`` makes, kept, and scored once its h
trading days have passed. The future is the last judge of a usable flag.

The ledger is one SQL table, ``forecast_ledger``, in the price store's database (SQLite or
PostgreSQL alike): one row per (symbol, horizon, as-of date, cycle), written the first time that
forecast is made and never rewritten, so the record cannot be improved after the fact. A store that
is read in place (a table of one's own, read-only) keeps its ledger in ``runs/forecasts.sqlite``
instead.

Scoring (:func:`score_forecasts`) reads the realised prices: a forecast made as of row t of a
symbol's clean frame is scored when row ``t + h`` exists, against ``log(close[t+h] / close[t])``,
beside the two baselines of the holdout known at t (persistence: the sign of the h-day return up
to t; majority: the majority direction of every label known at t). :func:`forward_record` turns
the scored rows into forward DirHits with counts and intervals (effective counts of overlapping
h-day labels), per task and for usable against not-usable models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Column, Date, Float, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bistlab.core.db_urls import storage_path
from bistlab.core.workspace import Workspace
from bistlab.errors import DataError
from bistlab.evaluation.metrics import effective_count, majority_direction
from bistlab.evaluation.dirhit import DirHit
from bistlab.evaluation.panel_calendar import PanelSettings, calendar_targets
from bistlab.evaluation.universe import load_universe

__all__ = [
    "LEDGER_COLUMNS",
    "ForecastLedger",
    "open_tables",
    "score_forecasts",
    "score_universe_forecasts",
    "ForwardRecord",
    "forward_record",
    "ForwardView",
    "load_forward",
]

logger = logging.getLogger(__name__)

_metadata = MetaData()
ledger_table = Table(
    "forecast_ledger",
    _metadata,
    Column("symbol", String(32), primary_key=True),
    Column("horizon", Integer, primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("direction", String(8), nullable=False),
    Column("expected_log_return", Float),
    Column("dirhit_threshold", Float, nullable=False),
    Column("usable", Boolean),
    Column("passes_rule", Boolean),
    Column("recorded_at", String(40), nullable=False),
    Column("data_fingerprint", String(64)),
)

universe_ledger_table = Table(
    "universe_forecast_ledger",
    _metadata,
    *(Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in ledger_table.columns),
    Column("target", String(16), nullable=False, default="excess"),
)
"""Forecasts of universe tasks (one model per horizon over every symbol), per symbol: kept apart
from the per-symbol tasks' forecasts of the same symbol, and scored on their own ``target``."""

LEDGER_COLUMNS: tuple[str, ...] = tuple(c.name for c in ledger_table.columns)
"""Columns of the ledger: the forecast (direction up / down / flat, expected log return over h
trading days, the DirHit threshold), the model's usable flag and its own rule when it was made, the
cycle whose configuration made it, when it was recorded (UTC) and the prices' fingerprint."""


def open_tables(url: str, metadata: MetaData, *, what: str) -> Engine:
    """An engine on ``url`` with ``metadata``'s tables created where missing (a SQLite file's folder too).

    Raises:
        DataError: the database cannot be opened (the message names ``what`` and the URL, password masked).
    """
    engine: Engine | None = None
    try:
        if (path := storage_path(url)) is not None:
            path.expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        metadata.create_all(engine, checkfirst=True)
        return engine
    except (SQLAlchemyError, OSError) as err:
        shown = engine.url.render_as_string(hide_password=True) if engine is not None else "the ledger's database"
        raise DataError(f"{what} in {shown} cannot be opened: {type(err).__name__}: {str(err).splitlines()[0]}") from err


class ForecastLedger:
    """The ``forecast_ledger`` table of one database.

    Args:
        url: SQLAlchemy URL (see ``Workspace.ledger_url``).

    Raises:
        DataError: the database cannot be opened.
    """

    def __init__(self, url: str, *, universe: bool = False) -> None:
        self.table = universe_ledger_table if universe else ledger_table
        self.columns = tuple(c.name for c in self.table.columns)
        self.engine: Engine = open_tables(url, _metadata, what="forecast ledger")

    @classmethod
    def of(cls, ws: Workspace, *, universe: bool = False) -> "ForecastLedger":
        """The workspace's ledger (``Workspace.ledger_url``); ``universe``: its universe tasks' table."""
        return cls(ws.ledger_url, universe=universe)

    def close(self) -> None:
        self.engine.dispose()

    def record(self, forecasts: Iterable[Mapping[str, Any]]) -> int:
        """Append forecasts that are not in the ledger yet (a forecast is never rewritten).

        Args:
            forecasts: dicts with the keys of :data:`LEDGER_COLUMNS` but ``recorded_at``; ``as_of``
                a date or ISO text.

        Returns:
            Rows added.
        """
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [{**dict(f), "as_of": _as_date(f["as_of"]), "recorded_at": stamp} for f in forecasts]
        added = 0
        t = self.table
        for row in rows:
            key = (t.c.symbol == row["symbol"]) & (t.c.horizon == int(row["horizon"])) & (t.c.as_of == row["as_of"]) & (t.c.cycle == int(row["cycle"]))
            try:
                with self.engine.begin() as conn:
                    if conn.execute(select(t.c.symbol).where(key)).first() is not None:
                        continue
                    conn.execute(t.insert().values(**{c: row.get(c) for c in self.columns}))
                    added += 1
            except IntegrityError:  # recorded by another process meanwhile
                continue
        logger.info("forecast ledger: %d of %d forecasts added", added, len(rows))
        return added

    def read(self, *, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Every recorded forecast (optionally of some symbols), oldest first."""
        query = select(self.table)
        if symbols is not None:
            query = query.where(self.table.c.symbol.in_(list(symbols)))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=list(self.columns))
        if frame.empty:
            return frame
        frame["as_of"] = pd.to_datetime(frame["as_of"])
        return frame.sort_values(["as_of", "symbol", "horizon", "cycle"]).reset_index(drop=True)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(str(value)).date()


SCORED_COLUMNS: tuple[str, ...] = (
    "position",
    "realised_date",
    "realised_log_return",
    "scored",
    "persistence_direction",
    "majority_direction",
)


def _score_one(row: pd.Series, frame: pd.DataFrame | None) -> dict[str, Any]:
    out: dict[str, Any] = {c: None for c in SCORED_COLUMNS}
    out["scored"] = False
    if frame is None:
        return out
    h = int(row["horizon"])
    pos = frame.index.searchsorted(pd.Timestamp(row["as_of"]))
    if pos >= len(frame) or frame.index[pos] != pd.Timestamp(row["as_of"]):
        return out  # the as-of date is no longer in the clean prices
    logc = np.log(frame["close"].to_numpy(dtype=float))
    out["position"] = int(pos)
    if pos >= h:
        out["persistence_direction"] = float(np.sign(logc[pos] - logc[pos - h]))
    known = logc[h : pos + 1] - logc[: pos + 1 - h] if pos + 1 > h else np.array([])
    if known.size:
        out["majority_direction"] = float(majority_direction(known))
    if pos + h < len(frame):
        out.update(realised_date=frame.index[pos + h], realised_log_return=float(logc[pos + h] - logc[pos]), scored=True)
    return out


def score_forecasts(ledger: pd.DataFrame, prices: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The ledger with each forecast's outcome where its h trading days have passed.

    Args:
        ledger: :meth:`ForecastLedger.read`.
        prices: symbol -> clean OHLCV frame (e.g. the loaded symbols of
            :func:`bistlab.runs.pipeline.load_universe`).

    Returns:
        The ledger plus ``position`` (row of the as-of date), ``realised_date``,
        ``realised_log_return``, ``scored`` and the baselines' directions known at the as-of date.
    """
    if ledger.empty:
        return ledger.assign(**{c: pd.Series(dtype=object) for c in SCORED_COLUMNS})
    outcomes = pd.DataFrame([_score_one(row, prices.get(row["symbol"])) for _, row in ledger.iterrows()], index=ledger.index)
    return pd.concat([ledger, outcomes], axis=1)


def score_universe_forecasts(ledger: pd.DataFrame, prices: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The universe ledger with each forecast's outcome on its own target (for ``excess``: the
    symbol's h-session log return minus the median of every symbol's that session), once the
    calendar holds h sessions after its as-of date; columns as :func:`score_forecasts`'s (the
    majority baseline: the symbol's majority direction of the target known at the as-of date)."""
    if ledger.empty:
        return ledger.assign(**{c: pd.Series(dtype=object) for c in SCORED_COLUMNS})
    outcomes: dict[Any, dict[str, Any]] = {}
    for (horizon, target), rows in ledger.groupby(["horizon", "target"]):
        calendar, symbols, forward, past = calendar_targets(dict(prices), int(horizon), panel=PanelSettings(target=str(target)))
        column = {s: j for j, s in enumerate(symbols)}
        for i, row in rows.iterrows():
            outcomes[i] = _score_on_calendar(row, calendar, column.get(row["symbol"]), forward, past)
    return pd.concat([ledger, pd.DataFrame.from_dict(outcomes, orient="index").reindex(ledger.index)], axis=1)


def _score_on_calendar(row: pd.Series, calendar: pd.DatetimeIndex, j: int | None, forward: np.ndarray, past: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {c: None for c in SCORED_COLUMNS}
    out["scored"] = False
    pos = calendar.searchsorted(pd.Timestamp(row["as_of"]))
    if j is None or pos >= len(calendar) or calendar[pos] != pd.Timestamp(row["as_of"]):
        return out
    h = int(row["horizon"])
    out["position"] = int(pos)
    if np.isfinite(past[pos, j]):
        out["persistence_direction"] = float(np.sign(past[pos, j]))
    known = forward[: max(pos - h + 1, 0), j]
    known = known[np.isfinite(known)]
    if known.size:
        out["majority_direction"] = float(majority_direction(known))
    if pos + h < len(calendar) and np.isfinite(forward[pos, j]):
        out.update(realised_date=calendar[pos + h], realised_log_return=float(forward[pos, j]), scored=True)
    return out


@dataclass(frozen=True)
class ForwardRecord:
    """The forward record of one group of forecasts (a task, or usable / not-usable models).

    Attributes:
        label: what the group is (a task key, "usable models", ...).
        n_forecasts: forecasts recorded.
        n_scored: forecasts whose h trading days have passed.
        dirhit: the forward DirHit over the masked scored forecasts (|realised| and
            |expected| above the threshold), with count, effective count and interval.
        persistence: persistence's DirHit on the same rows (rows without a past direction not counted).
        majority: the majority direction's DirHit on the same rows.
    """

    label: str
    n_forecasts: int
    n_scored: int
    dirhit: DirHit
    persistence: DirHit
    majority: DirHit


def _group_record(label: str, rows: pd.DataFrame, *, by_date: bool = False) -> ForwardRecord:
    """The forward record of ``rows``; ``by_date``: the effective count is that of the forecasts'
    dates, every symbol of a date counting once (a universe model's forecasts of one date share
    its market), never the sum over symbols."""
    scored = rows[rows["scored"].astype(bool)] if len(rows) else rows
    dates: list[np.ndarray] = []
    hits = count = n_eff = 0.0
    p_hits = p_count = m_hits = 0.0
    for (_, horizon), task in scored.groupby(["symbol", "horizon"]) if len(scored) else ():
        thr = task["dirhit_threshold"].astype(float)
        exp = task["expected_log_return"].astype(float)
        real = task["realised_log_return"].astype(float)
        mask = (real.abs() > thr) & (exp.abs() > thr)
        if not mask.any():
            continue
        truth = np.sign(real[mask])
        hits += float((np.sign(exp[mask]) == truth).sum())
        count += float(mask.sum())
        n_eff += effective_count(task.loc[mask, "position"].astype(int).to_numpy(), horizon=int(horizon))
        dates.append(task.loc[mask, "position"].astype(int).to_numpy())
        pers = task.loc[mask, "persistence_direction"].astype(float)
        has = pers.notna() & (pers != 0)
        p_hits += float((pers[has] == truth[has]).sum())
        p_count += float(has.sum())
        m_hits += float((task.loc[mask, "majority_direction"].astype(float) == truth).sum())
    if by_date and dates:
        n_eff = float(effective_count(np.unique(np.concatenate(dates)), horizon=int(scored["horizon"].iloc[0])))
    share = n_eff / count if count else None
    return ForwardRecord(
        label=label,
        n_forecasts=len(rows),
        n_scored=len(scored),
        dirhit=DirHit.rate(hits, int(count), n_eff if count else None),
        persistence=DirHit.rate(p_hits, int(p_count), p_count * share if share else None),
        majority=DirHit.rate(m_hits, int(count), n_eff if count else None),
    )


def forward_record(scored: pd.DataFrame) -> tuple[list[ForwardRecord], list[ForwardRecord]]:
    """Forward DirHits of scored forecasts (:func:`score_forecasts`).

    Returns:
        One record per task (``"<SYMBOL>_<h>d"``), and the records of forecasts from usable and
        from not-usable models (the flag when each forecast was made). Different tasks are treated
        as independent in the pooled groups.
    """
    if scored.empty:
        return [], []
    tasks = [
        _group_record(f"{symbol}_{int(horizon)}d", rows)
        for (horizon, symbol), rows in scored.groupby(["horizon", "symbol"], sort=True)
    ]
    flags = scored["usable"].fillna(False).astype(bool)
    groups = [_group_record("usable models", scored[flags]), _group_record("not-usable models", scored[~flags])]
    return tasks, groups


def _read_ledger(ws: Workspace, *, universe: bool) -> pd.DataFrame:
    ledger = ForecastLedger.of(ws, universe=universe)
    try:
        return ledger.read()
    finally:
        ledger.close()


@dataclass(frozen=True)
class ForwardView:
    """What the forecast ledger says: per task, and for usable against not-usable models.

    Attributes:
        tasks: one record per task with recorded forecasts.
        groups: forecasts from usable models, and from not-usable ones.
        note: what was read, or why there is nothing.
    """

    tasks: list[ForwardRecord]
    groups: list[ForwardRecord]
    note: str


def load_forward(ws: Workspace) -> ForwardView:
    """Score the workspace's forecast ledger against the prices the store holds now."""
    frame, pooled = _read_ledger(ws, universe=False), _read_ledger(ws, universe=True)
    if frame.empty and pooled.empty:
        return ForwardView([], [], "No forecast has been recorded yet: every forecast `bistlab predict` (or a report) makes is appended to the ledger and scored here once its h trading days have passed.")
    prices = {s: lp.frame for s, lp in load_universe(ws).loaded.items()}
    scored = score_forecasts(frame, prices)
    tasks, groups = forward_record(scored) if not frame.empty else ([], [])
    if not pooled.empty:
        scored_u = score_universe_forecasts(pooled, prices)
        tasks += [_group_record(f"UNIVERSE_{int(h)}d ({rows['target'].iloc[0]}, {rows['symbol'].nunique()} symbols)", rows, by_date=True) for h, rows in scored_u.groupby("horizon")]
        scored = pd.concat([scored, scored_u], ignore_index=True) if not scored.empty else scored_u
    pending = int((~scored["scored"].astype(bool)).sum())
    note = f"{len(scored)} forecasts recorded since {scored['as_of'].min():%Y-%m-%d}; {len(scored) - pending} scored, {pending} waiting for their h trading days."
    return ForwardView(tasks, groups, note)
