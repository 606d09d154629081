"""Which price store a URL and a table get: bistlab's own table (:class:`~bistlab.data.store.PriceStore`,
read/write) or a table of one's own, read in place (:class:`~bistlab.data.store_mapped.MappedPriceStore`);
and what a workspace's store holds, read once (:class:`StoredSymbols`: the symbols, their rows and dates,
checked against what a cycle asks for).

This module sits above both store classes, so neither needs to know the other's subclass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from bistlab.config import UNIVERSE_MIN_SYMBOLS
from bistlab.data.store import OWN_TABLE, PriceStore
from bistlab.data.store_mapped import MappedPriceStore
from bistlab.data.validate import MIN_ROWS
from bistlab.errors import BistlabError, ConfigError
from bistlab.core.names import check_symbol
from bistlab.core.workspace import Workspace

__all__ = ["is_own_table", "open_store", "workspace_store", "StoredSymbols"]

logger = logging.getLogger(__name__)


def is_own_table(table: object, columns: object, symbol_suffix: object) -> bool:
    """Whether the arguments of :func:`open_store` name bistlab's own table (read/write)."""
    own_name = isinstance(table, str) and table.strip() == OWN_TABLE
    return own_name and columns is None and isinstance(symbol_suffix, str) and symbol_suffix == ""


def open_store(
    url: str,
    *,
    table: str = OWN_TABLE,
    columns: Mapping[str, str | None] | None = None,
    symbol_suffix: str = "",
) -> PriceStore:
    """The price store at ``url``: bistlab's own table, or a table of one's own read in place.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///runs/prices.sqlite`` or
            ``postgresql+psycopg2://user@host/bist``.
        table: the table; ``"prices"`` is bistlab's own (read/write). Another name is an
            existing table or view, read in place.
        columns: bistlab name -> the table's column name. Given (even ``{}``), the table is an
            existing one, read in place, whatever its name.
        symbol_suffix: a suffix the table's symbols carry (``".IS"``). Non-empty, the table is an
            existing one, read in place.

    Returns:
        A :class:`~bistlab.data.store.PriceStore` for the own table, else a
        :class:`~bistlab.data.store_mapped.MappedPriceStore`.

    Raises:
        ConfigError: ``table`` or ``columns`` is malformed (an unknown key, an empty name).
        DataError: the URL is unusable or the database cannot be reached; for an existing
            table: the table, or a mapped column, does not exist.
    """
    if is_own_table(table, columns, symbol_suffix):
        return PriceStore(url)
    return MappedPriceStore(url, table=table, columns=columns, symbol_suffix=symbol_suffix)


def workspace_store(ws: Workspace) -> PriceStore:
    """The store of a workspace: ``ws.price_url``, ``ws.price_table``, ``ws.price_columns``."""
    return open_store(ws.price_url, table=ws.price_table, columns=ws.price_columns)


@dataclass(frozen=True)
class StoredSymbols:
    """What a workspace's price store holds, read once (:meth:`read`), and the checks of a cycle's
    symbols, horizons and as-of date against it.

    Attributes:
        summary: one row per stored symbol: ``symbol``, ``rows``, ``first_date``, ``last_date``
            (:meth:`~bistlab.data.store.PriceStore.summary`).
        safe_url: the store's URL as shown (no password).
    """

    summary: pd.DataFrame
    safe_url: str

    @classmethod
    def read(cls, ws: Workspace) -> "StoredSymbols":
        """The summary of the workspace's store (opened and closed again)."""
        store = workspace_store(ws)
        try:
            return cls(store.summary(), store.safe_url)
        finally:
            store.close()

    @cached_property
    def rows(self) -> dict[str, int]:
        """Symbol -> its stored rows."""
        return dict(zip(self.summary["symbol"], self.summary["rows"].astype(int)))

    @cached_property
    def named(self) -> list[str]:
        """The stored symbols under the symbol rule; one that breaks it (a table read in place may
        hold any text) is left out of the cycle with a warning."""
        return [s for s in self.rows if _named_by_the_rule(s)]

    def wants_universe(self, setting: bool | None) -> bool:
        """Whether a cycle runs universe tasks: as ``setting`` (``CycleConfig.universe``) says, else
        when the store holds at least :data:`~bistlab.config.UNIVERSE_MIN_SYMBOLS` symbols under the symbol rule."""
        return setting if setting is not None else len(self.named) >= UNIVERSE_MIN_SYMBOLS

    def select(self, symbols: Sequence[str] | None) -> list[str]:
        """The cycle's symbols: ``symbols``, each under the symbol rule and stored, else every stored one under the rule.

        Raises:
            BistlabError: the store holds no symbol (under the rule).
            ConfigError, DataError: a symbol breaks the rule or is not stored.
        """
        rows = self.rows
        chosen = list(map(check_symbol, symbols)) if symbols else self.named
        if not rows or not chosen:
            raise BistlabError(f"the price store {self.safe_url} has no symbols: run `bistlab data demo` or `bistlab data import PATH`")
        unknown = [s for s in chosen if s not in rows]
        if unknown:
            stored = ", ".join(sorted(rows)[:8]) + (", …" if len(rows) > 8 else "")
            raise ConfigError("symbols", f"symbols of the price store {self.safe_url} ({stored})", ",".join(unknown))
        return chosen

    def check_horizons(self, symbols: Sequence[str], horizons: Sequence[int]) -> None:
        """Horizons that the longest of ``symbols`` can hold with :data:`~bistlab.data.validate.MIN_ROWS`
        labelled rows (when every one is too short, each task is skipped, saying so).

        Raises:
            ConfigError: naming the horizons beyond the data.
        """
        longest = max(symbols, key=lambda s: self.rows[s])
        n = self.rows[longest]
        beyond = [h for h in horizons if n - h < MIN_ROWS]
        if beyond and n > MIN_ROWS:
            rule = f"at most {n - MIN_ROWS} trading days, so that the longest series ({longest}, {n} rows) keeps {MIN_ROWS} labelled rows"
            raise ConfigError("horizons", rule, ",".join(map(str, beyond)))

    def check_as_of(self, symbols: Sequence[str], as_of: str | None) -> None:
        """An as-of date must lie within the stored prices of ``symbols`` and before the last of
        them (later sessions must remain to score the frozen models on).

        Raises:
            ConfigError: naming the date and the stored range.
        """
        summary = self.summary[self.summary["symbol"].isin(symbols)]
        if as_of is None or summary.empty:
            return
        first, last = summary["first_date"].min(), summary["last_date"].max()
        if not first <= pd.Timestamp(as_of) < last:
            rule = f"a date within the stored prices of the cycle's symbols, from {first:%Y-%m-%d} to before their last date {last:%Y-%m-%d} (later sessions must remain to score)"
            raise ConfigError("as_of", rule, as_of)


def _named_by_the_rule(symbol: str) -> bool:
    """Whether a stored symbol can name files (else a warning says it is left out of the cycle)."""
    try:
        check_symbol(symbol)
    except BistlabError as err:
        logger.warning("left out of the cycle: %s", err)
        return False
    return True
