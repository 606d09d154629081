"""Atomic files: written to a temporary file in the same folder, then renamed over the target, so a
reader (or a process killed mid-write) never sees a partial file; JSON reading and writing."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from bistlab.core import faults

__all__ = ["atomic_file", "write_json_atomic", "read_json", "read_json_or_none", "to_jsonable"]

logger = logging.getLogger(__name__)


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, non-finite floats as None, tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


@contextlib.contextmanager
def atomic_file(path: Path, *, binary: bool = False, fault_point: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it is synced and renamed over ``path``.

    ``fault_point`` names a :mod:`bistlab.core.faults` point reached between writing and renaming.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        if fault_point:
            faults.point(fault_point)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any, *, fault_point: str | None = None) -> Path:
    """Write ``data`` to ``path`` so that a reader never sees a partial file, even after a kill.

    ``fault_point`` names a :mod:`bistlab.core.faults` point reached between writing and renaming.
    """
    with atomic_file(path, fault_point=fault_point) as fh:
        json.dump(to_jsonable(data), fh, indent=2, sort_keys=False, allow_nan=False)
    return Path(path)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_json_or_none(path: Path | None) -> Any:
    """The JSON in ``path``; ``None`` when it is absent, or unreadable (then a warning names it)."""
    if path is None or not Path(path).exists():
        return None
    try:
        return read_json(path)
    except (OSError, ValueError) as err:
        logger.warning("unreadable %s: %s", path, err)
        return None
