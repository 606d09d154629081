"""Optuna storages: a study locked by another process, an unreachable server, a study on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import optuna
import pytest

from bistlab import storage
from bistlab.errors import ConfigError, StorageLockedError
from bistlab.storage import make_storage


def _lock_database(path: str, ready, release) -> None:
    conn = sqlite3.connect(path)
    conn.execute("BEGIN EXCLUSIVE")
    ready.set()
    release.wait(60)
    conn.rollback()
    conn.close()


def test_a_study_locked_by_another_process_is_retried_then_named(tmp_path, monkeypatch):
    path = tmp_path / "AAA_1d.db"
    sqlite3.connect(path).close()
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_lock_database, args=(str(path), ready, release))
    holder.start()
    waits: list[float] = []
    monkeypatch.setattr(storage, "SQLITE_TIMEOUT_SECONDS", 0.1)
    monkeypatch.setattr(storage.time, "sleep", waits.append)
    try:
        assert ready.wait(30)
        with pytest.raises(StorageLockedError) as info:
            make_storage(f"sqlite:///{path}")
    finally:
        release.set()
        holder.join(30)
    assert len(waits) == 4  # 5 tries, backing off between them
    assert str(path) in str(info.value) and "locked by another process" in str(info.value)
    study = optuna.create_study(storage=make_storage(f"sqlite:///{path}"), study_name="s")  # free again: it opens
    assert study.study_name == "s"


def test_an_unreachable_server_is_one_line_with_the_password_masked(monkeypatch):
    monkeypatch.setattr(storage.time, "sleep", lambda s: None)
    with pytest.raises(ConfigError) as info:
        make_storage("postgresql+psycopg2://u:p@127.0.0.1:1/optuna?connect_timeout=2")
    message = str(info.value)
    assert "`Optuna storage` must be reachable" in message and "port 1 failed" in message
    assert "u:***@127.0.0.1" in message and ":p@" not in message and "\n" not in message


def test_an_optuna_study_on_postgresql_survives_a_dropped_connection(pg_database):
    from sqlalchemy import create_engine, text

    study = optuna.create_study(storage=make_storage(pg_database), study_name="drop")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    admin = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert killed >= 1  # the storage's pooled connections are gone
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)  # checked before use, replaced
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 4
