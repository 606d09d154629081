"""Atomic JSON files: written to a temporary file in the same folder, then renamed over the target."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bistlab import faults

__all__ = ["write_json_atomic", "read_json", "to_jsonable"]


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


def write_json_atomic(path: Path, data: Any, *, fault_point: str | None = None) -> Path:
    """Write ``data`` to ``path`` so that a reader never sees a partial file, even after a kill.

    ``fault_point`` names a :mod:`bistlab.faults` point reached between writing and renaming.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(to_jsonable(data), fh, indent=2, sort_keys=False, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        if fault_point:
            faults.point(fault_point)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
