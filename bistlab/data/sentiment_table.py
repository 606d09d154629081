"""The optional ``sentiment(symbol, date, score)`` table of a price store's database.

The table has its own metadata so that opening a store never creates it: its absence is how the
sentiment feature group learns that there is no sentiment data (:meth:`SentimentTable.read` gives
``None``). :meth:`SentimentTable.write` creates it. It is always bistlab's own table (default
schema, bare symbols), also next to a price table read in place.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sqlalchemy import Column, Date, Float, MetaData, String, Table, delete, insert, inspect, select
from sqlalchemy.engine import Engine

from bistlab.errors import DataError
from bistlab.core.names import check_symbol

__all__ = ["SentimentTable", "sentiment_table"]

logger = logging.getLogger(__name__)

_metadata = MetaData()
sentiment_table = Table(
    "sentiment",
    _metadata,
    Column("symbol", String(32), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("score", Float),
)
_DELETE_CHUNK = 500  # symbols per IN (...) list when replacing
_FIELDS = ("symbol", "date", "score")


def _check_fields(frame: pd.DataFrame) -> None:
    missing = [c for c in _FIELDS if c not in frame.columns]
    if missing:
        raise DataError(
            f"`frame.columns` must include symbol, date, score but got {list(map(str, frame.columns))} "
            f"(missing: {', '.join(missing)})"
        )


def _symbols(frame: pd.DataFrame) -> list[str]:
    """Column ``symbol`` as text, each one checked (:func:`bistlab.core.names.check_symbol`)."""
    symbols = [str(s) for s in frame["symbol"].tolist()]
    for symbol in dict.fromkeys(symbols):
        check_symbol(symbol)
    return symbols


def _dates(frame: pd.DataFrame) -> pd.DatetimeIndex:
    """Column ``date`` as tz-naive midnight dates (an aware date keeps its wall-clock date)."""
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(frame["date"]))
        if dates.tz is not None:
            dates = dates.tz_localize(None)
        dates = dates.normalize()
    except (ValueError, TypeError) as err:
        raise DataError(f"`date` must hold dates but got {err}") from err
    if dates.isna().any():
        first = frame.index[np.asarray(dates.isna())][0]
        raise DataError(f"`date` must hold a date on every row but got a missing one at row {first!r}")
    return dates


def _scores(frame: pd.DataFrame) -> np.ndarray:
    """Column ``score`` as finite float64."""
    scores = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(scores)
    if bad.any():
        shown = frame["score"].to_numpy()[bad][:3].tolist()
        raise DataError(f"`score` must be a finite number on every row but got {int(bad.sum())} that are not: {shown}")
    return scores


def _rows(symbols: list[str], dates: pd.DatetimeIndex, scores: np.ndarray) -> list[dict[str, object]]:
    """One row per (symbol, date), the last one given kept."""
    by_key = {(symbol, day): score for symbol, day, score in zip(symbols, dates.date.tolist(), scores.tolist())}
    if len(by_key) < len(symbols):
        logger.warning("sentiment: %d repeated (symbol, date) rows dropped (last kept)", len(symbols) - len(by_key))
    return [{"symbol": symbol, "date": day, "score": score} for (symbol, day), score in by_key.items()]


class SentimentTable:
    """Table ``sentiment(symbol, date, score)`` of one database.

    Args:
        engine: the database's engine (the price store's).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, frame: pd.DataFrame) -> int:
        """Store sentiment scores (the table is created if absent), in one transaction.

        Every stored row of the symbols in ``frame`` is replaced by ``frame``'s rows of that symbol;
        other symbols' rows are kept. A (symbol, date) given twice keeps its last row.

        Args:
            frame: columns ``symbol``, ``date`` (anything :func:`pandas.to_datetime` reads; the
                time of day is dropped) and ``score`` (a finite float, e.g. in [-1, 1]).

        Returns:
            Rows written.

        Raises:
            DataError: a column is missing, a symbol is invalid, a date cannot be read or a score
                is not a finite number.
        """
        _check_fields(frame)
        symbols = _symbols(frame)
        rows = _rows(symbols, _dates(frame), _scores(frame))
        given = sorted(set(symbols))
        table = sentiment_table
        with self.engine.begin() as conn:
            _metadata.create_all(conn, checkfirst=True)
            for start in range(0, len(given), _DELETE_CHUNK):
                conn.execute(delete(table).where(table.c.symbol.in_(given[start : start + _DELETE_CHUNK])))
            if rows:
                conn.execute(insert(table), rows)
        shown = self.engine.url.render_as_string(hide_password=True)
        logger.debug("sentiment: %d rows of %d symbols written to %s", len(rows), len(given), shown)
        return len(rows)

    def read(self, symbol: str) -> pd.DataFrame | None:
        """This symbol's rows.

        Returns:
            A frame indexed by ``date`` with a float column ``score`` (possibly empty), or ``None``
            when the database has no sentiment table.
        """
        if not inspect(self.engine).has_table(sentiment_table.name):
            return None
        table = sentiment_table
        query = select(table.c.date, table.c.score).where(table.c.symbol == symbol).order_by(table.c.date)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        index = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows]), name="date").as_unit("ns")
        return pd.DataFrame({"score": np.array([r[1] for r in rows], dtype="float64")}, index=index)
