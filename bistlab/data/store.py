"""The price store: daily OHLCV of many symbols in one SQL table, through SQLAlchemy Core.

The store keeps rows as imported (validation happens on :meth:`PriceStore.load`, so defects stay
visible); only duplicate dates within one write are resolved (last kept), since the primary key
``(symbol, date)`` forbids them. Any SQLAlchemy URL works: a SQLite file by default
(``Workspace.price_url``), PostgreSQL for a shared store.

Prices already kept in a table of one's own are read where they are, read-only, by a
:class:`bistlab.data.store_mapped.MappedPriceStore`; :func:`bistlab.data.stores.open_store` (or
:func:`bistlab.data.stores.workspace_store` with ``BISTLAB_PRICE_TABLE`` / ``BISTLAB_PRICE_COLUMNS``) picks the kind. The optional
``sentiment`` table is :mod:`bistlab.data.sentiment_table`.

Beside the rows, table ``price_imports`` keeps one import record per symbol: the price basis
(``close``, or ``adj_close`` for a series scaled to yfinance's Adj Close, see
:data:`bistlab.data.price_frames.PRICE_BASES`) and where the rows came from. The basis enters the data
fingerprint (:meth:`PriceStore.load`); a symbol without a record is on ``close``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    Date,
    Float,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableClause

from bistlab.config import PRICE_FIELDS
from bistlab.core.db_urls import cannot_open, masked_url, scrubbed, sqlite_file
from bistlab.errors import DataError, SymbolNotFoundError
from bistlab.data.sentiment_table import SentimentTable
from bistlab.data.validate import Defect, validate_ohlcv
from bistlab.data.price_frames import COLUMNS, PRICE_BASES, fingerprint, to_raw_frame, wall_clock_dates
from bistlab.core.names import check_symbol

__all__ = ["OWN_TABLE", "LoadedPrices", "PriceStore", "imports_table", "prices_table"]

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
imports_table = Table(
    "price_imports",
    _metadata,
    Column("symbol", String(32), primary_key=True),
    Column("basis", String(16), nullable=False),
    Column("source", Text),
)
"""One import record per symbol: its price basis and where its rows came from."""
_DELETE_CHUNK = 500  # dates per IN (...) list when merging
OWN_TABLE = "prices"
"""The name of bistlab's own price table (read/write)."""


@dataclass(frozen=True)
class LoadedPrices:
    """One symbol's prices, read, validated and fingerprinted.

    Attributes:
        symbol: the symbol.
        frame: the clean frame (see :func:`bistlab.data.validate.validate_ohlcv`).
        defects: the defects found in the stored rows.
        fingerprint: :func:`bistlab.data.price_frames.fingerprint` of ``frame`` on ``basis``.
        basis: what the prices are (:data:`bistlab.data.price_frames.PRICE_BASES`): ``close`` unless
            imported scaled to an Adj Close.
    """

    symbol: str
    frame: pd.DataFrame
    defects: tuple[Defect, ...]
    fingerprint: str
    basis: str = "close"


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value is None
    return True


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def _as_dates(values: Sequence[object]) -> pd.DatetimeIndex:
    """Dates, datetimes (naive, or aware: their wall-clock date) or date text -> a tz-naive,
    midnight, ns ``DatetimeIndex`` named ``date`` (NULL -> NaT): :func:`bistlab.data.price_frames.wall_clock_dates`.

    Raises:
        ValueError, TypeError: a value is not a date.
    """
    return pd.DatetimeIndex(wall_clock_dates(list(values)), name="date")


def _write_record(conn: Connection, symbol: str, *, replace: bool, basis: str | None, source: str | None) -> None:
    """Replace (or, merging, keep or update) a symbol's import record, in the rows' transaction.

    Raises:
        DataError: a merge on another basis than the stored one.
    """
    where = imports_table.c.symbol == symbol
    stored = conn.execute(select(imports_table.c.basis, imports_table.c.source).where(where)).first()
    if not replace:
        old = str(stored[0]) if stored is not None else "close"
        if basis is not None and basis != old:
            raise DataError(
                f"{symbol}: `basis` must be the stored rows' ({old!r}) when merging but got {basis!r}; import the whole "
                "series again instead (one series, one basis)",
                symbol=symbol,
            )
        if basis is None and source is None:
            return
        basis, source = basis or old, source if source is not None else (stored[1] if stored is not None else None)
    conn.execute(delete(imports_table).where(where))
    if replace and basis is None and source is None:
        return
    conn.execute(insert(imports_table), [{"symbol": symbol, "basis": basis or "close", "source": source}])


class PriceStore:
    """Daily OHLCV of many symbols in bistlab's own table ``prices`` of one database (read/write).

    A table of one's own is read by the subclass :class:`bistlab.data.store_mapped.MappedPriceStore`;
    :func:`bistlab.data.stores.open_store` picks the class from the arguments.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///runs/prices.sqlite`` or
            ``postgresql+psycopg2://user@host/bist``. The parent folder of a SQLite file is
            created and so is table ``prices`` if absent.

    Raises:
        DataError: the URL is unusable or the database cannot be reached.
    """

    read_only: bool = False
    table_name: str = OWN_TABLE
    symbol_suffix: str = ""

    def __init__(self, url: str) -> None:
        self._connect(url)
        self._table: TableClause = prices_table
        self._cols: dict[str, ColumnElement | None] = {f: prices_table.c[f] for f in PRICE_FIELDS}
        try:
            _metadata.create_all(self.engine, checkfirst=True)
        except SQLAlchemyError as err:
            if self._has_table():  # another process created it meanwhile
                return
            raise cannot_open(err, shown=masked_url(url), url=url) from err

    def _connect(self, url: str) -> None:
        """Set ``engine``, ``url`` and the sentiment table of the database at ``url``.

        Raises:
            DataError: the URL is unusable (its password masked in the message).
        """
        try:
            self._prepare_file(url)
            self.engine: Engine = create_engine(url)
        except (ArgumentError, ImportError, OSError, ValueError) as err:
            raise DataError(
                f"`url` must be a usable SQLAlchemy URL but got {masked_url(url)!r}: {scrubbed(str(err), url)}"
            ) from err
        self.url = url
        self._sentiment = SentimentTable(self.engine)

    def _prepare_file(self, url: str) -> None:
        """Create the parent folder of a SQLite file."""
        path = sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def _has_table(self) -> bool:
        try:
            return inspect(self.engine).has_table(prices_table.name)
        except SQLAlchemyError:
            return False

    @property
    def _where(self) -> str:
        """The store in messages."""
        return self.safe_url

    def _stored(self, symbol: str) -> str:
        """The symbol as the table holds it."""
        return symbol

    def _shown(self, stored: object) -> str | None:
        """The bistlab name of a stored symbol, or ``None`` for a NULL."""
        return None if stored is None else str(stored)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"PriceStore({self.safe_url!r})"

    def close(self) -> None:
        """Release the connection pool (the store remains usable; it reconnects on demand)."""
        self.engine.dispose()

    def write(
        self, symbol: str, frame: pd.DataFrame, *, replace: bool = True, basis: str | None = None, source: str | None = None
    ) -> int:
        """Store one symbol's rows in one transaction, with its import record.

        Args:
            symbol: the symbol (see :func:`bistlab.core.names.check_symbol`).
            frame: raw daily OHLCV (see :func:`bistlab.data.price_frames.to_raw_frame`); rows on a date
                that occurs again later in ``frame`` are dropped (last kept).
            replace: delete all of the symbol's stored rows first; otherwise merge (stored rows
                on the dates of ``frame`` are overwritten, others kept).
            basis: what the prices are (:data:`bistlab.data.price_frames.PRICE_BASES`). ``None``: a
                replace stores the symbol on ``close``, a merge keeps the stored basis; a merge
                on another basis than the stored one is refused (one series, one basis).
            source: where the rows come from, kept in the import record.

        Returns:
            Rows written.

        Raises:
            DataError: bad symbol or basis, a frame without rows, or one that cannot be
                standardized; a merge on another basis; a read-only store.
        """
        check_symbol(symbol)
        if basis is not None and basis not in PRICE_BASES:
            raise DataError(f"{symbol}: `basis` must be one of {', '.join(PRICE_BASES)} but got {basis!r}", symbol=symbol)
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
            _write_record(conn, symbol, replace=replace, basis=basis, source=source)
        mode = "replace" if replace else "merge"
        logger.debug("%s: %d rows written to %s (%s)", symbol, len(rows), self.safe_url, mode)
        return len(rows)

    def price_basis(self, symbol: str) -> str:
        """What a symbol's stored prices are (:data:`bistlab.data.price_frames.PRICE_BASES`): its import
        record's basis, ``close`` without one."""
        query = select(imports_table.c.basis).where(imports_table.c.symbol == symbol)
        try:
            with self.engine.connect() as conn:
                found = conn.execute(query).scalar_one_or_none()
        except SQLAlchemyError:
            if inspect(self.engine).has_table(imports_table.name):
                raise
            return "close"  # a store opened while another process created its tables: no record yet
        return str(found) if found is not None else "close"

    def read(self, symbol: str) -> pd.DataFrame:
        """The stored rows of one symbol, unvalidated.

        Returns:
            A frame with a ``DatetimeIndex`` named ``date`` (ascending, ns) and float64 columns
            ``open``, ``high``, ``low``, ``close`` (price units) and ``volume`` (shares); missing
            values are NaN.

        Raises:
            SymbolNotFoundError: the store has no rows for ``symbol``.
            DataError: a date or value of an existing table cannot be read as one.
        """
        present = [c for c in COLUMNS if self._cols[c] is not None]
        rows = self._select(symbol, present)
        if not rows:
            raise self._not_found(symbol)
        dates, *values = zip(*rows)
        index = self._dates(dates, symbol=symbol)
        data = {c: np.full(len(rows), np.nan) for c in COLUMNS}  # an unmapped volume stays NaN
        for c, v in zip(present, values):
            data[c] = self._numbers(c, v, symbol=symbol)
        return pd.DataFrame(data, index=index)

    def _select(self, symbol: str, present: Sequence[str]) -> Sequence[Row]:
        """The rows ``(date, *present)`` of ``symbol``, ordered by date in SQL."""
        cols = self._cols
        query = select(cols["date"], *(cols[c] for c in present)).where(cols["symbol"] == self._stored(symbol))
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(cols["date"])).all()

    def _not_found(self, symbol: str) -> SymbolNotFoundError:
        known = self.symbols()
        hint = f" (did you mean {symbol.upper()!r}?)" if symbol.upper() in known else ""
        return SymbolNotFoundError(
            f"`symbol` must be one of the {len(known)} symbols in price store {self._where} but got {symbol!r}{hint}",
            symbol=symbol,
        )

    def _dates(self, values: Sequence[object], *, symbol: str | None) -> pd.DatetimeIndex:
        """:func:`_as_dates` of the date column's ``values``; ``symbol`` (if any) opens the error message.

        Raises:
            DataError: a value is not a date.
        """
        try:
            return _as_dates(values)
        except (ValueError, TypeError) as err:
            where = f"{symbol}: " if symbol is not None else ""
            raise DataError(
                f"{where}column {self._cols['date'].name} of table {self.table_name} must hold dates but got "
                f"{' '.join(str(err).split())[:200]}",
                symbol=symbol,
            ) from err

    def _numbers(self, field: str, values: Sequence[object], *, symbol: str) -> np.ndarray:
        """Column ``field``'s ``values`` as float64 (``None`` -> NaN).

        Raises:
            DataError: a value is not a number.
        """
        try:
            return np.array(values, dtype="float64")
        except (ValueError, TypeError) as err:
            bad = next((x for x in values if not _is_number(x)), None)
            where = f"column {self._cols[field].name} of table {self.table_name}"
            raise DataError(f"{symbol}: {where} must hold numbers but got {bad!r}", symbol=symbol) from err

    def symbols(self) -> list[str]:
        """The stored symbols, sorted (without ``symbol_suffix``)."""
        with self.engine.connect() as conn:
            found = conn.execute(select(self._cols["symbol"]).distinct()).scalars().all()
        return sorted(s for s in map(self._shown, found) if s is not None)

    def summary(self) -> pd.DataFrame:
        """One row per stored symbol: ``symbol``, ``rows``, ``first_date``, ``last_date``, sorted by symbol."""
        sym, day = self._cols["symbol"], self._cols["date"]
        query = select(sym, func.count().label("rows"), func.min(day), func.max(day)).group_by(sym).order_by(sym)
        with self.engine.connect() as conn:
            result = [(self._shown(r[0]), *r[1:]) for r in conn.execute(query).all()]
        result = [r for r in result if r[0] is not None]
        symbols, counts, firsts, lasts = zip(*result) if result else ((), (), (), ())
        first_dates, last_dates = self._dates(firsts, symbol=None), self._dates(lasts, symbol=None)
        out = pd.DataFrame(
            {
                "symbol": pd.Series(symbols, dtype="str"),
                "rows": pd.Series(counts, dtype="int64"),
                "first_date": pd.Series(first_dates, dtype="datetime64[ns]"),
                "last_date": pd.Series(last_dates, dtype="datetime64[ns]"),
            }
        )
        return out.sort_values("symbol", ignore_index=True)

    def delete(self, symbol: str) -> int:
        """Delete one symbol's rows; returns how many there were (0 if it was not stored).

        Raises:
            DataError: a read-only store.
        """
        with self.engine.begin() as conn:
            removed = conn.execute(delete(prices_table).where(prices_table.c.symbol == symbol)).rowcount
            conn.execute(delete(imports_table).where(imports_table.c.symbol == symbol))
        logger.info("%s: %d rows deleted from %s", symbol, removed, self.safe_url)
        return int(removed)

    def write_sentiment(self, frame: pd.DataFrame) -> int:
        """Store sentiment scores in table ``sentiment``: :meth:`bistlab.data.sentiment_table.SentimentTable.write`.

        Raises:
            DataError: see there; a read-only store.
        """
        return self._sentiment.write(frame)

    def read_sentiment(self, symbol: str) -> pd.DataFrame | None:
        """This symbol's sentiment scores: :meth:`bistlab.data.sentiment_table.SentimentTable.read`."""
        return self._sentiment.read(symbol)

    def load(self, symbol: str) -> LoadedPrices:
        """Read, validate and fingerprint one symbol: what every task starts from.

        Raises:
            SymbolNotFoundError: the store has no rows for ``symbol``.
        """
        result = validate_ohlcv(self.read(symbol), symbol=symbol)
        basis = self.price_basis(symbol)
        return LoadedPrices(
            symbol=symbol,
            frame=result.frame,
            defects=result.defects,
            fingerprint=fingerprint(result.frame, basis=basis),
            basis=basis,
        )
