"""The price store: daily OHLCV of many symbols in one SQL table, through SQLAlchemy Core.

The store keeps rows as imported (validation happens on :meth:`PriceStore.load`, so defects stay
visible); only duplicate dates within one write are resolved (last kept), since the primary key
``(symbol, date)`` forbids them. Any SQLAlchemy URL works: a SQLite file by default
(``Workspace.price_url``), PostgreSQL for a shared store.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    Date,
    Float,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bistlab.config import Workspace
from bistlab.errors import DataError, SymbolNotFoundError
from bistlab.validate import COLUMNS, Defect, check_symbol, fingerprint, to_raw_frame, validate_ohlcv

__all__ = ["LoadedPrices", "PriceStore", "prices_table", "sentiment_table"]

logger = logging.getLogger(__name__)

_metadata = MetaData()
prices_table = Table(
    "prices",
    _metadata,
    Column("symbol", String(32), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("open", Float),
    Column("high", Float),
    Column("low", Float),
    Column("close", Float),
    Column("volume", Float),
)
# The sentiment table is optional: it has its own metadata so that opening a store never creates
# it (its absence is how the sentiment feature group learns that there is no sentiment data).
_sentiment_metadata = MetaData()
sentiment_table = Table(
    "sentiment",
    _sentiment_metadata,
    Column("symbol", String(32), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("score", Float),
)
_DELETE_CHUNK = 500  # dates per IN (...) list when merging


@dataclass(frozen=True)
class LoadedPrices:
    """One symbol's prices, read, validated and fingerprinted.

    Attributes:
        symbol: the symbol.
        frame: the clean frame (see :func:`bistlab.validate.validate_ohlcv`).
        defects: the defects found in the stored rows.
        fingerprint: :func:`bistlab.validate.fingerprint` of ``frame``.
    """

    symbol: str
    frame: pd.DataFrame
    defects: tuple[Defect, ...]
    fingerprint: str


def _sqlite_parent(url: str) -> None:
    parsed = make_url(url)
    database = parsed.database
    plain_file = bool(database) and database != ":memory:" and not database.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and plain_file:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable URL>"


def _scrubbed(text: str, url: str) -> str:
    """``text`` on one line, without ``url`` or its password."""
    text = " ".join(text.split()).replace(url, _masked(url))
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    return text.replace(password, "***") if password else text


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


class PriceStore:
    """Daily OHLCV of many symbols in table ``prices`` of one database.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///runs/prices.sqlite`` or
            ``postgresql+psycopg2://user@host/bist``. The parent folder of a SQLite file is
            created; the table is created if absent.
    """

    def __init__(self, url: str) -> None:
        shown = _masked(url)
        try:
            _sqlite_parent(url)
            self.engine: Engine = create_engine(url)
        except (ArgumentError, ImportError, OSError, ValueError) as err:
            raise DataError(
                f"`url` must be a usable SQLAlchemy URL but got {shown!r}: {_scrubbed(str(err), url)}"
            ) from err
        self.url = url
        try:
            _metadata.create_all(self.engine, checkfirst=True)
        except SQLAlchemyError as err:
            if self._has_table():  # another process created it meanwhile
                return
            cause = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            raise DataError(
                f"price store {shown} cannot be opened: {type(err).__name__}: {_scrubbed(cause, url)}"
            ) from err

    def _has_table(self) -> bool:
        try:
            return inspect(self.engine).has_table(prices_table.name)
        except SQLAlchemyError:
            return False

    @classmethod
    def from_workspace(cls, ws: Workspace) -> PriceStore:
        """The store of a workspace (``ws.price_url``)."""
        return cls(ws.price_url)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"PriceStore({self.safe_url!r})"

    def close(self) -> None:
        """Release the connection pool (the store remains usable; it reconnects on demand)."""
        self.engine.dispose()

    def write(self, symbol: str, frame: pd.DataFrame, *, replace: bool = True) -> int:
        """Store one symbol's rows in one transaction.

        Args:
            symbol: the symbol (see :func:`bistlab.validate.check_symbol`).
            frame: raw daily OHLCV (see :func:`bistlab.validate.to_raw_frame`); rows on a date
                that occurs again later in ``frame`` are dropped (last kept).
            replace: delete all of the symbol's stored rows first; otherwise merge (stored rows
                on the dates of ``frame`` are overwritten, others kept).

        Returns:
            Rows written.

        Raises:
            DataError: bad symbol, a frame without rows, or one that cannot be standardized.
        """
        check_symbol(symbol)
        raw = to_raw_frame(frame, symbol=symbol)
        raw = raw.loc[~raw.index.isna()]
        raw = raw.loc[~raw.index.duplicated(keep="last")]
        if raw.empty:
            raise DataError(f"{symbol}: `frame` must have at least one dated row but got 0", symbol=symbol)
        dates = raw.index.date.tolist()
        columns = {c: _nullable(raw[c].to_numpy()) for c in COLUMNS}
        rows = [
            {"symbol": symbol, "date": d, **{c: columns[c][i] for c in COLUMNS}} for i, d in enumerate(dates)
        ]
        table = prices_table
        with self.engine.begin() as conn:
            if replace:
                conn.execute(delete(table).where(table.c.symbol == symbol))
            else:
                for start in range(0, len(dates), _DELETE_CHUNK):
                    chunk = dates[start : start + _DELETE_CHUNK]
                    conn.execute(delete(table).where(table.c.symbol == symbol, table.c.date.in_(chunk)))
            conn.execute(insert(table), rows)
        mode = "replace" if replace else "merge"
        logger.debug("%s: %d rows written to %s (%s)", symbol, len(rows), self.safe_url, mode)
        return len(rows)

    def read(self, symbol: str) -> pd.DataFrame:
        """The stored rows of one symbol, unvalidated.

        Returns:
            A frame with a ``DatetimeIndex`` named ``date`` (ascending, ns) and float64 columns
            ``open``, ``high``, ``low``, ``close`` (price units) and ``volume`` (shares); missing
            values are NaN.

        Raises:
            SymbolNotFoundError: the store has no rows for ``symbol``.
        """
        table = prices_table
        query = select(table.c.date, *(table.c[c] for c in COLUMNS)).where(table.c.symbol == symbol)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.date)).all()
        if not rows:
            known = self.symbols()
            hint = f" (did you mean {symbol.upper()!r}?)" if symbol.upper() in known else ""
            raise SymbolNotFoundError(
                f"`symbol` must be one of the {len(known)} symbols in price store {self.safe_url} "
                f"but got {symbol!r}{hint}",
                symbol=symbol,
            )
        dates, *values = zip(*rows)
        index = pd.DatetimeIndex(pd.to_datetime(list(dates)), name="date").as_unit("ns")
        data = {c: np.array(v, dtype="float64") for c, v in zip(COLUMNS, values)}  # None -> nan
        return pd.DataFrame(data, index=index)

    def symbols(self) -> list[str]:
        """The stored symbols, sorted."""
        with self.engine.connect() as conn:
            found = conn.execute(select(prices_table.c.symbol).distinct()).scalars().all()
        return sorted(found)

    def summary(self) -> pd.DataFrame:
        """One row per stored symbol: ``symbol``, ``rows``, ``first_date``, ``last_date``, sorted by symbol."""
        table = prices_table
        query = (
            select(table.c.symbol, func.count().label("rows"), func.min(table.c.date), func.max(table.c.date))
            .group_by(table.c.symbol)
            .order_by(table.c.symbol)
        )
        with self.engine.connect() as conn:
            result = conn.execute(query).all()
        symbols, counts, firsts, lasts = zip(*result) if result else ((), (), (), ())
        out = pd.DataFrame(
            {
                "symbol": pd.Series(symbols, dtype="str"),
                "rows": pd.Series(counts, dtype="int64"),
                "first_date": pd.to_datetime(pd.Series(firsts, dtype="object")).astype("datetime64[ns]"),
                "last_date": pd.to_datetime(pd.Series(lasts, dtype="object")).astype("datetime64[ns]"),
            }
        )
        return out.sort_values("symbol", ignore_index=True)

    def delete(self, symbol: str) -> int:
        """Delete one symbol's rows; returns how many there were (0 if it was not stored)."""
        with self.engine.begin() as conn:
            removed = conn.execute(delete(prices_table).where(prices_table.c.symbol == symbol)).rowcount
        logger.info("%s: %d rows deleted from %s", symbol, removed, self.safe_url)
        return int(removed)

    def write_sentiment(self, frame: pd.DataFrame) -> int:
        """Store sentiment scores in table ``sentiment`` (created if absent), in one transaction.

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
        missing = [c for c in ("symbol", "date", "score") if c not in frame.columns]
        if missing:
            raise DataError(
                f"`frame.columns` must include symbol, date, score but got {list(map(str, frame.columns))} "
                f"(missing: {', '.join(missing)})"
            )
        symbols = [str(s) for s in frame["symbol"].tolist()]
        for symbol in dict.fromkeys(symbols):
            check_symbol(symbol)
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
        scores = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype="float64")
        bad = ~np.isfinite(scores)
        if bad.any():
            shown = frame["score"].to_numpy()[bad][:3].tolist()
            raise DataError(
                f"`score` must be a finite number on every row but got {int(bad.sum())} that are not: {shown}"
            )
        rows_by_key = {
            (symbol, day): score for symbol, day, score in zip(symbols, dates.date.tolist(), scores.tolist())
        }
        if len(rows_by_key) < len(symbols):
            repeated = len(symbols) - len(rows_by_key)
            logger.warning("sentiment: %d repeated (symbol, date) rows dropped (last kept)", repeated)
        rows = [{"symbol": symbol, "date": day, "score": score} for (symbol, day), score in rows_by_key.items()]
        table = sentiment_table
        given = sorted(set(symbols))
        with self.engine.begin() as conn:
            _sentiment_metadata.create_all(conn, checkfirst=True)
            for start in range(0, len(given), _DELETE_CHUNK):
                conn.execute(delete(table).where(table.c.symbol.in_(given[start : start + _DELETE_CHUNK])))
            if rows:
                conn.execute(insert(table), rows)
        logger.debug("sentiment: %d rows of %d symbols written to %s", len(rows), len(given), self.safe_url)
        return len(rows)

    def read_sentiment(self, symbol: str) -> pd.DataFrame | None:
        """This symbol's rows of the optional table ``sentiment(symbol, date, score)``.

        Returns:
            A frame indexed by ``date`` with a float column ``score`` (possibly empty), or ``None``
            when the database has no sentiment table.
        """
        if not inspect(self.engine).has_table("sentiment"):
            return None
        table = sentiment_table
        query = select(table.c.date, table.c.score).where(table.c.symbol == symbol).order_by(table.c.date)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        index = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows]), name="date").as_unit("ns")
        return pd.DataFrame({"score": np.array([r[1] for r in rows], dtype="float64")}, index=index)

    def load(self, symbol: str) -> LoadedPrices:
        """Read, validate and fingerprint one symbol: what every task starts from.

        Raises:
            SymbolNotFoundError: the store has no rows for ``symbol``.
        """
        result = validate_ohlcv(self.read(symbol), symbol=symbol)
        return LoadedPrices(
            symbol=symbol, frame=result.frame, defects=result.defects, fingerprint=fingerprint(result.frame)
        )
