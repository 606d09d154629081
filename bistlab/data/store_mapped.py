"""A price table of one's own, read in place, read-only: :class:`MappedPriceStore`.

Prices already kept in a table of one's own (the original system read them from its own
PostgreSQL table) are read where they are: ``open_store(url, table="market.daily_prices",
columns={"symbol": "ticker", "date": "trade_date", "close": "px_close", ...})`` (which gives a
:class:`MappedPriceStore`, see :mod:`bistlab.data.stores`), or ``BISTLAB_PRICE_TABLE`` / ``BISTLAB_PRICE_COLUMNS`` with
:func:`bistlab.data.stores.workspace_store`. Such a store is read-only: it checks that the
table (or view) and every mapped column exist, never creates, alters or writes anything, and
:meth:`~MappedPriceStore.write`, :meth:`~MappedPriceStore.delete` and
:meth:`~MappedPriceStore.write_sentiment` raise :class:`DataError`. What it reads goes through the
same validation as the own table's rows (:meth:`~bistlab.data.store.PriceStore.load`):

* dates: a DATE, a TIMESTAMP (the time of day is dropped), a TIMESTAMP WITH TIME ZONE (the date
  on the wall clock of the database session's time zone: on PostgreSQL set it in the URL, e.g.
  ``?options=-csearch_path%3Dpublic%20-ctimezone%3DEurope/Istanbul``) or ISO 8601 text;
  tz-naive midnight, like everywhere in bistlab. Rows are sorted by date on read.
* prices and volume: any numeric column (integer, float, NUMERIC) or numeric text; NULL is NaN.
* no volume column: map ``volume`` to ``None`` (``volume=`` in ``BISTLAB_PRICE_COLUMNS``);
  :meth:`~bistlab.data.store.PriceStore.read` gives NaN volumes and
  :meth:`~bistlab.data.store.PriceStore.load` sets them to 0, reported as a ``nan_rows`` defect
  ("N missing volumes set to 0"). Without volumes a session with open = high = low = close cannot
  be told from an exchange's placeholder and is dropped as one (``placeholder_sessions``), and the
  volume features are NaN.
* symbols stored with a suffix (``THYAO.IS``): ``symbol_suffix=".IS"``; bistlab then says
  ``THYAO``, queries ``THYAO.IS``, and sees only the symbols that end in the suffix.
* the optional ``sentiment`` table is still bistlab's own (default schema, bare symbols).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import column, inspect, table as lightweight_table
from sqlalchemy.engine import Inspector
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from bistlab.config import PRICE_FIELDS
from bistlab.errors import ConfigError, DataError
from bistlab.core.db_urls import cannot_open, masked_url, sqlite_file
from bistlab.data.store import OWN_TABLE, PriceStore

__all__ = ["MappedPriceStore"]

logger = logging.getLogger(__name__)

_TABLES_SHOWN = 10  # table names listed when a table is missing
_COLUMNS_SHOWN = 30  # column names listed when a mapped column is missing
_TABLE_RULE = "a table name like 'prices' or 'market.daily_prices'"


def _split_table(table: str) -> tuple[str | None, str]:
    """``"schema.name"`` -> ``("schema", "name")``; ``"name"`` -> ``(None, "name")``."""
    if not isinstance(table, str) or not table.strip():
        raise ConfigError("table", _TABLE_RULE, table)
    schema, dot, name = table.strip().rpartition(".")
    if not name or (dot and not schema):
        raise ConfigError("table", _TABLE_RULE, table)
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


def _columns_of(inspector: Inspector, name: str, schema: str | None) -> list[str]:
    try:
        return [c["name"] for c in inspector.get_columns(name, schema=schema)]
    except NoSuchTableError:
        return []


def _relations(inspector: Inspector, schema: str | None) -> list[str]:
    """Tables, views and materialized views of ``schema`` (those the dialect can list)."""
    found: list[str] = []
    for method in ("get_table_names", "get_view_names", "get_materialized_view_names"):
        try:
            found.extend(getattr(inspector, method)(schema=schema))
        except (NotImplementedError, SQLAlchemyError):
            continue
    return sorted(set(found))


class MappedPriceStore(PriceStore):
    """Daily OHLCV read in place, read-only, from an existing table or view (see the module docstring).

    :func:`bistlab.data.stores.open_store` gives one whenever the arguments name anything but
    bistlab's own table; constructed directly it always reads in place.

    Args:
        url: SQLAlchemy URL of an existing database (a SQLite file must exist).
        table: an existing table or view; ``"schema.name"`` names one in another schema.
        columns: bistlab name (``symbol``, ``date``, ``open``, ``high``, ``low``, ``close``,
            ``volume``) -> the table's column name; names left out map to themselves, a volume of
            ``None`` means the table has none. A column name not in the table but for case is
            taken as the table spells it.
        symbol_suffix: a suffix the table's symbols carry (``".IS"`` for ``THYAO.IS``): added to
            queries, stripped from answers; symbols without it are not seen.

    Raises:
        ConfigError: ``table`` or ``columns`` is malformed (an unknown key, an empty name).
        DataError: the URL is unusable or the database cannot be reached; the table, or a mapped
            column, does not exist (one line naming the table, the URL without its password and
            the missing columns).
    """

    read_only = True

    def __init__(
        self,
        url: str,
        *,
        table: str = OWN_TABLE,
        columns: Mapping[str, str | None] | None = None,
        symbol_suffix: str = "",
    ) -> None:
        schema, name = _split_table(table)
        if not isinstance(symbol_suffix, str):
            raise ConfigError("symbol_suffix", "a string like '.IS' (or '')", symbol_suffix)
        mapping = _check_columns(columns if columns is not None else {})
        self.table_name = table.strip()
        self.symbol_suffix = symbol_suffix
        self._connect(url)
        self._reflect(schema, name, mapping)

    def _prepare_file(self, url: str) -> None:
        """A read-only store must not create an empty SQLite file where none is."""
        path = sqlite_file(url)
        if path is not None and not path.is_file():
            raise DataError(
                f"`url` must name an existing SQLite file for a read-only price store but got "
                f"{masked_url(url)!r} (no such file)"
            )

    def _reflect(self, schema: str | None, name: str, mapping: dict[str, str | None]) -> None:
        """Check that the table and every mapped column exist; point the queries at them."""
        try:
            inspector = inspect(self.engine)
            schema = self._find_schema(inspector, schema)
            name, available = self._find_table(inspector, schema, name)
        except SQLAlchemyError as err:
            raise cannot_open(err, shown=self.safe_url, url=self.url) from err
        found = self._find_columns(mapping, available)
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

    def _find_schema(self, inspector: Inspector, schema: str | None) -> str | None:
        """``schema`` as the database spells it (``None``: the default schema)."""
        if schema is None:
            return None
        schemas = inspector.get_schema_names()
        found = _find_column(schema, schemas)
        if found is None:
            raise self._no_table(f"no schema {schema}; the database has {_listed(sorted(schemas))}")
        return found

    def _find_table(self, inspector: Inspector, schema: str | None, name: str) -> tuple[str, list[str]]:
        """The table's name as the database spells it (PostgreSQL folds unquoted names), and its columns."""
        available = _columns_of(inspector, name, schema)
        if available:
            return name, available
        relations = _relations(inspector, schema)
        other = _find_column(name, relations)
        if other is not None and other != name:
            name, available = other, _columns_of(inspector, other, schema)
        if not available:
            where = f"schema {schema}" if schema else "the default schema"
            has = f"{where} has {_listed(relations)}" if relations else f"{where} has no tables"
            raise self._no_table(f"missing; {has}")
        return name, available

    def _find_columns(self, mapping: dict[str, str | None], available: list[str]) -> dict[str, str | None]:
        """Field -> the table's column (``None``: no volume column).

        Raises:
            DataError: a mapped column is missing.
        """
        found: dict[str, str | None] = {}
        missing: list[str] = []
        for field_name, wanted in mapping.items():
            actual = None if wanted is None else _find_column(wanted, available)
            if wanted is not None and actual is None:
                missing.append(f"{field_name}={wanted}")
            found[field_name] = actual
        if missing:
            raise DataError(
                f"`columns` must name columns of table {self.table_name} in price store {self.safe_url} "
                f"but got {', '.join(missing)} (missing; the table has {_listed(available, _COLUMNS_SHOWN)})"
            )
        return found

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

    def __repr__(self) -> str:
        return f"PriceStore({self.safe_url!r}, table={self.table_name!r}, read_only=True)"

    def read(self, symbol: str) -> pd.DataFrame:
        """The stored rows of one symbol, unvalidated, sorted by date (see :meth:`PriceStore.read`)."""
        frame = super().read(symbol)
        # text dates may sort differently in SQL; keep the contract: ascending
        return frame.iloc[np.argsort(frame.index.asi8, kind="stable")]

    def price_basis(self, symbol: str) -> str:
        """``close``: a table of one's own has no import record (its prices are what it holds)."""
        del symbol
        return "close"

    def write(
        self, symbol: str, frame: pd.DataFrame, *, replace: bool = True, basis: str | None = None, source: str | None = None
    ) -> int:
        """Refused: the table is not bistlab's.

        Raises:
            DataError: always.
        """
        raise self._read_only_error(f"write {symbol!r}")

    def delete(self, symbol: str) -> int:
        """Refused: the table is not bistlab's.

        Raises:
            DataError: always.
        """
        raise self._read_only_error(f"delete {symbol!r}")

    def write_sentiment(self, frame: pd.DataFrame) -> int:
        """Refused: it writes nothing to a database it does not own (create and fill
        ``sentiment(symbol, date, score)`` there yourself).

        Raises:
            DataError: always.
        """
        raise self._read_only_error("write sentiment")
