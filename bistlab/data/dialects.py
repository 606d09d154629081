"""Number and date dialects of price files, detected from the cells, never guessed.

Two dialects are known: ``en`` (decimal point, thousands comma: ``1,234.56``; month-first dates
``01/31/2024``) and ``tr`` (decimal comma, thousands dot: ``1.234,56``; day-first dates
``31.01.2024``), the way English and Turkish exports (Investing.com, brokers, Excel) write them.
ISO dates (``2024-01-31``, also with a time and a UTC offset) read the same in both.

Each cell tells what it can: ``10,5`` is Turkish, ``10.5`` and ``0.123`` English, ``1.234`` either
(1234 or 1.234), ``1234`` both alike. A file's numbers take the one style its cells allow; cells of
both styles in one column or in one file are refused (naming the columns), and so is a file whose
numbers, or whose dates, read two ways (``01.02.2024``: 1 February or 2 January) unless the user
names the dialect (``bistlab data import --dialect tr|en``). Volumes may carry ``K``, ``M`` or ``B``
(thousand, million, billion: ``12,34M``); ``-`` and empty cells are missing values.

Timezone-aware dates become the exchange's calendar date: a daily bar stamped at midnight in its
own zone (yfinance: ``2024-01-02 00:00:00+03:00``) keeps that date; any other time of day is
taken in :data:`EXCHANGE_TZ` (Borsa Istanbul's zone) first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from bistlab.errors import ConfigError, DataError

__all__ = [
    "DIALECTS",
    "EN",
    "EXCHANGE_TZ",
    "TR",
    "DateOrder",
    "Dialect",
    "NumberStyle",
    "check_dialect",
    "date_order",
    "exchange_dates",
    "number_style",
    "parse_dates",
    "parse_numbers",
]

EXCHANGE_TZ = "Europe/Istanbul"
"""The zone whose calendar date an aware datetime off midnight is given (Borsa Istanbul's)."""


@dataclass(frozen=True)
class Dialect:
    """How a file writes numbers and dates.

    Attributes:
        name: ``"en"`` or ``"tr"``.
        decimal: the decimal mark.
        thousands: the thousands separator.
        day_first: whether ``a.b.YYYY`` / ``a/b/YYYY`` dates put the day first.
    """

    name: str
    decimal: str
    thousands: str
    day_first: bool


EN = Dialect("en", ".", ",", day_first=False)
TR = Dialect("tr", ",", ".", day_first=True)
DIALECTS: dict[str, Dialect] = {"en": EN, "tr": TR}

_MISSING = frozenset({"", "nan", "na", "n/a", "#n/a", "null", "none", "-", "--", "—"})
_SUFFIX = {"k": Decimal(10) ** 3, "m": Decimal(10) ** 6, "b": Decimal(10) ** 9}
_PLAIN = re.compile(r"\d+(?:[eE][+-]?\d+)?|(?i:inf|infinity)")
_EN_NUMBER = re.compile(r"(?:[1-9]\d{0,2}(?:,\d{3})+|\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_TR_NUMBER = re.compile(r"(?:[1-9]\d{0,2}(?:\.\d{3})+|\d*)(?:,\d+)?")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?:[ T].*)?")
_SHORT_YEAR = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2}(?:[ T].*)?")


def check_dialect(value: str | None) -> Dialect | None:
    """The dialect a user named (``"tr"``, ``"en"``, any case), or ``None`` for detection.

    Raises:
        ConfigError: any other value.
    """
    if value is None:
        return None
    found = DIALECTS.get(str(value).strip().lower())
    if found is None:
        raise ConfigError("dialect", f"one of {', '.join(DIALECTS)} (or left out: detected)", value)
    return found


def _text(cells: pd.Series) -> pd.Series:
    """Cells as stripped text (pandas' ``str`` dtype: vectorised), missing cells NaN."""
    return cells.astype("str").str.strip()


def _is_missing(cells: pd.Series) -> pd.Series:
    text = _text(cells)
    return text.isna() | text.str.lower().isin(_MISSING)


def _as_floats(text: pd.Series) -> np.ndarray | None:
    """Plain English numbers (``-3.5``, ``1e12``; no thousands mark, no suffix) as float64, in one
    vectorised, correctly rounded cast; ``None`` if a cell is anything else."""
    if text.str.contains("_", regex=False).any():  # the cast would read '1_0' as 10
        return None
    try:  # arrow's cast: correctly rounded; '1,5', '12M', '-' fail it
        return text.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
    except (ValueError, TypeError):
        return None


def _core(text: str, *, suffixes: bool) -> tuple[str, int, Decimal | None]:
    """A cell without spaces, sign and volume suffix: (digits and marks, sign, multiplier)."""
    core = text.strip().replace("\u00a0", "").replace(" ", "")
    sign = -1 if core.startswith("-") else 1
    core = core[1:] if core[:1] in "+-" else core
    mult = _SUFFIX.get(core[-1:].lower()) if suffixes and core[-1:].isalpha() else None
    return (core[:-1] if mult is not None else core), sign, mult


def _cell_style(text: str, *, suffixes: bool) -> str:
    """``"plain"`` (reads alike in both dialects), ``"en"``, ``"tr"``, ``"both"`` (reads two ways) or ``"bad"``."""
    core, _, _ = _core(text, suffixes=suffixes)
    if _PLAIN.fullmatch(core):
        return "plain"
    en = _EN_NUMBER.fullmatch(core) is not None and any(c.isdigit() for c in core)
    tr = _TR_NUMBER.fullmatch(core) is not None and any(c.isdigit() for c in core)
    return "both" if en and tr else "en" if en else "tr" if tr else "bad"


@dataclass(frozen=True)
class NumberStyle:
    """What the numeric cells of a file say about its dialect.

    Attributes:
        dialect: the one dialect the cells allow, or ``None`` (none tells: see ``two_ways``).
        two_ways: a cell that reads two ways (column, cell, data row), if any.
        examples: per dialect, a cell only it reads (column, cell, data row).
    """

    dialect: Dialect | None
    two_ways: tuple[str, str, int] | None
    examples: dict[str, tuple[str, str, int]]


def _column_styles(name: str, cells: pd.Series, *, suffixes: bool) -> dict[str, tuple[str, str, int]]:
    """Style -> its first cell (column, cell, data row) in one column."""
    present = _text(cells)[~_is_missing(cells)]
    if _as_floats(present) is not None:  # plain English numbers: only '1.234' can read two ways
        dotted = present.str.contains(".", regex=False)
        two_ways = present.str.fullmatch(r"[+-]?[1-9]\d{0,2}\.\d{3}")
        styles = pd.Series(np.where(two_ways, "both", np.where(dotted, "en", "plain")), index=present.index)
    else:
        styles = present.map(lambda text: _cell_style(text, suffixes=suffixes))
    first: dict[str, tuple[str, str, int]] = {}
    for position, (style, text) in enumerate(zip(styles.to_numpy(), present.to_numpy())):
        if style not in first:
            first[style] = (name, text, int(present.index[position]) + 1)
    return first


def number_style(columns: dict[str, pd.Series], *, volume_columns: frozenset[str] = frozenset()) -> NumberStyle:
    """Detect the number dialect of text columns.

    Args:
        columns: column name (as shown in messages) -> its cells as text; row labels are data
            rows counted from 0.
        volume_columns: the names whose cells may end in ``K``, ``M`` or ``B``.

    Returns:
        The dialect the cells allow (or none tells), with examples.

    Raises:
        DataError: a column holds cells of both styles, or two columns hold one style each.
    """
    examples: dict[str, tuple[str, str, int]] = {}
    two_ways = None
    for name, cells in columns.items():
        found = _column_styles(name, cells, suffixes=name in volume_columns)
        if "en" in found and "tr" in found:
            raise DataError(
                f"`{name}` must use one decimal style but got {found['en'][1]!r} (decimal point, data row "
                f"{found['en'][2]}) and {found['tr'][1]!r} (decimal comma, data row {found['tr'][2]})"
            )
        for style in ("en", "tr"):
            if style in found and style not in examples:
                examples[style] = found[style]
        two_ways = two_ways or found.get("both")
    if "en" in examples and "tr" in examples:
        en, tr = examples["en"], examples["tr"]
        raise DataError(
            f"`numbers` must use one decimal style in a file but got {en[1]!r} in `{en[0]}` (decimal point, data row "
            f"{en[2]}) and {tr[1]!r} in `{tr[0]}` (decimal comma, data row {tr[2]})"
        )
    dialect = DIALECTS[next(iter(examples))] if examples else None
    return NumberStyle(dialect=dialect, two_ways=two_ways, examples=examples)


def _to_float(text: str, dialect: Dialect, *, suffixes: bool) -> float:
    """One cell as a number in ``dialect`` (``ValueError`` if it is not one there)."""
    core, sign, mult = _core(text, suffixes=suffixes)
    pattern = _EN_NUMBER if dialect is EN else _TR_NUMBER
    if not (_PLAIN.fullmatch(core) or (pattern.fullmatch(core) and any(c.isdigit() for c in core))):
        raise ValueError(text)
    plain = core.replace(dialect.thousands, "").replace(dialect.decimal, ".")
    if mult is None:
        return sign * float(plain)
    try:
        return sign * float(Decimal(plain) * mult)
    except InvalidOperation as err:
        raise ValueError(text) from err


def parse_numbers(name: str, cells: pd.Series, dialect: Dialect, *, suffixes: bool = False) -> np.ndarray:
    """Read one column in ``dialect``: numbers as they are, text cell by cell (missing -> NaN).

    Args:
        name: the column, for messages.
        cells: the column (numeric, or text; row labels are data rows counted from 0).
        dialect: the file's dialect.
        suffixes: whether cells may end in ``K``, ``M`` or ``B`` (volumes).

    Returns:
        float64 values, correctly rounded from the text (``10,5`` in ``tr`` is exactly 10.5).

    Raises:
        DataError: a cell is not a number in the dialect (the first one, with its data row).
    """
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        return cells.to_numpy(dtype="float64", na_value=np.nan)
    missing = _is_missing(cells).to_numpy()
    if dialect is EN:
        fast = _as_floats(_text(cells).where(~missing))
        if fast is not None:
            return fast
    out = np.full(len(cells), np.nan)
    bad: list[int] = []
    for i, (text, skip) in enumerate(zip(cells.to_numpy(), missing)):
        if skip:
            continue
        try:
            out[i] = _to_float(str(text), dialect, suffixes=suffixes)
        except ValueError:
            bad.append(i)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise DataError(f"`{name}` must be numeric but got {cells.iloc[bad[0]]!r} in data row {bad[0] + 1}{more} (read as dialect {dialect.name})")
    return out


@dataclass(frozen=True)
class DateOrder:
    """What the date cells say about day and month order.

    Attributes:
        day_first: ``True`` / ``False`` when a cell tells (a day above 12), else ``None``.
        two_ways: a cell that reads two ways (cell, data row) when none tells, else ``None``.
        numeric: whether any cell is a numeric ``a.b.YYYY`` date (else: ISO or typed dates).
    """

    day_first: bool | None
    two_ways: tuple[str, int] | None
    numeric: bool


def _numeric_parts(cells: pd.Series) -> pd.DataFrame:
    """``a``, ``b``, ``year`` of the numeric dates (other rows NaN); row labels kept."""
    text = _text(cells)
    out = pd.DataFrame({"a": np.nan, "b": np.nan, "year": np.nan}, index=cells.index)
    candidates = text.str.match(r"\d{1,2}[./-]").fillna(False).to_numpy(dtype=bool)  # ISO dates start with 4 digits
    if candidates.any():
        parts = text[candidates].str.extract(_NUMERIC_DATE.pattern)
        for key, group in (("a", 0), ("b", 2), ("year", 3)):
            out.loc[candidates, key] = pd.to_numeric(parts[group]).to_numpy(dtype="float64")
    return out


def date_order(name: str, cells: pd.Series) -> DateOrder:
    """Detect the day/month order of a date column (ISO and typed dates tell nothing and need nothing).

    Raises:
        DataError: some cells are day-first and others month-first, or a year has two digits.
    """
    if not (pd.api.types.is_object_dtype(cells.dtype) or pd.api.types.is_string_dtype(cells.dtype)):
        return DateOrder(day_first=None, two_ways=None, numeric=False)
    text = _text(cells)
    short = text.str.fullmatch(_SHORT_YEAR.pattern).fillna(False)
    if short.any():
        i = int(np.flatnonzero(short.to_numpy())[0])
        raise DataError(f"`{name}` must have four-digit years but got {text.iloc[i]!r} in data row {i + 1}")
    parts = _numeric_parts(cells).dropna()
    if parts.empty:
        return DateOrder(day_first=None, two_ways=None, numeric=False)
    day_first, month_first = parts[parts["a"] > 12], parts[parts["b"] > 12]
    if len(day_first) and len(month_first):
        d, m = int(day_first.index[0]), int(month_first.index[0])
        raise DataError(
            f"`{name}` must put the day and the month in one order but got {text.loc[d]!r} (day first, data row {d + 1}) "
            f"and {text.loc[m]!r} (month first, data row {m + 1})"
        )
    if len(day_first) or len(month_first):
        return DateOrder(day_first=bool(len(day_first)), two_ways=None, numeric=True)
    differ = parts[parts["a"] != parts["b"]]
    two_ways = (str(text.loc[differ.index[0]]), int(differ.index[0]) + 1) if len(differ) else None
    return DateOrder(day_first=None, two_ways=two_ways, numeric=True)


def parse_dates(name: str, cells: pd.Series, *, day_first: bool) -> pd.DatetimeIndex:
    """Read a date column: numeric dates in the given order, ISO and other text by pandas, aware
    values as the exchange's calendar date (see :func:`exchange_dates`); a cell that is no date is NaT.

    Args:
        name: the column, for messages.
        cells: the column (text, or datetimes; row labels are data rows counted from 0).
        day_first: the order of numeric ``a.b.YYYY`` dates.

    Returns:
        tz-naive midnights, ns, one per cell.
    """
    if not (pd.api.types.is_object_dtype(cells.dtype) or pd.api.types.is_string_dtype(cells.dtype)):
        return exchange_dates(cells)
    parts = _numeric_parts(cells)
    numeric = parts["year"].notna().to_numpy()
    out = pd.Series(pd.NaT, index=range(len(cells)), dtype="datetime64[ns]")
    if numeric.any():
        chosen = parts.loc[numeric]
        fields = {"year": chosen["year"], "month": chosen["b" if day_first else "a"], "day": chosen["a" if day_first else "b"]}
        out.iloc[np.flatnonzero(numeric)] = pd.to_datetime(pd.DataFrame(fields), errors="coerce").to_numpy()
    others = ~numeric & ~_is_missing(cells).to_numpy()
    if others.any():
        out.iloc[np.flatnonzero(others)] = exchange_dates(cells[others]).to_numpy()
    return pd.DatetimeIndex(out.to_numpy()).as_unit("ns")


def _exchange_day(stamp: pd.Timestamp) -> pd.Timestamp:
    """One parsed value as its exchange calendar date (naive midnight)."""
    if pd.isna(stamp):
        return pd.NaT
    if stamp.tz is not None:
        at_midnight = stamp.hour == stamp.minute == stamp.second == 0 and stamp.microsecond == 0
        stamp = (stamp if at_midnight else stamp.tz_convert(EXCHANGE_TZ)).tz_localize(None)
    return stamp.normalize()


def exchange_dates(values: pd.Series | pd.Index) -> pd.DatetimeIndex:
    """Dates, datetimes or date text as naive midnights of the exchange's calendar date.

    An aware value at midnight of its own zone keeps its date (a daily bar as yfinance stamps it,
    ``2024-01-02 00:00:00+03:00``, or ``-05:00`` for a US share); an aware value at any other time
    (a bar converted to UTC: ``2024-01-01 21:00:00+00:00``) is taken in :data:`EXCHANGE_TZ` first
    (2024-01-02). Mixed UTC offsets are read value by value. A value that is no date is NaT.
    """
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(values, errors="coerce"))
    except (ValueError, TypeError):  # mixed offsets: one by one
        parsed = None
    if parsed is not None and parsed.tz is None:
        return pd.DatetimeIndex(parsed.normalize()).as_unit("ns")
    if parsed is not None:
        midnight = (parsed.hour == 0) & (parsed.minute == 0) & (parsed.second == 0) & (parsed.microsecond == 0)
        local = parsed.tz_localize(None)
        istanbul = parsed.tz_convert(EXCHANGE_TZ).tz_localize(None)
        return pd.DatetimeIndex(np.where(midnight, local, istanbul)).normalize().as_unit("ns")
    days = [_exchange_day(pd.to_datetime(v, errors="coerce")) for v in values]
    return pd.DatetimeIndex(days).as_unit("ns")
