"""The names every part of bistlab shares, each spelled once: a task key's check, a task's study name,
an LSTM group's study name and a hyperopt job's id.
"""

from __future__ import annotations

import re

from bistlab.errors import ConfigError, DataError
from bistlab.validate import check_symbol, task_key

__all__ = ["check_job_id", "check_task_key", "group_study_name", "study_name"]


_TASK_KEY = re.compile(r"(?P<symbol>.+)_(?P<horizon>[1-9][0-9]{0,4})d")


_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_task_key(key: str) -> str:
    """Return ``key`` if it is ``"<SYMBOL>_<h>d"`` with a symbol under the symbol rule and h >= 1:
    what every path built from a task key checks first, so no key can leave its folder.

    Raises:
        ConfigError: naming the key.
    """
    match = _TASK_KEY.fullmatch(key) if isinstance(key, str) else None
    try:
        check_symbol(match["symbol"] if match else None)  # type: ignore[arg-type]
    except DataError as err:
        raise ConfigError("task", "<SYMBOL>_<h>d with a valid symbol and h >= 1, e.g. THYAO_7d", key) from err
    return key


def check_job_id(job_id: str) -> str:
    """Return ``job_id`` if it can name a folder under ``runs/hyperopt/``: 1 to 64 of letters, digits,
    '.', '_', '-', starting with a letter or digit (``YYYYMMDD_HHMMSS`` and its ``_2``...).

    Raises:
        ConfigError: naming the id (e.g. ``"../../etc"`` from a request).
    """
    if not isinstance(job_id, str) or _JOB_ID.fullmatch(job_id) is None:
        raise ConfigError("job_id", "1 to 64 of A-Z, a-z, 0-9, '.', '_', '-' starting with a letter or digit", job_id)
    return job_id


def study_name(symbol: str, horizon: int, cycle: int) -> str:
    """``"<SYMBOL>_<h>d_c<N>"``: the name of a task's Optuna study in a cycle."""
    return f"{task_key(symbol, horizon)}_c{cycle}"


def group_study_name(study_name: str, group: str) -> str:
    """``"<study_name>_<group>"``: the Optuna study of one group of an LSTM hyperopt job (and its SQLite file's stem)."""
    return f"{study_name}_{group}"
