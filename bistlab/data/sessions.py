"""Exchange sessions: which calendar a daily series follows, the sessions it lacks, the rows it has
on days the exchange did not trade, and long gaps where no calendar applies.

The calendars are ``exchange_calendars``' (offline), built once per process from
:data:`CALENDAR_START` and kept (:func:`exchange_sessions`); every check is vectorised over the
series' dates. ``$BISTLAB_CALENDAR`` chooses the calendar (:func:`calendar_for`): ``auto`` (the
default), an exchange code such as ``XIST``, or ``none``. Nothing here drops or fills a row: it
reports, and :mod:`bistlab.data.validate` turns the reports into defects.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bistlab.errors import ConfigError

__all__ = [
    "AUTO",
    "AUTO_OFF_SESSION_SHARE",
    "CALENDAR_ENV",
    "CALENDAR_START",
    "ISTANBUL",
    "MAX_GAP_DAYS",
    "MissingRun",
    "calendar_for",
    "calendar_setting",
    "check_setting",
    "exchange_sessions",
    "long_gaps",
    "missing_runs",
    "off_session_rows",
]

CALENDAR_ENV = "BISTLAB_CALENDAR"
AUTO = "auto"
ISTANBUL = "XIST"
CALENDAR_START = "1990-01-01"
AUTO_OFF_SESSION_SHARE = 0.01
"""``auto``: a series is an Istanbul one when at most this share of its weekday rows (within the
calendar) fall on XIST holidays. The project's 21 BIST files: 0.07 %; S&P 500, NASDAQ, GOOG: 3.3 to 3.4 %."""
MAX_GAP_DAYS = 14
"""Without a calendar: consecutive rows further apart than this many calendar days are a gap."""
_OFF = ("none", "off", "")


@dataclass(frozen=True)
class MissingRun:
    """Consecutive sessions of a calendar without a row.

    Attributes:
        first, last: the first and last missing session.
        count: sessions missing in the run.
    """

    first: pd.Timestamp
    last: pd.Timestamp
    count: int

    def __str__(self) -> str:
        if self.count == 1:
            return str(self.first.date())
        return f"{self.count} sessions {self.first.date()} … {self.last.date()}"


def calendar_setting() -> str:
    """``$BISTLAB_CALENDAR`` (``auto`` when unset)."""
    return (os.environ.get(CALENDAR_ENV) or AUTO).strip()


@functools.lru_cache(maxsize=8)
def exchange_sessions(name: str) -> pd.DatetimeIndex:
    """The sessions of calendar ``name`` from :data:`CALENDAR_START` to about a year ahead (tz-naive, ns).

    Raises:
        ConfigError: ``exchange_calendars`` has no such calendar.
    """
    # Imported here: only date checks need it (about 0.1 s, and its calendars are built on demand).
    import exchange_calendars as xcals

    try:
        with warnings.catch_warnings():  # exchange_calendars 4.x builds its schedule with APIs pandas deprecates
            warnings.simplefilter("ignore", DeprecationWarning)
            calendar = xcals.get_calendar(name, start=CALENDAR_START)
    except xcals.errors.InvalidCalendarName as err:
        raise ConfigError(CALENDAR_ENV, "'auto', 'none' or an exchange_calendars code such as 'XIST'", name) from err
    sessions = pd.DatetimeIndex(calendar.sessions)
    return (sessions.tz_localize(None) if sessions.tz is not None else sessions).as_unit("ns")


def check_setting(setting: str | None = None) -> str:
    """``setting`` (default :func:`calendar_setting`), checked: ``auto``, ``none``/``off`` or a known calendar.

    Raises:
        ConfigError: naming ``BISTLAB_CALENDAR`` and the value.
    """
    setting = calendar_setting() if setting is None else setting.strip()
    if setting.lower() not in (*_OFF, AUTO):
        exchange_sessions(setting.upper())
    return setting


def _within(dates: pd.DatetimeIndex, sessions: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray((dates >= sessions[0]) & (dates <= sessions[-1]))


def calendar_for(dates: pd.DatetimeIndex, setting: str | None = None) -> str | None:
    """The calendar a series with these dates is checked against, or ``None`` for none.

    Args:
        dates: the series' dates (tz-naive midnights).
        setting: ``auto``, ``none``/``off`` or a calendar code; default :func:`calendar_setting`.

    Raises:
        ConfigError: ``setting`` names no calendar ``exchange_calendars`` knows.
    """
    setting = check_setting(setting)
    if setting.lower() in _OFF:
        return None
    if setting.lower() != AUTO:
        return setting.upper()
    sessions = exchange_sessions(ISTANBUL)
    weekdays = dates[_within(dates, sessions) & np.asarray(dates.day_of_week < 5)]
    if len(weekdays) == 0:
        return None
    off_share = float(np.mean(~weekdays.isin(sessions)))
    return ISTANBUL if off_share <= AUTO_OFF_SESSION_SHARE else None


def off_session_rows(dates: pd.DatetimeIndex, calendar: str) -> np.ndarray:
    """A mask of the rows dated on a day ``calendar`` did not trade (weekends, holidays); rows
    outside the calendar's range are not judged (False)."""
    sessions = exchange_sessions(calendar)
    return _within(dates, sessions) & ~np.asarray(dates.isin(sessions))


def missing_runs(dates: pd.DatetimeIndex, calendar: str) -> list[MissingRun]:
    """The runs of ``calendar``'s sessions between the first and last of ``dates`` that have no row.

    Args:
        dates: sorted, unique dates of a series.
        calendar: a calendar code.
    """
    if len(dates) == 0:
        return []
    sessions = exchange_sessions(calendar)
    inside = sessions[(sessions >= dates[0]) & (sessions <= dates[-1])]
    positions = np.flatnonzero(~np.asarray(inside.isin(dates)))
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > 1) + 1
    starts, ends = np.r_[0, breaks], np.r_[breaks, positions.size]
    return [MissingRun(inside[positions[a]], inside[positions[b - 1]], int(b - a)) for a, b in zip(starts, ends)]


def long_gaps(dates: pd.DatetimeIndex, *, max_days: int = MAX_GAP_DAYS) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Consecutive rows of sorted ``dates`` more than ``max_days`` calendar days apart, as (before, after)."""
    if len(dates) < 2:
        return []
    days = np.diff(dates.asi8) / 86_400e9
    return [(dates[i], dates[i + 1]) for i in np.flatnonzero(days > max_days)]
