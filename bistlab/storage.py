"""Optuna storages: which one, with heartbeats, for one machine or many.

- ``sqlite:///...`` or ``postgresql...``: :class:`optuna.storages.RDBStorage` with heartbeats, so
  a trial whose process was killed is failed after ``GRACE_SECONDS`` and never blocks a resume.
  bistlab gives each (symbol, horizon, cycle) study its own SQLite file by default: one writer
  per file. Several processes on one study, or on several machines, need PostgreSQL.
- ``journal:<path>`` (or a path ending in ``.log``): :class:`optuna.storages.JournalStorage`
  on a file with file locks: safe for several processes on one machine, no heartbeats.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from bistlab.errors import ConfigError

__all__ = ["make_storage", "HEARTBEAT_SECONDS", "GRACE_SECONDS", "supports_heartbeat"]

HEARTBEAT_SECONDS = int(os.environ.get("BISTLAB_HEARTBEAT_SECONDS", "5"))
GRACE_SECONDS = int(os.environ.get("BISTLAB_GRACE_SECONDS", "15"))

_CACHE: dict[str, optuna.storages.BaseStorage] = {}


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage for ``url`` (cached per process)."""
    if url in _CACHE:
        return _CACHE[url]
    if url.startswith("journal:") or url.endswith(".log"):
        path = url.removeprefix("journal:")
        storage: optuna.storages.BaseStorage = JournalStorage(JournalFileBackend(path))
    elif url.startswith(("sqlite", "postgresql", "mysql")):
        engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    storage = RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS)
                break
            except SQLAlchemyError:  # another process is creating Optuna's tables at this moment
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
        if url.startswith("sqlite"):
            _write_ahead_log(storage)
    else:
        raise ConfigError("Optuna storage URL", "sqlite:///..., postgresql://..., or journal:<path>", url)
    _CACHE[url] = storage
    return storage


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _write_ahead_log(storage: RDBStorage) -> None:
    """SQLite in write-ahead-log mode with normal syncing: a commit no longer waits for a full
    fsync (Optuna commits every suggested parameter and attribute; measured 34 → 22 ms for a trial
    of 15 parameters and 4 attributes). A crash can lose the last commits, never corrupt the file:
    a trial cut off that way is failed by its heartbeat, like any killed trial."""
    event.listen(storage.engine, "connect", _sqlite_pragmas)
    storage.engine.dispose()  # connections opened so far reconnect with the pragmas


def supports_heartbeat(storage: optuna.storages.BaseStorage) -> bool:
    return isinstance(storage, RDBStorage)
