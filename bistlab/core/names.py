"""The names every part of bistlab shares, each spelled once: the symbol rule, a task's key and its
check, a task's study name, an LSTM group's study name and a hyperopt job's id.
"""

from __future__ import annotations

import re

from bistlab.errors import ConfigError, DataError

__all__ = [
    "check_job_id",
    "check_task_key",
    "group_study_name",
    "key_horizon",
    "parse_study_name",
    "study_name",
    "SYMBOL_MAX_LENGTH",
    "SYMBOL_PATTERN",
    "UNIVERSE_SYMBOL",
    "RESERVED_NAMES",
    "SYMBOL_RULE",
    "check_symbol",
    "task_key",
    "normalize_symbol",
]


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


SYMBOL_MAX_LENGTH = 32  # the store's symbol column is String(32)


SYMBOL_PATTERN: re.Pattern[str] = re.compile(r"^[A-Z0-9](?:[A-Z0-9._-]{0,30}[A-Z0-9])?$")


UNIVERSE_SYMBOL = "UNIVERSE"
"""The symbol of the universe tasks (``UNIVERSE_<h>d``, :mod:`bistlab.evaluation.panel`): no stored series may take it."""


RESERVED_NAMES: frozenset[str] = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))]
)
"""Windows device names: no file may be called so, with or without an extension."""


SYMBOL_RULE = (
    f"match {SYMBOL_PATTERN.pattern} (1 to {SYMBOL_MAX_LENGTH} of A-Z, 0-9, '.', '_', '-', first and last a letter "
    "or digit) and not be a reserved device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9)"
)


def check_symbol(symbol: str) -> str:
    """The one rule every symbol meets before it names a row, a file or a folder.

    Returns ``symbol`` unchanged if it matches :data:`SYMBOL_PATTERN` and is not one of
    :data:`RESERVED_NAMES` (before its first dot), so it can never leave a folder (``..``, ``/``),
    start a hidden file, or name a device; see :func:`normalize_symbol` for what a user types.

    Raises:
        DataError: naming the symbol and the rule.
    """
    ok = isinstance(symbol, str) and SYMBOL_PATTERN.fullmatch(symbol) is not None
    if not ok or symbol.split(".")[0] in RESERVED_NAMES:
        raise DataError(f"`symbol` must {SYMBOL_RULE} but got {symbol!r}", symbol=symbol if isinstance(symbol, str) else None)
    return symbol


def task_key(symbol: str, horizon: int) -> str:
    """``"<SYMBOL>_<h>d"``, the key of a task everywhere (state, studies, runs, symbol_metrics).

    Raises:
        DataError: ``symbol`` breaks the symbol rule (:func:`check_symbol`).
    """
    return f"{check_symbol(symbol)}_{horizon}d"


def normalize_symbol(text: str) -> str:
    """A symbol as a user types it (``" thyao "``), normalized: surrounding spaces stripped, ASCII
    letters upper-cased; then :func:`check_symbol`. Anything else (spaces inside, non-ASCII
    letters, path separators, shell characters) is refused, never rewritten.

    Raises:
        DataError: the normalized text breaks the rule.
    """
    if not isinstance(text, str) or not text.isascii():
        raise DataError(f"`symbol` must {SYMBOL_RULE} but got {text!r}", symbol=text if isinstance(text, str) else None)
    return check_symbol(text.strip().upper())


_STUDY_NAME = re.compile(r"(?P<task>.+)_c(?P<cycle>\d+)(?:_v\d+)?")


def parse_study_name(name: str) -> tuple[str, int] | None:
    """The task key and cycle of a task's study name (:func:`study_name`, ``..._v<k>`` after a restart
    with another evaluation spec); ``None`` for any other name."""
    found = _STUDY_NAME.fullmatch(name)
    return (found["task"], int(found["cycle"])) if found else None


def key_horizon(key: str) -> int | None:
    """The horizon h (trading days) of a task key ``"<SYMBOL>_<h>d"``; ``None`` for another name."""
    found = _TASK_KEY.fullmatch(key)
    return int(found["horizon"]) if found else None
