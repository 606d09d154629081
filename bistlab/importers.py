"""Importing daily OHLCV into the price store: CSV and Parquet files, and the embedded demo data.

Each file is one symbol, named by the file: ``THYAO.IS.csv`` and ``thyao.csv`` both hold ``THYAO``.
Rows are stored as they are in the file (see :mod:`bistlab.store`); each import is validated on
the way, so its report lists the file's defects and flags symbols too short for HPO. The demo
data (:func:`load_demo`) comes from packages installed from PyPI: three OHLCV series and 20
close-only stocks.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bistlab.errors import DataError, MalformedFileError
from bistlab.store import PriceStore
from bistlab.validate import UNIVERSE_SYMBOL, COLUMNS, MIN_ROWS, Defect, normalize_symbol, to_raw_frame, too_short, validate_ohlcv, wall_clock_dates

__all__ = [
    "DEMO_STOCKS_START",
    "DEMO_STOCK_FILE",
    "FILE_SUFFIXES",
    "FailedImport",
    "ImportReport",
    "ImportedSymbol",
    "import_paths",
    "iter_price_files",
    "load_demo",
    "read_price_file",
    "symbol_from_path",
]

logger = logging.getLogger(__name__)

FILE_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")
DEMO_STOCK_FILE: tuple[str, ...] = ("datasets", "data", "sp500_dataset.csv.gz")
"""Where in the installed ``skfolio`` package the demo's stocks are: 20 S&P 500 stocks, daily
adjusted closes 1990-01-02 to 2022-12-28 (``skfolio.datasets.load_sp500_dataset`` reads it)."""
DEMO_STOCKS_START = "2019-01-01"
"""The demo keeps the stocks' sessions from this date on (about 1,760), so a demo universe task
stays small."""
_DATE_NAMES = ("date", "datetime")
_HEADER_LABELS = frozenset({"price", "ticker", "date", "datetime"})  # first cells of yfinance's header rows
_REQUIRED = "Date, Open, High, Low, Close, Volume"


@dataclass(frozen=True)
class ImportedSymbol:
    """A symbol that was stored.

    Attributes:
        symbol: the symbol.
        source: where it came from (a file path, or the package dataset of the demo data).
        rows: rows stored (raw, as imported; duplicate dates resolved).
        clean_rows: rows left after validation.
        defects: what validation found (see :func:`bistlab.validate.validate_ohlcv`).
        too_short: fewer than ``MIN_ROWS`` clean rows; stored, but too short for HPO.
    """

    symbol: str
    source: str
    rows: int
    clean_rows: int
    defects: tuple[Defect, ...]
    too_short: bool

    @property
    def warning(self) -> str | None:
        """A one-line warning for a too-short symbol, else ``None``."""
        if not self.too_short:
            return None
        return f"too short for HPO ({self.clean_rows} rows, need {MIN_ROWS})"


@dataclass(frozen=True)
class FailedImport:
    """A file that could not be imported.

    Attributes:
        path: the file.
        message: one line naming the file and what is wrong.
    """

    path: Path
    message: str


@dataclass(frozen=True)
class ImportReport:
    """What one import did, file by file.

    Attributes:
        imported: stored symbols, in the order the files were given.
        failed: files that could not be imported.
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


def symbol_from_path(path: Path) -> str:
    """The symbol a file holds: its stem upper-cased, without Yahoo's ``.IS`` suffix, under the one
    symbol rule (:func:`bistlab.validate.normalize_symbol`).

    Raises:
        DataError: the name breaks the rule (the message names the file).
    """
    stem = Path(path).stem.strip()
    if stem.upper().endswith(".IS"):
        stem = stem[: -len(".IS")]
    try:
        return normalize_symbol(stem)
    except DataError as err:
        raise DataError(f"{Path(path).name}: {err} (from the file name)", symbol=err.symbol, path=path) from err


def _malformed(path: Path, what: str, *, symbol: str) -> MalformedFileError:
    line = " ".join(what.split())  # one line, whatever the cause's text holds
    return MalformedFileError(f"{path.name}: {line}", symbol=symbol, path=path)


def _check_csv_header(path: Path, *, symbol: str) -> None:
    """Reject an empty file and yfinance's multi-level header before pandas guesses at them."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if not rows:
        raise _malformed(path, f"`file` must hold a header naming {_REQUIRED} and data rows but got an empty file",
                         symbol=symbol)
    n_header = 0
    for row in rows:
        if row[0].strip().lower() not in _HEADER_LABELS:
            break
        n_header += 1
    if n_header > 1:
        labels = " / ".join(row[0].strip() for row in rows[:n_header])
        raise _malformed(
            path,
            f"`header` must be one row naming {_REQUIRED} but got a {n_header}-line multi-level header "
            f"({labels}, as yfinance writes for several tickers) and {len(rows) - n_header} data rows",
            symbol=symbol,
        )


def _read_table(path: Path, *, symbol: str) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise _malformed(path, f"`file type` must be one of {', '.join(FILE_SUFFIXES)} but got {suffix or 'none'!r}",
                         symbol=symbol)
    try:
        if suffix == ".csv":
            _check_csv_header(path, symbol=symbol)
            return pd.read_csv(path, encoding="utf-8-sig")
        table = pd.read_parquet(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise _malformed(path, f"cannot be read as {suffix[1:]}: {err}", symbol=symbol) from err
    if isinstance(table.columns, pd.MultiIndex):
        raise _malformed(
            path,
            f"`columns` must be one level naming {_REQUIRED} but got {table.columns.nlevels} levels",
            symbol=symbol,
        )
    if not isinstance(table.index, pd.RangeIndex):
        table = table.reset_index(names=table.index.name or "date")
    return table


def _first_bad(values: pd.Series, bad: pd.Series) -> str:
    positions = [i for i, flag in enumerate(bad.to_numpy()) if flag]
    more = f" and {len(positions) - 1} more" if len(positions) > 1 else ""
    return f"{values.iloc[positions[0]]!r} in data row {positions[0] + 1}{more}"


def _to_ohlcv(table: pd.DataFrame, path: Path, *, symbol: str) -> pd.DataFrame:
    names = [str(c).strip() for c in table.columns]
    lower = [n.lower() for n in names]
    repeated = sorted({n for n in lower if lower.count(n) > 1})
    if repeated:
        raise _malformed(path, f"`columns` must be unique (ignoring case) but got {names} (repeated: {repeated})",
                         symbol=symbol)
    by_name = dict(zip(lower, table.columns))
    date_name = next((n for n in _DATE_NAMES if n in by_name), None)
    missing = [c.capitalize() for c in COLUMNS if c not in by_name]
    if date_name is None or missing:
        missing = (["Date"] if date_name is None else []) + missing
        raise _malformed(path, f"`columns` must include {_REQUIRED} but got {names} (missing: {', '.join(missing)})",
                         symbol=symbol)
    if table.empty:
        raise _malformed(path, "`rows` must be at least 1 data row but got 0", symbol=symbol)

    raw_dates = table[by_name[date_name]]
    try:
        dates = wall_clock_dates(raw_dates, coerce=True)  # aware dates keep their own day, whatever the offset
    except (ValueError, TypeError, OverflowError) as err:
        raise _malformed(path, f"`Date` must hold dates but got {err}", symbol=symbol) from err
    undated = pd.Series(np.asarray(dates.isna()))
    if undated.any():
        raise _malformed(path, f"`Date` must be a date in every row but got {_first_bad(raw_dates, undated)}",
                         symbol=symbol)

    data: dict[str, object] = {"date": dates}
    for column in COLUMNS:
        original = table[by_name[column]]
        numbers = pd.to_numeric(original, errors="coerce")
        bad = numbers.isna() & original.notna() & (original.astype("str").str.strip() != "")
        if bad.any():
            raise _malformed(path, f"`{column.capitalize()}` must be numeric but got {_first_bad(original, bad)}",
                             symbol=symbol)
        data[column] = numbers.astype("float64")
    try:
        return to_raw_frame(pd.DataFrame(data), symbol=symbol)
    except DataError as err:
        raise _malformed(path, str(err), symbol=symbol) from err


def read_price_file(path: Path) -> tuple[str, pd.DataFrame]:
    """Read one symbol's daily OHLCV from a CSV or Parquet file.

    Column names are matched ignoring case; the date column is ``Date`` or ``Datetime``
    (a Parquet file may hold it as its index); ``Adj Close`` and other extra columns are ignored.

    Args:
        path: a ``.csv`` or ``.parquet`` file; its name gives the symbol (see :func:`symbol_from_path`).

    Returns:
        The symbol and the raw frame: ``DatetimeIndex`` named ``date`` and float64 columns ``open``,
        ``high``, ``low``, ``close`` (price units of the file) and ``volume`` (shares), rows as in the file.

    Raises:
        DataError: the file does not exist, or its name is not a valid symbol.
        MalformedFileError: the file cannot be read as daily OHLCV (message: one line naming the file).
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise DataError(f"{path.name or path}: `path` must be an existing .csv or .parquet file or a folder of them "
                        f"but got {str(path)!r}, which {what}", path=path)
    symbol = symbol_from_path(path)
    table = _read_table(path, symbol=symbol)
    return symbol, _to_ohlcv(table, path, symbol=symbol)


def iter_price_files(paths: Iterable[Path]) -> list[Path]:
    """The price files named by ``paths``.

    Args:
        paths: files and folders. A folder contributes its ``*.csv`` and ``*.parquet`` files
            (not recursive, sorted by name); a file is taken as given, whatever its suffix, so
            that importing it reports what is wrong; a repeated file is listed once.

    Returns:
        The files, in the order given.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FILE_SUFFIXES))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def _store_frame(store: PriceStore, symbol: str, raw: pd.DataFrame, *, source: str) -> ImportedSymbol:
    if symbol == UNIVERSE_SYMBOL:
        raise DataError(f"{Path(source).name}: `symbol` must not be {UNIVERSE_SYMBOL!r} (the name of the universe tasks, one model over every symbol) but got {symbol!r}; rename the file", symbol=symbol)
    result = validate_ohlcv(raw, symbol=symbol)
    rows = store.write(symbol, raw, replace=True)
    item = ImportedSymbol(
        symbol=symbol,
        source=source,
        rows=rows,
        clean_rows=len(result.frame),
        defects=result.defects,
        too_short=too_short(result.frame),
    )
    found = "; ".join(f"{d.kind} {d.count}" for d in item.defects) or "no defects"
    logger.info("%s: %d rows stored from %s (%d clean; %s)", symbol, rows, source, item.clean_rows, found)
    if item.warning:
        logger.info("%s: %s", symbol, item.warning)
    return item


def import_paths(store: PriceStore, paths: Iterable[Path]) -> ImportReport:
    """Import price files into a store, each file on its own: one bad file never stops the others.

    A symbol's stored rows are replaced by the file's. Symbols too short for HPO are stored and
    flagged. A second file for a symbol already imported by this call fails (nothing is overwritten).

    Args:
        store: the price store.
        paths: files and folders (see :func:`iter_price_files`).

    Returns:
        Per-file outcomes.
    """
    imported: list[ImportedSymbol] = []
    failed: list[FailedImport] = []
    first_source: dict[str, str] = {}
    for path in iter_price_files(paths):
        try:
            symbol, raw = read_price_file(path)
            if symbol in first_source:
                raise DataError(
                    f"{path.name}: `symbol` must be imported once per run but got {symbol!r} again "
                    f"(already from {Path(first_source[symbol]).name}; not overwritten)",
                    symbol=symbol, path=path,
                )
            item = _store_frame(store, symbol, raw, source=str(path))
        except (DataError, OSError, ValueError) as err:
            message = " ".join(str(err).split())
            if path.name not in message:
                message = f"{path.name}: {type(err).__name__}: {message}"
            failed.append(FailedImport(path=path, message=message))
            logger.info("import failed: %s", message)
            logger.debug("import of %s failed", path, exc_info=not isinstance(err, DataError))
            continue
        first_source[symbol] = item.source
        imported.append(item)
    report = ImportReport(imported=tuple(imported), failed=tuple(failed))
    logger.info("import into %s: %s", store.safe_url, report)
    return report


def _demo_frames() -> list[tuple[str, str, pd.DataFrame]]:
    # Imported here, for the demo only: arch.data and backtesting.test take about 1 s to import
    # (0.7 s and 0.3 s, measured with -X importtime), three times bistlab.importers itself.
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
    missing (NULL), never filled from the close (see :func:`bistlab.validate.is_close_only`).

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
