"""Reproducibility facts for the report: bistlab's version and source revision, package versions."""

from __future__ import annotations

import logging
import platform
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path

__all__ = ["source_revision", "package_versions", "report_versions", "PACKAGES", "REPORT_PACKAGES"]

logger = logging.getLogger(__name__)

PACKAGES = ("bistlab", "optuna", "lightgbm", "xgboost", "catboost", "torch", "numpy", "pandas", "sqlalchemy", "papermill")
"""The packages a result depends on (recorded with every trained model)."""
REPORT_PACKAGES = ("plotly", "nbconvert", "scipy", "scikit-learn")


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Versions of ``names`` (default: the packages a result depends on), plus Python's."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        logger.debug("git %s in %s: %s", " ".join(args), cwd, err)
        return None
    return out.stdout.strip()


@lru_cache(maxsize=1)
def source_revision() -> dict[str, object]:
    """bistlab's version and, when the package sits in a git checkout, its commit.

    Returns:
        ``version``, ``commit`` (``"unknown (not a git checkout)"`` outside one, or when git is
        absent) and ``dirty`` (uncommitted changes to tracked files; ``None`` when unknown).
    """
    try:
        version = metadata.version("bistlab")
    except metadata.PackageNotFoundError:
        version = "unknown"
    here = Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], here)
    if not commit:
        return {"version": version, "commit": "unknown (not a git checkout)", "dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], here)
    return {"version": version, "commit": commit, "dirty": bool(status) if status is not None else None}


def report_versions() -> dict[str, str]:
    """Versions of the packages the report itself uses (training's are in each ``model.json``)."""
    return package_versions((*PACKAGES, *REPORT_PACKAGES))
