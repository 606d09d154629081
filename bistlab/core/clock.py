"""The one clock of bistlab's records: the current UTC time as ISO 8601 text with seconds
(``2026-12-05T06:37:23+00:00``), for every ``*_at`` field of a state file, a lock's holder and a stop request."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["utcnow"]


def utcnow() -> str:
    """The current UTC time, ISO 8601 with seconds and the ``+00:00`` offset."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
