"""Validation of daily OHLCV frames: the defects real exports have, found, counted and repaired.

A raw frame (as imported, as stored) becomes a *clean* frame: a ``DatetimeIndex`` named
``date`` (tz-naive, midnight, nanosecond resolution, strictly increasing) and float64 columns
``open``, ``high``, ``low``, ``close`` (price units of the source) and ``volume`` (shares).
Every repair is reported as a :class:`Defect`; nothing is dropped silently.

Prices of split-adjusted exports (Yahoo) carry rounding noise of about 1e-15, so price
equalities and orderings are compared with a relative tolerance of :data:`PRICE_RTOL`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bistlab.config import EvalSettings
from bistlab.errors import DataError

__all__ = [
    "COLUMNS",
    "DEFECT_KINDS",
    "MIN_ROWS",
    "PRICE_COLUMNS",
    "PRICE_RTOL",
    "SYMBOL_PATTERN",
    "Defect",
    "ValidationResult",
    "check_symbol",
    "fingerprint",
    "to_raw_frame",
    "too_short",
    "validate_ohlcv",
]

logger = logging.getLogger(__name__)

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
MIN_ROWS: int = EvalSettings().min_rows
PRICE_RTOL: float = 1e-9
SYMBOL_PATTERN: re.Pattern[str] = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")
DEFECT_KINDS: tuple[str, ...] = (
    "duplicate_dates",
    "unsorted_dates",
    "nan_rows",
    "non_positive_prices",
    "placeholder_sessions",
    "inconsistent_range",
)
_MAX_DATES_SHOWN = 5
_FINGERPRINT_TAG = b"bistlab-ohlcv-v1"


@dataclass(frozen=True)
class Defect:
    """One kind of defect found in a frame.

    Attributes:
        kind: one of :data:`DEFECT_KINDS`.
        count: rows concerned.
        detail: one line saying what was found and what was done, with the first dates.
    """

    kind: str
    count: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.count}): {self.detail}"


@dataclass(frozen=True)
class ValidationResult:
    """A clean frame and the defects repaired or reported on the way.

    Attributes:
        frame: the clean frame (see the module docstring).
        defects: defects in the order they were handled; empty for a clean input.
    """

    frame: pd.DataFrame
    defects: tuple[Defect, ...]

    def count(self, kind: str) -> int:
        """Rows concerned by defects of ``kind`` (0 when absent)."""
        return sum(d.count for d in self.defects if d.kind == kind)


def check_symbol(symbol: str) -> str:
    """Return ``symbol`` if it matches :data:`SYMBOL_PATTERN`, else raise :class:`DataError`."""
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.fullmatch(symbol):
        raise DataError(
            f"`symbol` must match {SYMBOL_PATTERN.pattern} but got {symbol!r}",
            symbol=symbol if isinstance(symbol, str) else None,
        )
    return symbol


def to_raw_frame(df: pd.DataFrame, *, symbol: str) -> pd.DataFrame:
    """Standardize a frame's shape without dropping or reordering any row.

    Args:
        df: a frame with a ``DatetimeIndex`` or a ``date`` column, and columns
            ``open``, ``high``, ``low``, ``close``, ``volume`` (other columns are ignored).
        symbol: the symbol, for error messages.

    Returns:
        A new frame: ``DatetimeIndex`` named ``date`` (tz-naive wall time, normalized to
        midnight, ns; may hold NaT, duplicates, any order) and float64 :data:`COLUMNS`.

    Raises:
        DataError: a column is missing, or dates or values cannot be converted.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{symbol}: `columns` must include {', '.join(COLUMNS)} but got {list(map(str, df.columns))} "
            f"(missing: {', '.join(missing)})",
            symbol=symbol,
        )
    dates = _raw_dates(df, symbol=symbol)
    values = {column: _raw_numbers(df[column], column, symbol=symbol) for column in COLUMNS}
    return pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))


def _raw_dates(df: pd.DataFrame, *, symbol: str) -> pd.DatetimeIndex:
    """The ``date`` column (else the ``DatetimeIndex``) as tz-naive wall-clock midnights, ns."""
    if "date" in df.columns:
        raw_dates = df["date"]
    elif isinstance(df.index, pd.DatetimeIndex):
        raw_dates = df.index
    else:
        raise DataError(
            f"{symbol}: `index` must be a DatetimeIndex or the frame must have a 'date' column "
            f"but got {type(df.index).__name__}",
            symbol=symbol,
        )
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(raw_dates))
        if dates.tz is not None:
            dates = dates.tz_localize(None)  # daily bars: keep the exchange's wall-clock date
        return dates.normalize().as_unit("ns")
    except (ValueError, TypeError) as err:  # unparseable, mixed offsets, out of the ns range
        raise DataError(f"{symbol}: `date` must hold dates from 1678 to 2261 but got {err}", symbol=symbol) from err


def _raw_numbers(values: pd.Series, column: str, *, symbol: str) -> np.ndarray:
    """One column as float64 (missing values NaN)."""
    try:
        return pd.to_numeric(values, errors="raise").to_numpy(dtype="float64", na_value=np.nan)
    except (ValueError, TypeError) as err:
        raise DataError(f"{symbol}: `{column}` must be numeric but got {err}", symbol=symbol) from err


def _rows(count: int, noun: str = "row") -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _dates_text(index: pd.DatetimeIndex) -> str:
    shown = [str(d.date()) if not pd.isna(d) else "NaT" for d in index[:_MAX_DATES_SHOWN]]
    more = len(index) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) <= PRICE_RTOL * np.maximum(np.abs(a), np.abs(b))


# The repair steps of validate_ohlcv, in order: each takes the frame and gives it back (repaired)
# with the defect it found, or None.
_Step = Callable[[pd.DataFrame], tuple[pd.DataFrame, Defect | None]]


def _keep_last_per_date(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    dup = frame.index.duplicated(keep="last")
    if not dup.any():
        return frame, None
    detail = (
        f"{_rows(int(dup.sum()))} on a date seen again later dropped (last kept): "
        f"{_dates_text(frame.index[dup].unique())}"
    )
    return frame.loc[~dup], Defect("duplicate_dates", int(dup.sum()), detail)


def _sort_by_date(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    i8 = frame.index.asi8
    n_desc = int((np.diff(i8) < 0).sum())
    if not n_desc:
        return frame, None
    defect = Defect("unsorted_dates", n_desc, f"{_rows(n_desc)} dated before the row above; rows sorted")
    return frame.iloc[np.argsort(i8, kind="stable")], defect


def _drop_missing(frame: pd.DataFrame, *, undated: int) -> tuple[pd.DataFrame, Defect | None]:
    """Rows with a NaN or infinite price dropped, missing volumes set to 0; ``undated`` rows
    already dropped are counted in the same ``nan_rows`` defect."""
    prices = frame.loc[:, list(PRICE_COLUMNS)].to_numpy()
    bad_price = ~np.isfinite(prices).all(axis=1)
    bad_volume = ~np.isfinite(frame["volume"].to_numpy()) & ~bad_price
    n_nan = int(bad_price.sum()) + int(bad_volume.sum()) + undated
    if not n_nan:
        return frame, None
    parts = []
    if undated:
        parts.append(f"{_rows(undated)} without a date dropped")
    if bad_price.any():
        parts.append(f"{_rows(int(bad_price.sum()))} with NaN or infinite prices dropped: "
                     f"{_dates_text(frame.index[bad_price])}")
    if bad_volume.any():
        parts.append(f"{_rows(int(bad_volume.sum()), 'missing volume')} set to 0: "
                     f"{_dates_text(frame.index[bad_volume])}")
        volume = frame["volume"].to_numpy(copy=True)
        volume[bad_volume] = 0.0
        frame = frame.assign(volume=volume)
    return frame.loc[~bad_price], Defect("nan_rows", n_nan, "; ".join(parts))


def _drop_non_positive(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    non_pos = (frame.loc[:, list(PRICE_COLUMNS)].to_numpy() <= 0).any(axis=1)
    if not non_pos.any():
        return frame, None
    detail = f"{_rows(int(non_pos.sum()))} with a price <= 0 dropped: {_dates_text(frame.index[non_pos])}"
    return frame.loc[~non_pos], Defect("non_positive_prices", int(non_pos.sum()), detail)


def _drop_placeholders(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    o, h, lo, c = (frame[col].to_numpy() for col in PRICE_COLUMNS)
    placeholder = _close(o, h) & _close(o, lo) & _close(o, c) & (frame["volume"].to_numpy() == 0)
    if not placeholder.any():
        return frame, None
    detail = (
        f"{_rows(int(placeholder.sum()), 'session')} with open = high = low = close and volume 0 "
        f"dropped: {_dates_text(frame.index[placeholder])}"
    )
    return frame.loc[~placeholder], Defect("placeholder_sessions", int(placeholder.sum()), detail)


def _report_bad_range(frame: pd.DataFrame) -> tuple[pd.DataFrame, Defect | None]:
    """Rows whose high/low do not bracket open and close: reported, kept."""
    o, h, lo, c = (frame[col].to_numpy() for col in PRICE_COLUMNS)
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    bad_range = ((h < top) & ~_close(h, top)) | ((lo > bottom) & ~_close(lo, bottom))
    if not bad_range.any():
        return frame, None
    detail = (
        f"{_rows(int(bad_range.sum()))} with high < max(open, close) or low > min(open, close) "
        f"kept: {_dates_text(frame.index[bad_range])}"
    )
    return frame, Defect("inconsistent_range", int(bad_range.sum()), detail)


def validate_ohlcv(df: pd.DataFrame, *, symbol: str) -> ValidationResult:
    """Find, count and repair the defects of one symbol's daily OHLCV.

    Steps, in order (each reported as a :class:`Defect` when it finds anything):
    rows with a missing date are dropped (``nan_rows``); ``duplicate_dates``: the last row of
    each date (in input order) is kept; ``unsorted_dates``: rows are sorted; ``nan_rows``: rows
    with a NaN or infinite open/high/low/close are dropped, a missing volume becomes 0;
    ``non_positive_prices``: rows with any price <= 0 are dropped; ``placeholder_sessions``:
    rows with open = high = low = close and volume 0 (an exchange's filler, e.g. BIST
    2020-03-11) are dropped; ``inconsistent_range``: high below max(open, close) or low above
    min(open, close), beyond :data:`PRICE_RTOL`, is reported and kept.

    Args:
        df: raw frame, see :func:`to_raw_frame`. Never modified.
        symbol: the symbol, for messages.

    Returns:
        The clean frame and its defects. Deterministic: the same input gives the same result.

    Raises:
        DataError: the frame lacks a column or its dates or values cannot be converted.
    """
    frame = to_raw_frame(df, symbol=symbol)
    nat = np.asarray(frame.index.isna())
    undated = int(nat.sum())
    if undated:
        frame = frame.loc[~nat]
    steps: tuple[_Step, ...] = (
        _keep_last_per_date,
        _sort_by_date,
        functools.partial(_drop_missing, undated=undated),
        _drop_non_positive,
        _drop_placeholders,
        _report_bad_range,
    )
    defects: list[Defect] = []
    for step in steps:
        frame, defect = step(frame)
        if defect is not None:
            defects.append(defect)
    frame = frame.copy()  # own the data: no view of the caller's frame escapes
    if defects:
        logger.debug("%s: %s", symbol, "; ".join(map(str, defects)))
    return ValidationResult(frame=frame, defects=tuple(defects))


def fingerprint(frame: pd.DataFrame) -> str:
    """A short, stable hash of a clean frame's content.

    SHA-256 over the dates (int64 ns since the epoch, little-endian) and the OHLCV values
    (float64, little-endian, row-major in :data:`COLUMNS` order); the same data gives the same
    value in any process, on any machine.

    Args:
        frame: a clean frame (see :func:`validate_ohlcv`).

    Returns:
        The first 16 hexadecimal characters of the digest.

    Raises:
        DataError: the frame has no ``DatetimeIndex`` or lacks a column.
    """
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"`frame.index` must be a DatetimeIndex but got {type(frame.index).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"`frame.columns` must include {', '.join(COLUMNS)} but got {list(map(str, frame.columns))}")
    dates = np.ascontiguousarray(frame.index.as_unit("ns").asi8, dtype="<i8")
    values = np.ascontiguousarray(frame.loc[:, list(COLUMNS)].to_numpy(dtype="float64") + 0.0, dtype="<f8")
    digest = hashlib.sha256(_FINGERPRINT_TAG)
    digest.update(dates.tobytes())
    digest.update(values.tobytes())
    return digest.hexdigest()[:16]


def too_short(frame: pd.DataFrame) -> bool:
    """Whether a clean frame has fewer than :data:`MIN_ROWS` rows (too short for HPO)."""
    return len(frame) < MIN_ROWS
