"""The price store: daily OHLCV of many symbols in one SQL table, through SQLAlchemy Core.

The store keeps rows as imported (validation happens on :meth:`PriceStore.load`, so defects stay
visible); only duplicate dates within one write are resolved (last kept), since the primary key
``(symbol, date)`` forbids them. Any SQLAlchemy URL works: a SQLite file by default
(``Workspace.price_url``), PostgreSQL for a shared store.

Your own table, read in place
-----------------------------
Prices already kept in a table of one's own (the original system read them from its own
PostgreSQL table) are read where they are: ``PriceStore(url, table="market.daily_prices",
columns={"symbol": "ticker", "date": "trade_date", "close": "px_close", ...})``, or
``BISTLAB_PRICE_TABLE`` / ``BISTLAB_PRICE_COLUMNS`` with :meth:`PriceStore.from_workspace`.
Such a store is read-only: it checks that the table (or view) and every mapped column exist,
never creates, alters or writes anything, and :meth:`~PriceStore.write`,
:meth:`~PriceStore.delete` and :meth:`~PriceStore.write_sentiment` raise :class:`DataError`.
What it reads goes through the same validation as the own table's rows (:meth:`~PriceStore.load`):

* dates: a DATE, a TIMESTAMP (the time of day is dropped), a TIMESTAMP WITH TIME ZONE (the date
  on the wall clock of the database session's time zone: on PostgreSQL set it in the URL, e.g.
  ``?options=-csearch_path%3Dpublic%20-ctimezone%3DEurope/Istanbul``) or ISO 8601 text;
  tz-naive midnight, like everywhere in bistlab. Rows are sorted by date on read.
* prices and volume: any numeric column (integer, float, NUMERIC) or numeric text; NULL is NaN.
* no volume column: map ``volume`` to ``None`` (``volume=`` in ``BISTLAB_PRICE_COLUMNS``);
  :meth:`~PriceStore.read` gives NaN volumes and :meth:`~PriceStore.load` sets them to 0, reported
  as a ``nan_rows`` defect ("N missing volumes set to 0"). Without volumes a session with
  open = high = low = close cannot be told from an exchange's placeholder and is dropped as one
  (``placeholder_sessions``), and the volume features are NaN.
* symbols stored with a suffix (``THYAO.IS``): ``symbol_suffix=".IS"``; bistlab then says
  ``THYAO``, queries ``THYAO.IS``, and sees only the symbols that end in the suffix.
* the optional ``sentiment`` table is still bistlab's own (default schema, bare symbols).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
    column,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
    table as lightweight_table,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableClause

from bistlab.config import PRICE_FIELDS, Workspace
from bistlab.errors import ConfigError, DataError, SymbolNotFoundError
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
_DEFAULT_TABLE = "prices"
_TABLES_SHOWN = 10  # table names listed when a table is missing
_COLUMNS_SHOWN = 30  # column names listed when a mapped column is missing


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


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value is None
    return True


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def _split_table(table: str) -> tuple[str | None, str]:
    """``"schema.name"`` -> ``("schema", "name")``; ``"name"`` -> ``(None, "name")``."""
    if not isinstance(table, str) or not table.strip():
        raise ConfigError("table", "a table name like 'prices' or 'market.daily_prices'", table)
    schema, dot, name = table.strip().rpartition(".")
    if not name or (dot and not schema):
        raise ConfigError("table", "a table name like 'prices' or 'market.daily_prices'", table)
    return schema or None, name


def _check_columns(columns: Mapping[str, str | None]) -> dict[str, str | None]:
    """The full mapping (every field of :data:`PRICE_FIELDS`; unnamed fields map to themselves)."""
    if not isinstance(columns, Mapping):
        raise ConfigError("columns", "a mapping of bistlab names to column names", columns)
    unknown = [k for k in columns if k not in PRICE_FIELDS]
    if unknown:
        raise ConfigError("columns", f"a mapping with keys from {', '.join(PRICE_FIELDS)}", dict(columns))
    for key, value in columns.items():
        if value is None and key == "volume":
            continue
        if not isinstance(value, str) or not value.strip():
            rule = "a mapping to non-empty column names (only volume may map to None: no volume column)"
            raise ConfigError("columns", rule, dict(columns))
    full: dict[str, str | None] = {}
    for name in PRICE_FIELDS:
        value = columns.get(name, name)
        full[name] = value.strip() if value is not None else None
    return full


def _listed(names: Sequence[str], limit: int = _TABLES_SHOWN) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _find_column(wanted: str, available: Sequence[str]) -> str | None:
    """``wanted`` if the table has it, else the one column equal to it but for case (PostgreSQL folds
    unquoted names to lower case), else ``None``."""
    if wanted in available:
        return wanted
    folded = [a for a in available if a.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


def _as_dates(values: Sequence[object]) -> pd.DatetimeIndex:
    """Dates, datetimes (naive, or aware: their wall-clock date) or date text -> a tz-naive,
    midnight, ns ``DatetimeIndex`` named ``date`` (NULL -> NaT).

    Raises:
        ValueError, TypeError: a value is not a date.
    """
    plain = [v.replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo is not None else v for v in values]
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(plain))
    except (ValueError, TypeError):  # text in mixed formats or with mixed UTC offsets
        stamps = [pd.Timestamp(v) if v is not None else pd.NaT for v in plain]
        dates = pd.DatetimeIndex([t.tz_localize(None) if t is not pd.NaT and t.tz is not None else t for t in stamps])
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    return pd.DatetimeIndex(dates.normalize().as_unit("ns"), name="date")


class PriceStore:
    """Daily OHLCV of many symbols in table ``prices`` of one database, or read-only in a table of
    one's own (see the module docstring).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///runs/prices.sqlite`` or
            ``postgresql+psycopg2://user@host/bist``. With the defaults below, the parent
            folder of a SQLite file is created and so is table ``prices`` if absent.
        table: the table; ``"prices"`` is bistlab's own (read/write). Another name is an
            existing table or view, read-only; ``"schema.name"`` names one in another schema.
        columns: bistlab name (``symbol``, ``date``, ``open``, ``high``, ``low``, ``close``,
            ``volume``) -> the table's column name; names left out map to themselves, a
            volume of ``None`` means the table has none. Given (even ``{}``), the table is an
            existing one, read-only, whatever its name. A column name not in the table but for
            case is taken as the table spells it.
        symbol_suffix: a suffix the table's symbols carry (``".IS"`` for ``THYAO.IS``): added
            to queries, stripped from answers; symbols without it are not seen. Non-empty, the
            table is an existing one, read-only.

    Raises:
        ConfigError: ``table`` or ``columns`` is malformed (an unknown key, an empty name).
        DataError: the URL is unusable or the database cannot be reached; for an existing
            table: the table, or a mapped column, does not exist (one line naming the table,
            the URL without its password and the missing columns).
    """

    def __init__(
        self,
        url: str,
        *,
        table: str = _DEFAULT_TABLE,
        columns: Mapping[str, str | None] | None = None,
        symbol_suffix: str = "",
    ) -> None:
        shown = _masked(url)
        schema, name = _split_table(table)
        if not isinstance(symbol_suffix, str):
            raise ConfigError("symbol_suffix", "a string like '.IS' (or '')", symbol_suffix)
        mapping = _check_columns(columns if columns is not None else {})
        self.table_name = table.strip()
        self.read_only = self.table_name != _DEFAULT_TABLE or columns is not None or bool(symbol_suffix)
        self.symbol_suffix = symbol_suffix
        try:
            if self.read_only:
                self._check_sqlite_file(url)
            else:
                _sqlite_parent(url)
            self.engine: Engine = create_engine(url)
        except (ArgumentError, ImportError, OSError, ValueError) as err:
            raise DataError(
                f"`url` must be a usable SQLAlchemy URL but got {shown!r}: {_scrubbed(str(err), url)}"
            ) from err
        self.url = url
        self._table: TableClause = prices_table
        self._cols: dict[str, ColumnElement | None] = {f: prices_table.c[f] for f in PRICE_FIELDS}
        if self.read_only:
            self._reflect(schema, name, mapping)
            return
        try:
            _metadata.create_all(self.engine, checkfirst=True)
        except SQLAlchemyError as err:
            if self._has_table():  # another process created it meanwhile
                return
            cause = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            raise DataError(
                f"price store {shown} cannot be opened: {type(err).__name__}: {_scrubbed(cause, url)}"
            ) from err

    @staticmethod
    def _check_sqlite_file(url: str) -> None:
        """A read-only store must not create an empty SQLite file where none is."""
        parsed = make_url(url)
        database = parsed.database
        plain_file = bool(database) and database != ":memory:" and not database.startswith("file:")
        if parsed.get_backend_name() == "sqlite" and plain_file and not Path(database).expanduser().is_file():
            raise DataError(
                f"`url` must name an existing SQLite file for a read-only price store but got "
                f"{_masked(url)!r} (no such file)"
            )

    def _reflect(self, schema: str | None, name: str, mapping: dict[str, str | None]) -> None:
        """Check that the table and every mapped column exist; point the queries at them."""
        url = self.url
        try:
            inspector = inspect(self.engine)
            if schema is not None:
                schemas = inspector.get_schema_names()
                if _find_column(schema, schemas) is None:
                    raise self._no_table(f"no schema {schema}; the database has {_listed(sorted(schemas))}")
                schema = _find_column(schema, schemas)
            available = self._columns_of(inspector, name, schema)
            if not available:  # perhaps spelled in another case (PostgreSQL folds unquoted names)
                relations = self._relations(inspector, schema)
                other = _find_column(name, relations)
                if other is not None and other != name:
                    name, available = other, self._columns_of(inspector, other, schema)
                if not available:
                    where = f"schema {schema}" if schema else "the default schema"
                    has = f"{where} has {_listed(relations)}" if relations else f"{where} has no tables"
                    raise self._no_table(f"missing; {has}")
        except SQLAlchemyError as err:
            cause = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            raise DataError(
                f"price store {self.safe_url} cannot be opened: {type(err).__name__}: {_scrubbed(cause, url)}"
            ) from err
        found: dict[str, str | None] = {}
        missing: list[str] = []
        for field_name, wanted in mapping.items():
            if wanted is None:
                found[field_name] = None
                continue
            actual = _find_column(wanted, available)
            if actual is None:
                missing.append(f"{field_name}={wanted}")
            found[field_name] = actual
        if missing:
            raise DataError(
                f"`columns` must name columns of table {self.table_name} in price store {self.safe_url} "
                f"but got {', '.join(missing)} (missing; the table has {_listed(available, _COLUMNS_SHOWN)})"
            )
        names = list(dict.fromkeys(c for c in found.values() if c is not None))
        self._table = lightweight_table(name, *(column(c) for c in names), schema=schema)
        self._cols = {f: (self._table.c[c] if c is not None else None) for f, c in found.items()}
        renamed = ", ".join(f"{f}={c}" for f, c in found.items() if c != f)
        logger.info(
            "price store %s: reading table %s read-only (%s)",
            self.safe_url,
            self.table_name,
            renamed or "same column names",
        )

    @staticmethod
    def _columns_of(inspector, name: str, schema: str | None) -> list[str]:
        try:
            return [c["name"] for c in inspector.get_columns(name, schema=schema)]
        except NoSuchTableError:
            return []

    @staticmethod
    def _relations(inspector, schema: str | None) -> list[str]:
        """Tables, views and materialized views of ``schema`` (those the dialect can list)."""
        found: list[str] = []
        for method in ("get_table_names", "get_view_names", "get_materialized_view_names"):
            try:
                found.extend(getattr(inspector, method)(schema=schema))
            except (NotImplementedError, SQLAlchemyError):
                continue
        return sorted(set(found))

    def _no_table(self, why: str) -> DataError:
        return DataError(
            f"`table` must name an existing table or view of price store {self.safe_url} "
            f"but got {self.table_name!r} ({why})"
        )

    def _read_only_error(self, action: str) -> DataError:
        return DataError(
            f"price store {self._where} is read-only (an existing table read in place): cannot {action}; "
            f"change the table with your own tools, or use bistlab's own table (no `table`/`columns`)"
        )

    @property
    def _where(self) -> str:
        if not self.read_only:
            return self.safe_url
        return f"{self.safe_url} (table {self.table_name})"

    def _stored(self, symbol: str) -> str:
        return f"{symbol}{self.symbol_suffix}"

    def _shown(self, stored: object) -> str | None:
        """The bistlab name of a stored symbol, or ``None`` when it lacks the suffix (or is NULL)."""
        if stored is None:
            return None
        text = str(stored)
        if not self.symbol_suffix:
            return text
        if len(text) <= len(self.symbol_suffix) or not text.endswith(self.symbol_suffix):
            return None
        return text[: -len(self.symbol_suffix)]

    def _has_table(self) -> bool:
        try:
            return inspect(self.engine).has_table(prices_table.name)
        except SQLAlchemyError:
            return False

    @classmethod
    def from_workspace(cls, ws: Workspace) -> PriceStore:
        """The store of a workspace: ``ws.price_url``, ``ws.price_table``, ``ws.price_columns``."""
        return cls(ws.price_url, table=ws.price_table, columns=ws.price_columns)

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        if not self.read_only:
            return f"PriceStore({self.safe_url!r})"
        return f"PriceStore({self.safe_url!r}, table={self.table_name!r}, read_only=True)"

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
            DataError: bad symbol, a frame without rows, or one that cannot be standardized;
                a read-only store.
        """
        if self.read_only:
            raise self._read_only_error(f"write {symbol!r}")
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
            DataError: a date or value of an existing table cannot be read as one.
        """
        cols = self._cols
        present = [c for c in COLUMNS if cols[c] is not None]
        query = select(cols["date"], *(cols[c] for c in present)).where(cols["symbol"] == self._stored(symbol))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(cols["date"])).all()
        if not rows:
            known = self.symbols()
            hint = f" (did you mean {symbol.upper()!r}?)" if symbol.upper() in known else ""
            raise SymbolNotFoundError(
                f"`symbol` must be one of the {len(known)} symbols in price store {self._where} "
                f"but got {symbol!r}{hint}",
                symbol=symbol,
            )
        dates, *values = zip(*rows)
        try:
            index = _as_dates(dates)
        except (ValueError, TypeError) as err:
            raise DataError(
                f"{symbol}: column {cols['date'].name} of table {self.table_name} must hold dates but got "
                f"{' '.join(str(err).split())[:200]}",
                symbol=symbol,
            ) from err
        data = {c: np.full(len(rows), np.nan) for c in COLUMNS}  # an unmapped volume stays NaN
        for c, v in zip(present, values):
            try:
                data[c] = np.array(v, dtype="float64")  # None -> nan
            except (ValueError, TypeError) as err:
                bad = next((x for x in v if not _is_number(x)), None)
                raise DataError(
                    f"{symbol}: column {cols[c].name} of table {self.table_name} must hold numbers but got {bad!r}",
                    symbol=symbol,
                ) from err
        frame = pd.DataFrame(data, index=index)
        if self.read_only:  # text dates may sort differently in SQL; keep the contract: ascending
            frame = frame.iloc[np.argsort(index.asi8, kind="stable")]
        return frame

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
        try:
            first_dates, last_dates = _as_dates(firsts), _as_dates(lasts)
        except (ValueError, TypeError) as err:
            raise DataError(
                f"column {day.name} of table {self.table_name} must hold dates but got "
                f"{' '.join(str(err).split())[:200]}"
            ) from err
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
        if self.read_only:
            raise self._read_only_error(f"delete {symbol!r}")
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
                is not a finite number; a read-only store (it writes nothing to a database it
                does not own: create and fill ``sentiment(symbol, date, score)`` there yourself).
        """
        if self.read_only:
            raise self._read_only_error("write sentiment")
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
