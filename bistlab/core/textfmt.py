"""Numbers as a person reads them on the console and in reports: durations in human units, one
trial count with its meaning everywhere."""

from __future__ import annotations

import math

__all__ = ["duration_text", "trials_text", "TRIALS_MEANING"]

TRIALS_MEANING = "finished trials (complete or pruned) of those requested, then how many were complete, pruned and failed"
"""What :func:`trials_text` says, for column legends and header tooltips."""


def duration_text(seconds: float | None) -> str:
    """``"42 s"``, ``"3.5 min"``, ``"2 h 05 min"``; ``"–"`` when unknown (``None`` or not finite)."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    s = max(0.0, float(seconds))
    if s < 90:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    hours, minutes = divmod(int(round(s / 60)), 60)
    return f"{hours} h {minutes:02d} min"


def trials_text(
    finished: int, requested: int | None, *, complete: int, pruned: int | None = None, failed: int | None = None, empty: int | None = None, total: int | None = None
) -> str:
    """``"12 of 12 (8 complete, 4 pruned, 2 failed, 1 empty mask)"``: the finished trials (complete or
    pruned, what a cycle's trial budget counts) of those requested, then each kind (zeros left out;
    ``empty``: pruned for too few defined DirHits, outside the budget).

    ``pruned`` / ``failed`` unknown (older records): the trials run beyond the complete ones are
    said as such, ``"8 of 12 (8 complete, 14 run)"``.
    """
    head = f"{finished} of {requested}" if requested else f"{finished}"
    parts = [f"{complete} complete"]
    if pruned is None and failed is None:
        if total is not None and total > complete:
            parts.append(f"{total} run")
    else:
        parts += [f"{n} {word}" for n, word in ((pruned, "pruned"), (failed, "failed"), (empty, "empty mask")) if n]
    return f"{head} ({', '.join(parts)})"
