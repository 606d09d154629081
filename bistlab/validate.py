"""Validation of daily OHLCV frames: the defects real exports have, found, counted and repaired.

A raw frame (as imported, as stored) becomes a *clean* frame: a ``DatetimeIndex`` named
``date`` (tz-naive, midnight, nanosecond resolution, strictly increasing) and float64 columns
``open``, ``high``, ``low``, ``close`` (price units of the source) and ``volume`` (shares).
Every repair is reported as a :class:`Defect`; nothing is dropped silently.

Prices of split-adjusted exports (Yahoo) carry rounding noise of about 1e-15, so price
equalities and orderings are compared with a relative tolerance of :data:`PRICE_RTOL`.
"""

from __future__ import annotations

import hashlib
import logging
import re
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
        dates = dates.normalize().as_unit("ns")
    except (ValueError, TypeError) as err:  # unparseable, mixed offsets, out of the ns range
        raise DataError(f"{symbol}: `date` must hold dates from 1678 to 2261 but got {err}", symbol=symbol) from err
    values: dict[str, np.ndarray] = {}
    for column in COLUMNS:
        try:
            values[column] = pd.to_numeric(df[column], errors="raise").to_numpy(dtype="float64", na_value=np.nan)
        except (ValueError, TypeError) as err:
            raise DataError(f"{symbol}: `{column}` must be numeric but got {err}", symbol=symbol) from err
    return pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))


def _rows(count: int, noun: str = "row") -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _dates_text(index: pd.DatetimeIndex) -> str:
    shown = [str(d.date()) if not pd.isna(d) else "NaT" for d in index[:_MAX_DATES_SHOWN]]
    more = len(index) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) <= PRICE_RTOL * np.maximum(np.abs(a), np.abs(b))


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
    defects: list[Defect] = []

    nat = np.asarray(frame.index.isna())
    n_nat = int(nat.sum())
    if n_nat:
        frame = frame.loc[~nat]

    dup = frame.index.duplicated(keep="last")
    if dup.any():
        defects.append(
            Defect("duplicate_dates", int(dup.sum()),
                   f"{_rows(int(dup.sum()))} on a date seen again later dropped (last kept): "
                   f"{_dates_text(frame.index[dup].unique())}")
        )
        frame = frame.loc[~dup]

    i8 = frame.index.asi8
    n_desc = int((np.diff(i8) < 0).sum())
    if n_desc:
        defects.append(Defect("unsorted_dates", n_desc, f"{_rows(n_desc)} dated before the row above; rows sorted"))
        frame = frame.iloc[np.argsort(i8, kind="stable")]

    prices = frame.loc[:, list(PRICE_COLUMNS)].to_numpy()
    bad_price = ~np.isfinite(prices).all(axis=1)
    bad_volume = ~np.isfinite(frame["volume"].to_numpy()) & ~bad_price
    n_nan = int(bad_price.sum()) + int(bad_volume.sum()) + n_nat
    if n_nan:
        parts = []
        if n_nat:
            parts.append(f"{_rows(n_nat)} without a date dropped")
        if bad_price.any():
            parts.append(f"{_rows(int(bad_price.sum()))} with NaN or infinite prices dropped: "
                         f"{_dates_text(frame.index[bad_price])}")
        if bad_volume.any():
            parts.append(f"{_rows(int(bad_volume.sum()), 'missing volume')} set to 0: "
                         f"{_dates_text(frame.index[bad_volume])}")
        defects.append(Defect("nan_rows", n_nan, "; ".join(parts)))
        if bad_volume.any():
            volume = frame["volume"].to_numpy(copy=True)
            volume[bad_volume] = 0.0
            frame = frame.assign(volume=volume)
        frame = frame.loc[~bad_price]

    prices = frame.loc[:, list(PRICE_COLUMNS)].to_numpy()
    non_pos = (prices <= 0).any(axis=1)
    if non_pos.any():
        defects.append(Defect("non_positive_prices", int(non_pos.sum()),
                              f"{_rows(int(non_pos.sum()))} with a price <= 0 dropped: "
                              f"{_dates_text(frame.index[non_pos])}"))
        frame = frame.loc[~non_pos]

    o, h, lo, c = (frame[col].to_numpy() for col in PRICE_COLUMNS)
    placeholder = _close(o, h) & _close(o, lo) & _close(o, c) & (frame["volume"].to_numpy() == 0)
    if placeholder.any():
        defects.append(Defect("placeholder_sessions", int(placeholder.sum()),
                              f"{_rows(int(placeholder.sum()), 'session')} with open = high = low = close and volume 0 "
                              f"dropped: {_dates_text(frame.index[placeholder])}"))
        frame = frame.loc[~placeholder]

    o, h, lo, c = (frame[col].to_numpy() for col in PRICE_COLUMNS)
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    bad_range = ((h < top) & ~_close(h, top)) | ((lo > bottom) & ~_close(lo, bottom))
    if bad_range.any():
        defects.append(Defect("inconsistent_range", int(bad_range.sum()),
                              f"{_rows(int(bad_range.sum()))} with high < max(open, close) or low > min(open, close) "
                              f"kept: {_dates_text(frame.index[bad_range])}"))

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
