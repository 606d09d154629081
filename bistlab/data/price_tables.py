"""A price file read into one table per symbol (:class:`PriceTable`), before anything is stored:
the file's layout (:mod:`bistlab.data.price_files`), its numbers and dates (:mod:`bistlab.data.dialects`), the
symbol it names, and why a file cannot be read. :mod:`bistlab.data.importers` stores what this reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bistlab.data.dialects import EN, TR, Dialect, check_dialect, date_order, number_style, parse_dates, parse_numbers
from bistlab.errors import DataError, MalformedFileError
from bistlab.data.price_files import RawTable, TickerColumns, read_csv_table, read_parquet_table
from bistlab.data.price_frames import COLUMNS, to_raw_frame
from bistlab.core.names import normalize_symbol

__all__ = [
    "FILE_SUFFIXES",
    "PriceTable",
    "PriceFile",
    "symbol_from_path",
    "symbol_from_ticker",
    "read_price_tables",
    "read_price_file",
    "iter_price_files",
]


FILE_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")


_REQUIRED = "Date, Open, High, Low, Close, Volume"


_PRICES = ("open", "high", "low")  # scaled by Adj Close / Close where a ticker has an Adj Close


@dataclass(frozen=True)
class PriceTable:
    """One symbol read from a file.

    Attributes:
        symbol: the symbol.
        ticker: the ticker it was read from (``None``: a one-symbol file, named by the file).
        frame: the raw frame (see :func:`read_price_file`).
        basis: ``close``, or ``adj_close`` where the ticker has an Adj Close.
        read_as: how it was read, in words (layout, prices, dialect).
    """

    symbol: str
    ticker: str | None
    frame: pd.DataFrame
    basis: str
    read_as: str


@dataclass(frozen=True)
class PriceFile:
    """What one file holds: a table per symbol, and the tickers refused (each in one line).

    Attributes:
        path: the file.
        tables: the symbols read, in the file's order.
        refused: ``(ticker, error)`` of each ticker that could not be read; the message names
            the file and the ticker.
    """

    path: Path
    tables: tuple[PriceTable, ...]
    refused: tuple[tuple[str, MalformedFileError], ...]


def _symbol_of(text: str) -> str:
    """``text`` without Yahoo's ``.IS`` suffix, under the one symbol rule."""
    text = text.strip()
    if text.upper().endswith(".IS"):
        text = text[: -len(".IS")]
    return normalize_symbol(text)


def symbol_from_path(path: Path) -> str:
    """The symbol a file holds: its stem upper-cased, without Yahoo's ``.IS`` suffix, under the one
    symbol rule (:func:`bistlab.core.names.normalize_symbol`).

    Raises:
        DataError: the name breaks the rule (the message names the file).
    """
    try:
        return _symbol_of(Path(path).stem)
    except DataError as err:
        raise DataError(f"{Path(path).name}: {err} (from the file name)", symbol=err.symbol, path=path) from err


def symbol_from_ticker(ticker: str) -> str:
    """The symbol of a yfinance ticker (``THYAO.IS`` -> ``THYAO``), by the rule of :func:`symbol_from_path`.

    Raises:
        DataError: the ticker breaks the rule (``^XU100``).
    """
    return _symbol_of(ticker)


def _malformed(path: Path, what: str, *, symbol: str | None, ticker: str | None = None) -> MalformedFileError:
    line = " ".join(what.split())  # one line, whatever the cause's text holds
    where = f"{path.name}: ticker {ticker}: " if ticker is not None else f"{path.name}: "
    return MalformedFileError(where + line, symbol=symbol, path=path)


def _file_symbol(path: Path) -> str | None:
    try:
        return _symbol_of(path.stem)
    except DataError:
        return None


def _read_raw(path: Path) -> RawTable:
    """The file's cells and layout.

    Raises:
        MalformedFileError: an unknown suffix, or the file cannot be read as its suffix says.
    """
    suffix = path.suffix.lower()
    symbol = _file_symbol(path)
    if suffix not in FILE_SUFFIXES:
        raise _malformed(path, f"`file type` must be one of {', '.join(FILE_SUFFIXES)} but got {suffix or 'none'!r}",
                         symbol=symbol)
    try:
        return read_csv_table(path) if suffix == ".csv" else read_parquet_table(path)
    except DataError as err:
        raise _malformed(path, str(err), symbol=symbol) from err
    except (ValueError, OSError) as err:  # pyarrow: not a Parquet file
        raise _malformed(path, f"cannot be read as {suffix[1:]}: {err}", symbol=symbol) from err


def _text_columns(raw: RawTable) -> tuple[dict[str, pd.Series], frozenset[str]]:
    """The text cells of every ticker's fields, by a name for messages, and which are volumes."""
    columns, volumes = {}, set()
    for ticker in raw.tickers:
        for field, (name, cells) in ticker.fields.items():
            if pd.api.types.is_numeric_dtype(cells.dtype):
                continue
            label = name if ticker.ticker is None else f"{name} of {ticker.ticker}"
            columns[label] = cells
            if field == "volume":
                volumes.add(label)
    return columns, frozenset(volumes)


def _both_readings(raw: RawTable, column: str | None, cell: str, data_row: int) -> str:
    """A cell that reads two ways, with both readings, for the refusal."""
    if column is None:
        tr, en = (parse_dates(raw.date_name or "Date", pd.Series([cell], dtype=object), day_first=f)[0] for f in (True, False))
        return f"dates like {cell!r} (data row {data_row}: {tr:%Y-%m-%d} in tr, {en:%Y-%m-%d} in en)"
    tr, en = (parse_numbers(column, pd.Series([cell], dtype=object), d, suffixes=True)[0] for d in (TR, EN))
    return f"numbers like {cell!r} in `{column}` (data row {data_row}: {tr:g} in tr, {en:g} in en)"


def _dates_words(raw: RawTable, *, numeric: bool, day_first: bool) -> str:
    if numeric:
        return "day-first dates" if day_first else "month-first dates"
    if not (pd.api.types.is_object_dtype(raw.dates.dtype) or pd.api.types.is_string_dtype(raw.dates.dtype)):
        return "typed dates"
    iso = raw.dates.astype("str").str.strip().str.match(r"\d{4}-\d").fillna(True).all()
    return "ISO dates" if iso else "text dates"


def _choose_dialect(raw: RawTable, forced: Dialect | None) -> tuple[Dialect, bool, str]:
    """The file's dialect, the order of its numeric dates, and both in words.

    Raises:
        DataError: mixed decimal styles, dates in both orders, or (not forced) a file that reads two ways.
    """
    columns, volumes = _text_columns(raw)
    style = number_style(columns, volume_columns=volumes)
    order = date_order(raw.date_name or "Date", raw.dates)
    if forced is not None:
        numbers = "decimal comma" if forced is TR else "decimal point"
        dates = _dates_words(raw, numeric=order.numeric, day_first=forced.day_first)
        return forced, forced.day_first, f"dialect {forced.name} ({numbers}, {dates}, named by --dialect)"
    two_ways = []
    if style.dialect is None and style.two_ways is not None:
        two_ways.append(_both_readings(raw, *style.two_ways))
    if order.numeric and order.day_first is None and order.two_ways is not None:
        two_ways.append(_both_readings(raw, None, *order.two_ways))
    if two_ways:
        raise DataError(
            f"`dialect` must be named (--dialect tr or --dialect en) for a file that reads two ways but got {' and '.join(two_ways)}"
        )
    told = style.dialect or {True: TR, False: EN}.get(order.day_first)  # None: nothing reads differently in tr and en
    chosen = told or EN
    day_first = order.day_first if order.day_first is not None else chosen.day_first
    numbers = ("decimal comma" if style.dialect is TR else "decimal point") if style.dialect else "no decimal marks" if columns else "typed numbers"
    name = f"dialect {told.name}" if told is not None else "dialect en and tr alike"
    return chosen, day_first, f"{name} ({numbers}, {_dates_words(raw, numeric=order.numeric, day_first=day_first)})"


def _first_bad(values: pd.Series, bad: pd.Series) -> str:
    positions = [i for i, flag in enumerate(bad.to_numpy()) if flag]
    more = f" and {len(positions) - 1} more" if len(positions) > 1 else ""
    return f"{values.iloc[positions[0]]!r} in data row {positions[0] + 1}{more}"


def _dates(raw: RawTable, day_first: bool) -> pd.DatetimeIndex:
    """The file's dates, one per data row.

    Raises:
        DataError: a row without a date (the first one named).
    """
    name = raw.date_name or "Date"
    try:
        dates = parse_dates(name, raw.dates.reset_index(drop=True), day_first=day_first)
    except (ValueError, TypeError, OverflowError) as err:
        raise DataError(f"`{name}` must hold dates but got {err}") from err
    undated = pd.Series(np.asarray(dates.isna()))
    if undated.any():
        raise DataError(f"`{name}` must be a date in every row but got {_first_bad(raw.dates.reset_index(drop=True), undated)}")
    return dates


def _values(columns: TickerColumns, dialect: Dialect, *, date_name: str | None) -> dict[str, np.ndarray]:
    """A ticker's fields as numbers.

    Raises:
        DataError: a required column is missing, or a cell is not a number.
    """
    missing = [c.capitalize() for c in COLUMNS if c not in columns.fields]
    if date_name is None or missing:
        missing = (["Date"] if date_name is None else []) + missing
        names = list(columns.names) if columns.ticker is None else [date_name or "Date", *columns.names]
        raise DataError(f"`columns` must include {_REQUIRED} but got {names} (missing: {', '.join(missing)})")
    return {field: parse_numbers(name, cells.reset_index(drop=True), dialect, suffixes=field == "volume")
            for field, (name, cells) in columns.fields.items()}


def _adjusted(values: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    """Open, high, low scaled by Adj Close / Close and the close the Adj Close, where there is one."""
    if "adj_close" not in values:
        return values, "close"
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = values["adj_close"] / values["close"]
    out = {**{c: values[c] * ratio for c in _PRICES}, "close": values["adj_close"], "volume": values["volume"]}
    return out, "adj_close"


def _ticker_table(raw: RawTable, columns: TickerColumns, dates: pd.DatetimeIndex, dialect: Dialect, *, symbol: str, words: str) -> PriceTable:
    """One ticker's raw frame (yfinance's empty rows of other tickers' dates left out).

    Raises:
        DataError: see :func:`_values`; a ticker without a single price.
    """
    values, basis = _adjusted(_values(columns, dialect, date_name=raw.date_name))
    keep = np.ones(len(dates), dtype=bool)
    note = ""
    if raw.multi_level:
        keep = ~np.all(np.isnan(np.column_stack([values[c] for c in COLUMNS])), axis=1)
        if not keep.any():
            raise DataError(f"`rows` must hold a price on at least 1 of the file's {len(dates)} dates but got none "
                            "(every cell empty: yfinance writes that for a ticker it could not download)")
        if not keep.all():
            note = f"; {int((~keep).sum())} empty rows (dates of other tickers) left out"
    frame = pd.DataFrame({"date": dates[keep], **{c: values[c][keep] for c in COLUMNS}})
    prices = "Adj Close (open, high, low scaled by Adj Close / Close)" if basis == "adj_close" else "Close"
    read_as = f"{raw.layout}, {prices}, {words}{note}"
    return PriceTable(symbol=symbol, ticker=columns.ticker, frame=to_raw_frame(frame, symbol=symbol), basis=basis, read_as=read_as)


def _read_tickers(path: Path, raw: RawTable, dates: pd.DatetimeIndex, dialect: Dialect, words: str) -> PriceFile:
    """Every ticker of a read file: tables, and one refusal per ticker that cannot be read."""
    tables, refused = [], []
    for columns in raw.tickers:
        ticker = columns.ticker
        if ticker is None:  # a flat file: its one symbol, named by the file (checked before)
            symbol = symbol_from_path(path)
            try:
                tables.append(_ticker_table(raw, columns, dates, dialect, symbol=symbol, words=words))
            except DataError as err:
                raise _malformed(path, str(err), symbol=symbol) from err
            continue
        symbol = None
        try:
            symbol = symbol_from_ticker(ticker)
            tables.append(_ticker_table(raw, columns, dates, dialect, symbol=symbol, words=words))
        except DataError as err:
            refused.append((ticker, _malformed(path, str(err), symbol=symbol, ticker=ticker)))
    return PriceFile(path=path, tables=tuple(tables), refused=tuple(refused))


def _no_rows(path: Path, raw: RawTable) -> MalformedFileError:
    tickers = [t.ticker for t in raw.tickers if t.ticker]
    symbol = None
    if len(tickers) == 1:
        try:
            symbol = symbol_from_ticker(tickers[0])
        except DataError:
            symbol = None
    if not raw.multi_level:
        return _malformed(path, "`rows` must be at least 1 data row but got 0", symbol=_file_symbol(path))
    return _malformed(path, f"`rows` must be at least 1 data row under {raw.header} (tickers: {', '.join(tickers) or 'none'}) but got 0",
                      symbol=symbol)


def read_price_tables(path: Path, *, dialect: str | None = None) -> PriceFile:
    """Read every symbol a CSV or Parquet file holds (see :mod:`bistlab.data.price_files` for the layouts).

    Args:
        path: the file. A flat file's name gives its symbol (see :func:`symbol_from_path`);
            yfinance's layouts name a symbol per ticker (see :func:`symbol_from_ticker`).
        dialect: ``"tr"`` or ``"en"`` to read the numbers and dates so; ``None``: detected
            (see :mod:`bistlab.data.dialects`), and a file that reads two ways is refused.

    Returns:
        The symbols read, and the tickers refused (each in one line naming the file and the ticker).

    Raises:
        ConfigError: ``dialect`` is neither ``tr`` nor ``en``.
        DataError: the file does not exist; a flat file's name is not a valid symbol.
        MalformedFileError: the file cannot be read as daily OHLCV (one line naming the file):
            unreadable, no data row, no date column, mixed decimal styles, a file that reads two
            ways, a date that is no date, a flat file's missing column or non-numeric cell.
    """
    path = Path(path)
    forced = check_dialect(dialect)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise DataError(f"{path.name or path}: `path` must be an existing .csv or .parquet file or a folder of them "
                        f"but got {str(path)!r}, which {what}", path=path)
    raw = _read_raw(path)
    if not raw.multi_level:
        symbol_from_path(path)  # a flat file's name must be a symbol before anything else is said of it
    if raw.n_rows == 0:
        raise _no_rows(path, raw)
    if raw.date_name is None:
        names = list(raw.tickers[0].names) if not raw.multi_level else ["(no Date column or index)"]
        missing = ["Date", *(c.capitalize() for c in COLUMNS if not raw.multi_level and c not in raw.tickers[0].fields)]
        raise _malformed(path, f"`columns` must include {_REQUIRED} but got {names} (missing: {', '.join(missing)})",
                         symbol=None if raw.multi_level else _file_symbol(path))
    try:
        chosen, day_first, words = _choose_dialect(raw, forced)
        dates = _dates(raw, day_first)
    except DataError as err:
        raise _malformed(path, str(err), symbol=None if raw.multi_level else _file_symbol(path)) from err
    return _read_tickers(path, raw, dates, chosen, words)


def read_price_file(path: Path, *, dialect: str | None = None) -> tuple[str, pd.DataFrame]:
    """Read one symbol's daily OHLCV from a CSV or Parquet file of one symbol (see :func:`read_price_tables`).

    Column names are matched ignoring case and Turkish letters (see :mod:`bistlab.data.price_files`);
    the date column is ``Date``, ``Datetime`` or ``Tarih`` (a Parquet file may hold it as its
    index); other columns are ignored; an ``Adj Close`` scales the prices (see the module).

    Args:
        path: a ``.csv`` or ``.parquet`` file of one symbol.
        dialect: ``"tr"``, ``"en"`` or ``None`` (detected).

    Returns:
        The symbol and the raw frame: ``DatetimeIndex`` named ``date`` and float64 columns ``open``,
        ``high``, ``low``, ``close`` (price units of the file) and ``volume`` (shares), rows as in the file.

    Raises:
        DataError: the file does not exist, or its name is not a valid symbol.
        MalformedFileError: the file cannot be read as daily OHLCV, its one ticker is refused, or it
            holds several tickers (import those with :func:`import_paths`).
    """
    found = read_price_tables(path, dialect=dialect)
    count = len(found.tables) + len(found.refused)
    if count > 1:
        tickers = [t.ticker or t.symbol for t in found.tables] + [t for t, _ in found.refused]
        raise _malformed(found.path, f"`tickers` must be one per file here but got {count} ({', '.join(map(str, tickers))}): "
                         "import it with `bistlab data import` (import_paths), a symbol per ticker", symbol=None)
    if found.refused:
        raise found.refused[0][1]
    table = found.tables[0]
    return table.symbol, table.frame


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
