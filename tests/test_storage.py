"""Optuna storages: a study locked by another process, an unreachable server, a study on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import optuna
import pytest

from bistlab import storage
from bistlab import storage as storage_module
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


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_trial_left_running_without_a_heartbeat_is_failed_once_older_than_the_grace_period(tmp_path, monkeypatch):
    from bistlab.storage import fail_stale_trials

    storage = make_storage(f"sqlite:///{tmp_path / 'orphans.db'}")
    study = optuna.create_study(storage=storage, study_name="s")
    orphan = study.ask()  # RUNNING, and its process "died" before its first heartbeat
    alive = study.ask()
    storage.record_heartbeat(alive._trial_id)
    assert fail_stale_trials(study) == []  # younger than the grace period: it may be starting
    monkeypatch.setattr(storage_module, "GRACE_SECONDS", 0)
    assert fail_stale_trials(study) == [orphan.number]
    states = {t.number: t for t in study.get_trials()}
    assert states[orphan.number].state == optuna.trial.TrialState.FAIL
    assert "without a heartbeat" in states[orphan.number].user_attrs["fail_reason"]
    assert states[alive.number].state == optuna.trial.TrialState.RUNNING  # its heartbeat is fresh


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_resumed_study_never_waits_forever_for_a_trial_that_never_beat(workspace, monkeypatch):
    import threading

    from bistlab.evaluation import make_evaluation_spec
    from bistlab.hpo import open_study, run_hpo
    from bistlab.space import SearchSpace
    from bistlab.universe import load_task

    task = load_task(workspace, "AAA", 1)
    workspace.cycle_studies_dir(1).mkdir(parents=True)
    study = open_study(make_storage(workspace.study_storage(1, task.key)), "AAA_1d_c1")
    study.ask()  # the trial a killed attempt left behind, without a heartbeat
    monkeypatch.setattr(storage_module, "GRACE_SECONDS", 0)
    space = SearchSpace.for_task(task.context, models=["lgbm"])
    done = threading.Thread(target=run_hpo, args=(task, make_evaluation_spec(task)), kwargs={"study": study, "n_trials": 2, "space": space, "poll_seconds": 0.05}, daemon=True)
    done.start()
    done.join(120)
    assert not done.is_alive(), "run_hpo waited for a trial no process runs"
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 2
