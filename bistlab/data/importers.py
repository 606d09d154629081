"""Importing daily OHLCV into the price store: CSV and Parquet files, and the embedded demo data.

Files are read by :mod:`bistlab.data.price_tables`; the layouts (see :mod:`bistlab.data.price_files`): a flat CSV or Parquet file holds one symbol,
named by the file (``THYAO.IS.csv`` and ``thyao.csv`` both hold ``THYAO``); yfinance's
multi-level CSV (``Price`` / ``Ticker`` / ``Date`` header rows, in either order) and Parquet
(MultiIndex columns) hold a symbol per ticker, named by the ticker (``THYAO.IS`` -> ``THYAO``).
Numbers and dates are read in the file's dialect (see :mod:`bistlab.data.dialects`): English or
Turkish (``1.234,56``, ``31.01.2024``, ``12,34M``), detected from the cells, or named by the
user; a file that reads two ways is refused. Where a ticker has an ``Adj Close``, its series is
stored scaled to it (open, high and low times Adj Close / Close, the close the Adj Close, volume
as it is: what yfinance's ``auto_adjust`` does), so labels and features use the adjusted series,
and its import record says so (basis ``adj_close``, part of the data fingerprint: see
:meth:`bistlab.data.store.PriceStore.price_basis`).

Rows are stored as the file gives them (see :mod:`bistlab.data.store`); each import is validated on
the way, so its report lists the file's defects and flags symbols too short for HPO. The demo
data (:func:`load_demo`) comes from packages installed from PyPI: three OHLCV series and 20
close-only stocks.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bistlab.data.dialects import check_dialect
from bistlab.errors import DataError
from bistlab.data.price_tables import PriceTable, iter_price_files, read_price_tables
from bistlab.data.store import PriceStore
from bistlab.data.validate import MIN_ROWS, Defect, too_short, validate_ohlcv
from bistlab.data.price_frames import to_raw_frame, wall_clock_dates
from bistlab.core.names import UNIVERSE_SYMBOL, normalize_symbol

__all__ = [
    "DEMO_STOCKS_START",
    "DEMO_STOCK_FILE",
    "FailedImport",
    "ImportReport",
    "ImportedSymbol",
    "import_paths",
    "load_demo",
]

logger = logging.getLogger(__name__)

DEMO_STOCK_FILE: tuple[str, ...] = ("datasets", "data", "sp500_dataset.csv.gz")
"""Where in the installed ``skfolio`` package the demo's stocks are: 20 S&P 500 stocks, daily
adjusted closes 1990-01-02 to 2022-12-28 (``skfolio.datasets.load_sp500_dataset`` reads it)."""
DEMO_STOCKS_START = "2019-01-01"
"""The demo keeps the stocks' sessions from this date on (about 1,760), so a demo universe task
stays small."""


@dataclass(frozen=True)
class ImportedSymbol:
    """A symbol that was stored.

    Attributes:
        symbol: the symbol.
        source: where it came from (a file path, with its ticker for a file of several, or the
            package dataset of the demo data).
        rows: rows stored (raw, as imported; duplicate dates resolved).
        clean_rows: rows left after validation.
        defects: what validation found (see :func:`bistlab.data.validate.validate_ohlcv`).
        too_short: fewer than ``MIN_ROWS`` clean rows; stored, but too short for HPO.
        basis: what the stored prices are: ``close``, or ``adj_close`` (scaled to the file's Adj Close).
        read_as: how the file was read, in words: layout, prices, dialect (``""`` for the demo).
    """

    symbol: str
    source: str
    rows: int
    clean_rows: int
    defects: tuple[Defect, ...]
    too_short: bool
    basis: str = "close"
    read_as: str = ""

    @property
    def warning(self) -> str | None:
        """A one-line warning for a too-short symbol, else ``None``."""
        if not self.too_short:
            return None
        return f"too short for HPO ({self.clean_rows} rows, need {MIN_ROWS})"


@dataclass(frozen=True)
class FailedImport:
    """A file, or one ticker of a file, that could not be imported.

    Attributes:
        path: the file.
        message: one line naming the file (and the ticker) and what is wrong.
        ticker: the ticker refused, for a file of several; ``None``: the whole file.
    """

    path: Path
    message: str
    ticker: str | None = None


@dataclass(frozen=True)
class ImportReport:
    """What one import did, file by file.

    Attributes:
        imported: stored symbols, in the order the files were given.
        failed: files (or tickers of a file) that could not be imported.
    """

    imported: tuple[ImportedSymbol, ...]
    failed: tuple[FailedImport, ...]

    @property
    def symbols(self) -> list[str]:
        """The symbols stored."""
        return [item.symbol for item in self.imported]

    @property
    def too_short(self) -> list[str]:
        """The stored symbols too short for HPO."""
        return [item.symbol for item in self.imported if item.too_short]

    def __str__(self) -> str:
        return (
            f"{len(self.imported)} symbols imported ({len(self.too_short)} too short for HPO), "
            f"{len(self.failed)} files failed"
        )


def _store_frame(
    store: PriceStore, symbol: str, raw: pd.DataFrame, *, source: str, basis: str = "close", read_as: str = ""
) -> ImportedSymbol:
    if symbol == UNIVERSE_SYMBOL:
        raise DataError(f"{Path(source).name}: `symbol` must not be {UNIVERSE_SYMBOL!r} (the name of the universe tasks, one model over every symbol) but got {symbol!r}; rename the file", symbol=symbol)
    result = validate_ohlcv(raw, symbol=symbol)
    rows = store.write(symbol, raw, replace=True, basis=basis, source=source)
    item = ImportedSymbol(
        symbol=symbol,
        source=source,
        rows=rows,
        clean_rows=len(result.frame),
        defects=result.defects,
        too_short=too_short(result.frame),
        basis=basis,
        read_as=read_as,
    )
    found = "; ".join(f"{d.kind} {d.count}" for d in item.defects) or "no defects"
    how = f"; read as {read_as}" if read_as else ""
    logger.info("%s: %d rows stored from %s (%d clean; %s%s)", symbol, rows, source, item.clean_rows, found, how)
    if item.warning:
        logger.info("%s: %s", symbol, item.warning)
    return item


def _failure(path: Path, err: Exception, *, ticker: str | None = None) -> FailedImport:
    message = " ".join(str(err).split())
    if path.name not in message:
        message = f"{path.name}: {type(err).__name__}: {message}"
    logger.info("import failed: %s", message)
    logger.debug("import of %s failed", path, exc_info=not isinstance(err, DataError))
    return FailedImport(path=path, message=message, ticker=ticker)


def _store_table(store: PriceStore, path: Path, table: PriceTable, first_source: dict[str, str]) -> ImportedSymbol:
    """Store one symbol of a file, once per import.

    Raises:
        DataError: the symbol was imported already in this run, or cannot be stored.
    """
    source = str(path) if table.ticker is None else f"{path} (ticker {table.ticker})"
    if table.symbol in first_source:
        where = f"{path.name}: ticker {table.ticker}" if table.ticker is not None else path.name
        raise DataError(
            f"{where}: `symbol` must be imported once per run but got {table.symbol!r} again "
            f"(already from {first_source[table.symbol]}; not overwritten)",
            symbol=table.symbol, path=path,
        )
    item = _store_frame(store, table.symbol, table.frame, source=source, basis=table.basis, read_as=table.read_as)
    first_source[table.symbol] = path.name if table.ticker is None else f"{path.name} (ticker {table.ticker})"
    return item


def import_paths(store: PriceStore, paths: Iterable[Path], *, dialect: str | None = None) -> ImportReport:
    """Import price files into a store, each file (and each ticker of a file) on its own: one bad
    file or ticker never stops the others.

    A symbol's stored rows, and its import record (price basis, source), are replaced by the
    file's. Symbols too short for HPO are stored and flagged. A second file or ticker for a
    symbol already imported by this call fails (nothing is overwritten).

    Args:
        store: the price store.
        paths: files and folders (see :func:`iter_price_files`).
        dialect: ``"tr"`` or ``"en"`` to read every file so; ``None``: detected per file.

    Returns:
        Per-file (and per-ticker) outcomes.

    Raises:
        ConfigError: ``dialect`` is neither ``tr`` nor ``en`` (before any file is read).
    """
    check_dialect(dialect)
    imported: list[ImportedSymbol] = []
    failed: list[FailedImport] = []
    first_source: dict[str, str] = {}
    for path in iter_price_files(paths):
        try:
            found = read_price_tables(path, dialect=dialect)
        except (DataError, OSError, ValueError) as err:
            failed.append(_failure(path, err))
            continue
        failed.extend(_failure(path, err, ticker=ticker) for ticker, err in found.refused)
        for table in found.tables:
            try:
                imported.append(_store_table(store, path, table, first_source))
            except (DataError, OSError, ValueError) as err:
                failed.append(_failure(path, err, ticker=table.ticker))
    report = ImportReport(imported=tuple(imported), failed=tuple(failed))
    logger.info("import into %s: %s", store.safe_url, report)
    return report


def _demo_frames() -> list[tuple[str, str, pd.DataFrame]]:
    # Imported here, for the demo only: arch.data and backtesting.test take about 1 s to import
    # (0.7 s and 0.3 s, measured with -X importtime), three times bistlab.data.importers itself.
    from arch.data import nasdaq, sp500
    from backtesting.test import GOOG

    return [
        ("SP500", "arch.data.sp500", sp500.load()),
        ("NASDAQ", "arch.data.nasdaq", nasdaq.load()),
        ("GOOG", "backtesting.test.GOOG", GOOG),
    ]


def _demo_stock_file() -> Path:
    """The data file of ``skfolio.datasets.load_sp500_dataset``, found without importing skfolio
    (its package imports scikit-learn and cvxpy; the demo needs only this file).

    Raises:
        DataError: skfolio is not installed, or the file is not where this version keeps it.
    """
    spec = importlib.util.find_spec("skfolio")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    found = [Path(f, *DEMO_STOCK_FILE) for f in folders if Path(f, *DEMO_STOCK_FILE).is_file()]
    if not found:
        where = f"not in {', '.join(folders)}" if folders else "skfolio is not installed"
        raise DataError(
            f"`demo stock file` must be skfolio's {'/'.join(DEMO_STOCK_FILE)} (pip install 'skfolio>=1.0') "
            f"but got none: {where}"
        )
    return found[0]


def _demo_stocks() -> list[tuple[str, str, pd.DataFrame]]:
    """The demo's stocks: close-only raw frames from :data:`DEMO_STOCKS_START` on (open, high,
    low and volume NaN: the file holds adjusted closes only)."""
    path = _demo_stock_file()
    try:
        table = pd.read_csv(path, index_col="Date")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"`demo stock file` must be a readable CSV but got {path}: {err}", path=path) from err
    table.index = pd.DatetimeIndex(wall_clock_dates(table.index), name="date")
    table = table.loc[table.index >= pd.Timestamp(DEMO_STOCKS_START)]
    first, last = table.index.min().date(), table.index.max().date()
    source = f"skfolio {'/'.join(DEMO_STOCK_FILE)} (adjusted close only, {first} to {last}: from {DEMO_STOCKS_START} on)"
    missing = np.full(len(table), np.nan)
    frames = []
    for column in table.columns:
        symbol = normalize_symbol(str(column))
        close = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype="float64")
        raw = pd.DataFrame({"open": missing, "high": missing, "low": missing, "close": close, "volume": missing},
                           index=table.index)
        frames.append((symbol, source, raw))
    return frames


def load_demo(store: PriceStore) -> ImportReport:
    """Store the demo universe that ships inside installed packages (no network).

    ``SP500`` and ``NASDAQ`` (daily OHLCV, 1999-01-04 to 2018-12-31, from ``arch.data``; ``Close``,
    not ``Adj Close``), ``GOOG`` (daily OHLCV, 2004-08-19 to 2013-03-01, from
    ``backtesting.test``), and a cross-section of 20 S&P 500 stocks (``AAPL`` ... ``XOM``, named as
    in the file) from skfolio's ``load_sp500_dataset`` file (read directly, skfolio is not
    imported): daily *adjusted closes only*, truncated to the sessions from
    :data:`DEMO_STOCKS_START` on (2019-01-02 to 2022-12-28, 1,006 sessions) so that a demo
    universe task stays small. The stocks are close-only: open, high, low and volume are stored
    missing (NULL), never filled from the close (see :func:`bistlab.data.validate.is_close_only`).

    Returns:
        The outcomes, as for :func:`import_paths`.

    Raises:
        DataError: skfolio's data file cannot be found or read.
    """
    stocks = _demo_stocks()  # first: a missing file stores nothing
    imported = []
    for symbol, source, frame in _demo_frames():
        raw = to_raw_frame(frame.rename(columns=str.lower), symbol=symbol)
        imported.append(_store_frame(store, symbol, raw, source=source))
    for symbol, source, frame in stocks:
        imported.append(_store_frame(store, symbol, to_raw_frame(frame, symbol=symbol), source=source))
    report = ImportReport(imported=tuple(imported), failed=())
    logger.info("demo data into %s: %s", store.safe_url, report)
    return report
