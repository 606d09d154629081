"""The layouts of price files: what a file holds, ticker by ticker, before its numbers and dates are read.

- A flat CSV: one header row naming the columns, one symbol (named by the file). Names are matched
  ignoring case and Turkish letters: ``Date``/``Datetime``/``Tarih``; ``Open``/``Açılış``;
  ``High``/``Yüksek``; ``Low``/``Düşük``; ``Close``/``Kapanış``/``Şimdi``/``Son`` (and
  Investing.com's ``Price``); ``Adj Close``; ``Volume``/``Vol.``/``Hacim``/``Hac.``. Other columns
  (``Fark %``, ``Change %``, ``Dividends`` ...) are ignored. The separator (``,``, ``;`` or tab) is
  read from the header row.
- yfinance's multi-level CSV (``yf.download(...).to_csv()``): a ``Price`` row naming the fields and a
  ``Ticker`` row naming the tickers, in either order (``group_by="ticker"`` writes ``Ticker``
  first), then the index name row (``Date,,,``); one ticker or several. A lone ``Price`` row over
  ``Date,,,`` (a one-ticker frame without the ticker level) is a flat file.
- Parquet written by pandas: flat columns (the date a column or the index), or yfinance's
  MultiIndex columns, (Price, Ticker) or (Ticker, Price).

Nothing here reads a number or a date: :mod:`bistlab.data.dialects` does, for the whole file at once.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bistlab.errors import DataError

__all__ = [
    "DATE_NAMES",
    "FIELDS",
    "RawTable",
    "TickerColumns",
    "field_of",
    "read_csv_table",
    "read_parquet_table",
]

FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
"""The fields a file's columns can name (anything else is ignored)."""
DATE_NAMES = frozenset({"date", "datetime", "tarih"})
_ALIASES: dict[str, str] = {
    **{name: "open" for name in ("open", "acilis")},
    **{name: "high" for name in ("high", "yuksek")},
    **{name: "low" for name in ("low", "dusuk")},
    **{name: "close" for name in ("close", "kapanis", "simdi", "son")},
    **{name: "adj_close" for name in ("adj close", "adj_close", "adjclose", "adjusted close")},
    **{name: "volume" for name in ("volume", "vol", "vol.", "hacim", "hac", "hac.")},
}
_FLAT_ONLY = {"price": "close"}  # Investing.com's English export calls the close "Price"
_LEVELS = ("price", "ticker")
_FOLD = str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosucgiosu")
_SEPARATORS = (",", ";", "\t")
_ENCODINGS = ("utf-8-sig", "cp1254")  # cp1254: Turkish Windows, as Excel saves a CSV there


def _fold(name: object) -> str:
    return " ".join(str(name).translate(_FOLD).lower().split())


def field_of(name: object, *, flat: bool = True) -> str | None:
    """The field a column name means (``"Açılış"`` -> ``"open"``), or ``None`` for a column to ignore."""
    folded = _fold(name)
    return _ALIASES.get(folded) or (_FLAT_ONLY.get(folded) if flat else None)


@dataclass(frozen=True)
class TickerColumns:
    """One ticker's columns in a file.

    Attributes:
        ticker: the ticker as the file names it (``None``: a flat file, named by its file).
        names: every column name the ticker has in the file, in order (for messages).
        fields: field -> (the column's name in the file, its cells; row labels: data rows from 0).
    """

    ticker: str | None
    names: tuple[str, ...]
    fields: dict[str, tuple[str, pd.Series]]


@dataclass(frozen=True)
class RawTable:
    """A price file's cells, before numbers and dates are read.

    Attributes:
        layout: the layout in words, for the import line (``"yfinance CSV (Price/Ticker header)"``).
        header: what the header is, for messages (``"a 3-line multi-level header (Price / Ticker / Date)"``).
        date_name: the date column's name in the file (``None``: none, then ``dates`` is all missing).
        dates: the date cells (text, or datetimes from Parquet), one per data row, row labels from 0.
        tickers: each ticker's columns, in the file's order.
        multi_level: whether the file is yfinance's multi-level layout (a ticker per symbol).
    """

    layout: str
    header: str
    date_name: str | None
    dates: pd.Series
    tickers: tuple[TickerColumns, ...]
    multi_level: bool

    @property
    def n_rows(self) -> int:
        """Data rows."""
        return len(self.dates)


def _decode(path: Path) -> tuple[str, str]:
    """The file's text and its encoding (UTF-8, else Turkish Windows cp1254)."""
    data = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError("`encoding` must be UTF-8 or cp1254 but got bytes neither decodes")  # cp1254 decodes most bytes


def _separator(text: str) -> str:
    """The separator that splits the first non-empty line into the most cells (``,`` on a tie)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {sep: len(next(csv.reader([line], delimiter=sep), [])) for sep in _SEPARATORS}
    return max(_SEPARATORS, key=lambda sep: (counts[sep], -_SEPARATORS.index(sep)))


def _csv_rows(path: Path) -> tuple[list[list[str]], str]:
    """The non-empty rows of a CSV file and a note on how it was read (separator, encoding)."""
    text, encoding = _decode(path)
    sep = _separator(text)
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=sep) if any(cell.strip() for cell in row)]
    notes = [f"{sep!r}-separated"] if sep != "," else []
    notes += [encoding] if encoding != "utf-8-sig" else []
    return rows, (f" ({', '.join(notes)})" if notes else "")


def _cells(rows: list[list[str]], width: int) -> pd.DataFrame:
    """Data rows as text cells, ``width`` columns (short rows padded with empty cells)."""
    for i, row in enumerate(rows):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise DataError(f"`row` must have at most {width} cells, as the header has, but got {len(row)} in data row {i + 1}")
    padded = [(row + [""] * width)[:width] for row in rows]
    return pd.DataFrame(padded, columns=range(width), dtype="str")


def _index_name_row(row: list[str] | None) -> bool:
    """Whether a row is pandas' index name row under a multi-level header (``Date,,,``)."""
    if row is None:
        return False
    return (_fold(row[0]) in DATE_NAMES or not row[0].strip()) and not any(cell.strip() for cell in row[1:])


def _levels(rows: list[list[str]]) -> list[str]:
    """The labels of yfinance's header rows at the top (``["price", "ticker"]``, either order, or ``["price"]``)."""
    first = [_fold(row[0]) for row in rows[:2]]
    if not first or first[0] not in _LEVELS:
        return []
    if len(first) > 1 and first[1] in _LEVELS and first[1] != first[0]:
        return first[:2]
    if first[0] == "price" and _index_name_row(rows[1] if len(rows) > 1 else None):
        return ["price"]
    after = repr(rows[1][0].strip()) if len(rows) > 1 else "nothing"
    raise DataError(
        f"`header` must be one row naming the columns or yfinance's Price and Ticker rows but got a "
        f"{rows[0][0].strip()!r} row followed by {after}"
    )


def _flat_columns(names: list[str], cells: pd.DataFrame, *, skip: int | None) -> TickerColumns:
    """A flat file's one ticker: each named column that means a field (column ``skip``: the date)."""
    fields: dict[str, tuple[str, pd.Series]] = {}
    for j, name in enumerate(names):
        field = None if j == skip else field_of(name)
        if field is None:
            continue
        if field in fields:
            raise DataError(f"`columns` must name each field once but got {fields[field][0]!r} and {name!r} for {field}")
        fields[field] = (name.strip(), cells[j])
    return TickerColumns(ticker=None, names=tuple(n.strip() for n in names), fields=fields)


def _date_column(names: list[str]) -> int | None:
    found = [j for j, name in enumerate(names) if _fold(name) in DATE_NAMES]
    if len(found) > 1:
        raise DataError(f"`columns` must name one date column but got {[names[j] for j in found]}")
    return found[0] if found else None


def _flat_csv(rows: list[list[str]], note: str) -> RawTable:
    names = [cell.strip() for cell in rows[0]]
    lower = [name.lower() for name in names]
    repeated = sorted({n for n in lower if n and lower.count(n) > 1})
    if repeated:
        raise DataError(f"`columns` must be unique (ignoring case) but got {names} (repeated: {repeated})")
    cells = _cells(rows[1:], len(names))
    date_j = _date_column(names)
    dates = cells[date_j] if date_j is not None else pd.Series([None] * len(cells), dtype=object)
    return RawTable(layout=f"CSV{note}", header="one header row", date_name=names[date_j] if date_j is not None else None,
                    dates=dates, tickers=(_flat_columns(names, cells, skip=date_j),), multi_level=False)


def _group_tickers(pairs: list[tuple[str, str]], cells: pd.DataFrame, *, flat: bool) -> tuple[TickerColumns, ...]:
    """Columns ``1 ..`` grouped by ticker: ``pairs[j - 1]`` is column j's (field label, ticker)."""
    by_ticker: dict[str, list[int]] = {}
    for j, (_, ticker) in enumerate(pairs, start=1):
        by_ticker.setdefault(ticker, []).append(j)
    out = []
    for ticker, columns in by_ticker.items():
        names = [pairs[j - 1][0] for j in columns]
        sub = cells[[*columns]].set_axis(range(len(columns)), axis=1)
        one = _flat_columns(names, sub, skip=None)
        out.append(TickerColumns(ticker=None if flat else ticker, names=one.names, fields=one.fields))
    return tuple(out)


def _yfinance_csv(rows: list[list[str]], levels: list[str], note: str) -> RawTable:
    width = max(len(row) for row in rows[: len(levels)])
    header = [(row + [""] * width)[:width] for row in rows[: len(levels)]]
    has_name_row = _index_name_row(rows[len(levels)] if len(rows) > len(levels) else None)
    start = len(levels) + has_name_row
    date_name = rows[len(levels)][0].strip() if has_name_row and rows[len(levels)][0].strip() else "Date"
    labels = " / ".join([row[0].strip() for row in rows[: len(levels)]] + ([date_name] if has_name_row else []))
    described = f"a {start}-line multi-level header ({labels}, as yfinance writes)"
    cells = _cells(rows[start:], width)
    if levels == ["price"]:
        pairs = [(cell.strip(), "") for cell in header[0][1:]]
    else:
        price, ticker = header[levels.index("price")], header[levels.index("ticker")]
        pairs = [(p.strip(), t.strip()) for p, t in zip(price[1:], ticker[1:])]
    flat = levels == ["price"]
    kind = "yfinance CSV (Price header)" if flat else f"yfinance CSV ({'/'.join(w.capitalize() for w in levels)} header)"
    return RawTable(layout=kind + note, header=described, date_name=date_name, dates=cells[0],
                    tickers=_group_tickers(pairs, cells, flat=flat), multi_level=not flat)


def read_csv_table(path: Path) -> RawTable:
    """Read a CSV file's cells as text and find its layout (flat or yfinance's multi-level header).

    Raises:
        DataError: an empty file, a header that is neither layout, repeated columns, a row longer
            than the header (messages without the file name: the caller adds it).
    """
    rows, note = _csv_rows(path)
    if not rows:
        raise DataError("`file` must hold a header naming Date, Open, High, Low, Close, Volume and data rows but got an empty file")
    levels = _levels(rows)
    return _yfinance_csv(rows, levels, note) if levels else _flat_csv(rows, note)


def _parquet_levels(columns: pd.MultiIndex) -> tuple[int, int]:
    """(price level, ticker level) of yfinance's MultiIndex columns: by the levels' names, else by content."""
    names = [_fold(name) for name in columns.names]
    if sorted(names) == ["price", "ticker"]:
        return names.index("price"), names.index("ticker")
    means = [all(field_of(v, flat=False) or _fold(v) in DATE_NAMES or not str(v) for v in columns.get_level_values(i)) for i in (0, 1)]
    if means[0] != means[1]:
        return (0, 1) if means[0] else (1, 0)
    raise DataError(f"`columns` must be yfinance's two levels (Price, Ticker), in either order, but got levels {list(columns.names)}")


def _multi_parquet(table: pd.DataFrame) -> RawTable:
    if table.columns.nlevels != 2:
        raise DataError(f"`columns` must be one level or yfinance's two (Price, Ticker) but got {table.columns.nlevels} levels")
    price, ticker = _parquet_levels(table.columns)
    pairs = [(str(c[price]), str(c[ticker])) for c in table.columns]
    date_cols = [j for j, (p, _) in enumerate(pairs) if _fold(p) in DATE_NAMES]
    if date_cols:
        dates, date_name = table.iloc[:, date_cols[0]].reset_index(drop=True), pairs[date_cols[0]][0]
    elif not isinstance(table.index, pd.RangeIndex):
        dates, date_name = pd.Series(table.index, dtype=table.index.dtype), str(table.index.name or "Date")
    else:
        dates, date_name = pd.Series([None] * len(table), dtype=object), None
    keep = [j for j in range(len(pairs)) if j not in date_cols]
    cells = table.iloc[:, keep].reset_index(drop=True).set_axis(range(1, len(keep) + 1), axis=1)
    order = "Price/Ticker" if price < ticker else "Ticker/Price"
    return RawTable(layout=f"yfinance Parquet ({order} columns)", header=f"MultiIndex columns ({order})", date_name=date_name,
                    dates=dates, tickers=_group_tickers([pairs[j] for j in keep], cells, flat=False), multi_level=True)


def read_parquet_table(path: Path) -> RawTable:
    """Read a Parquet file written by pandas and find its layout (flat, or yfinance's MultiIndex columns).

    Raises:
        DataError: columns of more than two levels, or two levels that are not Price and Ticker.
        ValueError, OSError: the file is not Parquet (pyarrow's errors, for the caller to wrap).
    """
    table = pd.read_parquet(path)
    if isinstance(table.columns, pd.MultiIndex):
        return _multi_parquet(table)
    if not isinstance(table.index, pd.RangeIndex):
        table = table.reset_index(names=table.index.name or "date")
    names = [str(c).strip() for c in table.columns]
    lower = [n.lower() for n in names]
    repeated = sorted({n for n in lower if lower.count(n) > 1})
    if repeated:
        raise DataError(f"`columns` must be unique (ignoring case) but got {names} (repeated: {repeated})")
    cells = table.reset_index(drop=True).set_axis(range(len(names)), axis=1)
    date_j = _date_column(names)
    dates = cells[date_j] if date_j is not None else pd.Series([None] * len(cells), dtype=object)
    return RawTable(layout="Parquet", header="one level of columns", date_name=names[date_j] if date_j is not None else None,
                    dates=dates, tickers=(_flat_columns(names, cells, skip=date_j),), multi_level=False)
