"""Which price store a URL and a table get: bistlab's own table (:class:`~bistlab.data.store.PriceStore`,
read/write) or a table of one's own, read in place (:class:`~bistlab.data.store_mapped.MappedPriceStore`).

This module sits above both store classes, so neither needs to know the other's subclass.
"""

from __future__ import annotations

from collections.abc import Mapping

from bistlab.data.store import OWN_TABLE, PriceStore
from bistlab.data.store_mapped import MappedPriceStore
from bistlab.core.workspace import Workspace

__all__ = ["is_own_table", "open_store", "workspace_store"]


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
