"""The price store as the tasks see it: every symbol read and validated once, each task prepared
with the other symbols as its peers (external features) and its sentiment rows.

A cycle reads the store once per run (:func:`load_universe`) and keeps what it read as a snapshot
in its run folder (:meth:`Universe.save`); its task notebooks load that snapshot
(:meth:`Universe.load`) instead of reading and validating every symbol of the store again, three
times per task.

An **as-of cycle** (``CycleConfig.as_of``) reads the store as it stood on a date:
``load_universe(ws, as_of=DATE)`` keeps every symbol's stored rows up to and including DATE only,
validates and fingerprints what is left, and cuts the sentiment rows alike, so no row after DATE
reaches any task of the cycle (per-symbol or universe)."""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from bistlab.config import EvalSettings, parse_as_of
from bistlab.evaluation.dataset import TaskData, prepare_task
from bistlab.core.pickles import load_pickle
from bistlab.errors import DataError, SymbolNotFoundError
from bistlab.core.jsonio import atomic_file
from bistlab.evaluation.panel import PanelTask, build_panel, is_universe
from bistlab.evaluation.panel_calendar import PanelSettings
from bistlab.data.store import LoadedPrices, PriceStore
from bistlab.data.stores import workspace_store
from bistlab.data.validate import validate_ohlcv
from bistlab.data.price_frames import fingerprint
from bistlab.core.workspace import Workspace

__all__ = ["Universe", "load_universe", "load_task"]

logger = logging.getLogger(__name__)


@dataclass
class Universe:
    """Every symbol of a price store, read and validated once: what a task needs from the store
    (its own prices, every other symbol as a peer for external features, its sentiment rows).

    Attributes:
        url: the store's URL with any password masked, for messages.
        loaded: the symbols that passed validation.
        errors: why each other stored symbol did not.
        sentiment: per loaded symbol, its sentiment rows (``None``: the store has no sentiment table).
        as_of: the last date read (ISO ``YYYY-MM-DD``) when the store was read as of a date;
            ``None``: every stored row.
    """

    url: str
    loaded: dict[str, LoadedPrices]
    errors: dict[str, DataError]
    sentiment: dict[str, pd.DataFrame | None]
    as_of: str | None = None

    def save(self, path: Path) -> Path:
        """Keep this universe as a snapshot file (atomic); load errors are kept as their messages."""
        errors = {s: DataError(str(err), symbol=s) for s, err in self.errors.items()}
        with atomic_file(path, binary=True) as fh:
            pickle.dump(replace(self, errors=errors), fh, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls, path: Path | str) -> "Universe":
        """A snapshot written by :meth:`save` (by bistlab, in the workspace's run folder).

        Raises:
            DataError: the file is missing or unreadable.
        """
        try:
            universe = load_pickle(path)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
            raise DataError(f"`universe snapshot` must be a readable file written by bistlab but got {str(path)!r}: {err}") from err
        if not isinstance(universe, cls):
            raise DataError(f"`universe snapshot` must hold a Universe but got {type(universe).__name__} in {str(path)!r}")
        return universe

    def panel(self, horizon: int, *, settings: EvalSettings | None = None, panel: PanelSettings | None = None) -> PanelTask:
        """The universe task at ``horizon`` (trading days): every loaded symbol in one panel
        (:func:`bistlab.evaluation.panel.build_panel`).

        Raises:
            InsufficientDataError: too few symbols or sessions for a panel.
        """
        loaded = {s: (lp.frame, lp.fingerprint) for s, lp in self.loaded.items()}
        return build_panel(loaded, horizon, settings=settings, panel=panel)

    def task(self, symbol: str, horizon: int, *, settings: EvalSettings | None = None, panel: PanelSettings | None = None) -> TaskData | PanelTask:
        """Prepare ``symbol`` at ``horizon`` (trading days) with the others as its peers; the symbol
        ``UNIVERSE`` is the universe task (:meth:`panel`, with ``panel`` settings).

        Raises:
            SymbolNotFoundError: the store has no such symbol.
            DataError: the symbol's own rows failed validation (e.g. too few rows).
        """
        if is_universe(symbol):
            return self.panel(horizon, settings=settings, panel=panel)
        if symbol in self.errors:
            raise self.errors[symbol]
        if symbol not in self.loaded:
            known = len(self.loaded) + len(self.errors)
            hint = f" (did you mean {symbol.upper()!r}?)" if symbol.upper() in self.loaded else ""
            raise SymbolNotFoundError(
                f"`symbol` must be one of the {known} symbols in price store {self.url} but got {symbol!r}{hint}",
                symbol=symbol,
            )
        loaded = self.loaded[symbol]
        peers = {other: lp.frame for other, lp in self.loaded.items() if other != symbol}
        return prepare_task(
            symbol,
            loaded.frame,
            horizon=horizon,
            fingerprint=loaded.fingerprint,
            settings=settings,
            peers=peers,
            sentiment=self.sentiment.get(symbol),
        )


def load_universe(ws: Workspace, *, only: str | None = None, as_of: str | None = None) -> Universe:
    """Read and validate every symbol of the workspace's price store once.

    Args:
        ws: the workspace (its store URL, table and column mapping).
        only: read sentiment rows for this symbol alone (one task); default: for every symbol.
        as_of: an ISO date: keep every symbol's stored rows up to and including it only, then
            validate and fingerprint them (a symbol without such a row is an error of the
            universe); its sentiment rows are cut alike. ``None``: every row.

    Raises:
        ConfigError: ``as_of`` is not a date.
    """
    cut = pd.Timestamp(parse_as_of(as_of)) if as_of is not None else None
    store = workspace_store(ws)
    try:
        loaded: dict[str, LoadedPrices] = {}
        errors: dict[str, DataError] = {}
        for symbol in store.symbols():
            try:
                loaded[symbol] = store.load(symbol) if cut is None else _load_as_of(store, symbol, cut)
            except DataError as err:
                errors[symbol] = err
                if symbol != only:
                    logger.warning("%s: left out of external features: %s", symbol, err)
        wanted = [only] if only else list(loaded)
        sentiment = {symbol: _cut(store.read_sentiment(symbol), cut) for symbol in wanted if symbol in loaded}
        return Universe(url=store.safe_url, loaded=loaded, errors=errors, sentiment=sentiment, as_of=cut.strftime("%Y-%m-%d") if cut is not None else None)
    finally:
        store.close()


def _load_as_of(store: PriceStore, symbol: str, cut: pd.Timestamp) -> LoadedPrices:
    """One symbol's stored rows up to and including ``cut``, validated and fingerprinted as
    :meth:`~bistlab.data.store.PriceStore.load` does with every row (the validation never sees a later row).

    Raises:
        DataError: no stored row up to ``cut``, or the rows fail validation.
    """
    raw = store.read(symbol)
    kept = raw[raw.index <= cut]
    if kept.empty:
        first = raw.index.min().strftime("%Y-%m-%d") if len(raw) else "none"
        raise DataError(f"`{symbol}` must have a stored row on or before the as-of date {cut:%Y-%m-%d} but got its first row on {first}", symbol=symbol)
    result = validate_ohlcv(kept, symbol=symbol)
    basis = store.price_basis(symbol)
    return LoadedPrices(symbol=symbol, frame=result.frame, defects=result.defects,
                        fingerprint=fingerprint(result.frame, basis=basis), basis=basis)


def _cut(frame: pd.DataFrame | None, cut: pd.Timestamp | None) -> pd.DataFrame | None:
    """Rows of a date-indexed frame up to and including ``cut`` (all of them without one)."""
    if frame is None or cut is None:
        return frame
    return frame[frame.index <= cut]


def load_task(
    ws: Workspace,
    symbol: str,
    horizon: int,
    *,
    settings: EvalSettings | None = None,
    universe: Universe | None = None,
    panel: PanelSettings | None = None,
) -> TaskData | PanelTask:
    """Prepare one task from ``universe``, or from the price store read and validated once now
    (the symbol ``UNIVERSE``: the universe task, built with ``panel`` settings).

    Raises:
        SymbolNotFoundError: the store has no such symbol.
        InsufficientDataError: too few usable rows for the horizon.
    """
    if universe is None:
        universe = load_universe(ws, only=None if is_universe(symbol) else symbol)
    return universe.task(symbol, horizon, settings=settings, panel=panel)
