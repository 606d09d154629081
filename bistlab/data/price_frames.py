"""Raw OHLCV frames in bistlab's standard form, before validation: the standard columns, dates on the wall
clock (tz-naive midnight), numbers, and the data fingerprint of a clean frame on its price basis.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from bistlab.errors import DataError

__all__ = ["PRICE_COLUMNS", "PRICE_BASES", "COLUMNS", "wall_clock_dates", "to_raw_frame", "fingerprint"]


PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")


PRICE_BASES: tuple[str, ...] = ("close", "adj_close")
"""What a stored series' prices are: the file's ``close`` as it is, or scaled to its ``adj_close``
(yfinance's Adj Close: open, high and low times Adj Close / Close, as ``auto_adjust`` does)."""


COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")


_FINGERPRINT_TAG = b"bistlab-ohlcv-v1"


def wall_clock_dates(values: object, *, coerce: bool = False) -> pd.DatetimeIndex:
    """Dates, datetimes or date text as the wall-clock midnights they name (tz-naive, ns).

    An aware value keeps its own date (``2024-01-02 00:00+03:00`` is 2024-01-02, not the UTC
    day before), also when the values carry different UTC offsets, which pandas refuses to mix.

    Args:
        values: a sequence, Series or Index of dates.
        coerce: a value that is not a date becomes NaT (else it raises).

    Raises:
        ValueError, TypeError: a value is not a date (without ``coerce``).
    """
    errors = "coerce" if coerce else "raise"
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(values, errors=errors))
    except (ValueError, TypeError):  # mixed UTC offsets or text formats: each value on its own
        stamps = [pd.to_datetime(v, errors=errors) if v is not None else pd.NaT for v in values]
        dates = pd.DatetimeIndex([t.tz_localize(None) if not pd.isna(t) and t.tz is not None else t for t in stamps])
    if dates.tz is not None:
        dates = dates.tz_localize(None)  # daily bars: keep the exchange's wall-clock date
    return pd.DatetimeIndex(dates.normalize().as_unit("ns"))


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
        return wall_clock_dates(raw_dates)
    except (ValueError, TypeError) as err:  # unparseable, out of the ns range
        raise DataError(f"{symbol}: `date` must hold dates from 1678 to 2261 but got {err}", symbol=symbol) from err


def _raw_numbers(values: pd.Series, column: str, *, symbol: str) -> np.ndarray:
    """One column as float64 (missing values NaN)."""
    try:
        return pd.to_numeric(values, errors="raise").to_numpy(dtype="float64", na_value=np.nan)
    except (ValueError, TypeError) as err:
        raise DataError(f"{symbol}: `{column}` must be numeric but got {err}", symbol=symbol) from err


def fingerprint(frame: pd.DataFrame, *, basis: str = "close") -> str:
    """A short, stable hash of a clean frame's content and of the price basis it was imported on.

    SHA-256 over the dates (int64 ns since the epoch, little-endian) and the OHLCV values
    (float64, little-endian, row-major in :data:`COLUMNS` order; a missing value of a close-only
    series as one NaN), then, for an adjusted series only, ``basis=adj_close``; the same data
    gives the same value in any process, on any machine, and an unadjusted series the value it
    always had.

    Args:
        frame: a clean frame (see :func:`validate_ohlcv`).
        basis: one of :data:`PRICE_BASES`: what the prices are (see :meth:`bistlab.data.store.PriceStore.price_basis`).

    Returns:
        The first 16 hexadecimal characters of the digest.

    Raises:
        DataError: the frame has no ``DatetimeIndex`` or lacks a column; an unknown basis.
    """
    if basis not in PRICE_BASES:
        raise DataError(f"`basis` must be one of {', '.join(PRICE_BASES)} but got {basis!r}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"`frame.index` must be a DatetimeIndex but got {type(frame.index).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"`frame.columns` must include {', '.join(COLUMNS)} but got {list(map(str, frame.columns))}")
    dates = np.ascontiguousarray(frame.index.as_unit("ns").asi8, dtype="<i8")
    values = frame.loc[:, list(COLUMNS)].to_numpy(dtype="float64") + 0.0
    values = np.ascontiguousarray(np.where(np.isnan(values), np.nan, values), dtype="<f8")  # one NaN bit pattern
    digest = hashlib.sha256(_FINGERPRINT_TAG)
    digest.update(dates.tobytes())
    digest.update(values.tobytes())
    if basis != "close":
        digest.update(f"basis={basis}".encode())
    return digest.hexdigest()[:16]
