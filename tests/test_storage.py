"""Optuna storages: a study locked by another process, an unreachable server, a study on PostgreSQL;
the journal file a new task study is kept in (a torn last line, trials a killed owner left running),
an older SQLite study resumed from its file."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import optuna
import pytest

from bistlab.search import storage
from bistlab.search import storage as storage_module
from bistlab.errors import ConfigError, StorageLockedError
from bistlab.search.storage import fail_orphaned_trials, make_storage, repair_journal
from bistlab.core.db_urls import JOURNAL_SUFFIX, storage_path, storage_url
from bistlab.core.workspace import Workspace


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
    from bistlab.search.storage import fail_stale_trials

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

    from bistlab.evaluation.walkforward import make_evaluation_spec
    from bistlab.search.hpo import open_study, run_hpo
    from bistlab.models.space import SearchSpace
    from bistlab.evaluation.universe import load_task

    task = load_task(workspace, "AAA", 1)
    workspace.cycle_studies_dir(1).mkdir(parents=True)
    study = open_study(make_storage(storage_url(workspace.cycle_studies_dir(1) / "AAA_1d.db")), "AAA_1d_c1")  # SQLite: heartbeats
    study.ask()  # the trial a killed attempt left behind, without a heartbeat
    monkeypatch.setattr(storage_module, "GRACE_SECONDS", 0)
    space = SearchSpace.for_task(task.context, models=["lgbm"])
    done = threading.Thread(target=run_hpo, args=(task, make_evaluation_spec(task)), kwargs={"study": study, "n_trials": 2, "space": space, "poll_seconds": 0.05}, daemon=True)
    done.start()
    done.join(120)
    assert not done.is_alive(), "run_hpo waited for a trial no process runs"
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 2


def test_a_new_task_study_is_a_journal_file_and_a_configured_storage_stays_the_storage(workspace, tmp_path):
    url = workspace.study_storage(1, "AAA_1d")
    assert url == f"journal:{workspace.cycle_studies_dir(1) / 'AAA_1d.log'}" and isinstance(make_storage(url), optuna.storages.JournalStorage)
    assert storage_url(storage_path(url)) == url and storage_path(url).suffix == JOURNAL_SUFFIX
    shared = Workspace(root=tmp_path / "pg", optuna_url="postgresql+psycopg2://u@db/optuna")
    assert shared.study_storage(1, "AAA_1d") == "postgresql+psycopg2://u@db/optuna" and storage_path(shared.optuna_url) is None
    assert storage_path("sqlite:///runs/prices.sqlite") == storage_path(storage_url("runs/prices.sqlite"))


def test_an_older_sqlite_study_is_read_and_resumed_from_its_file(workspace):
    from bistlab.runs.pipeline import hpo_step

    folder = workspace.cycle_studies_dir(1)
    folder.mkdir(parents=True)
    make_storage(storage_url(folder / "AAA_1d.db"))  # a cycle began by an older bistlab: a SQLite study file
    first = hpo_step(workspace, "AAA", 1, cycle=1, n_trials=1, models=("lgbm",))
    assert first.storage == storage_url(folder / "AAA_1d.db")
    resumed = hpo_step(workspace, "AAA", 1, cycle=1, n_trials=2, models=("lgbm",))
    assert resumed.storage == first.storage and resumed.n_complete == 2 and resumed.study_name == "AAA_1d_c1"
    assert not (folder / "AAA_1d.log").exists()  # no journal beside it


def test_a_trial_a_killed_owner_left_running_in_a_journal_is_failed_when_the_task_resumes(workspace):
    import threading

    from bistlab.runs.pipeline import hpo_step

    workspace.cycle_studies_dir(1).mkdir(parents=True)
    study = optuna.create_study(storage=make_storage(workspace.study_storage(1, "AAA_1d")), study_name="AAA_1d_c1", direction="maximize")
    orphan = study.ask()  # RUNNING, and its process "died": a journal has no heartbeat to tell
    done = threading.Thread(target=hpo_step, args=(workspace, "AAA", 1), kwargs={"cycle": 1, "n_trials": 2, "models": ("lgbm",)}, daemon=True)
    done.start()
    done.join(180)
    assert not done.is_alive(), "the resumed task waited for a trial no process runs"
    trials = {t.number: t for t in optuna.load_study(study_name="AAA_1d_c1", storage=make_storage(workspace.study_storage(1, "AAA_1d"))).trials}
    assert trials[orphan.number].state == optuna.trial.TrialState.FAIL
    assert "by a process that ended before finishing it" in trials[orphan.number].user_attrs["fail_reason"]
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials.values()) == 2


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_orphaned_trials_are_left_to_heartbeats_in_sqlite(tmp_path):
    study = optuna.create_study(storage=make_storage(f"sqlite:///{tmp_path / 's.db'}"), study_name="s")
    study.ask()
    assert fail_orphaned_trials(study) == []  # another live process may run it: its heartbeat tells


def test_a_journal_whose_last_line_was_torn_by_a_kill_opens_and_goes_on(tmp_path):
    path = tmp_path / "AAA_1d.log"
    study = optuna.create_study(storage=make_storage(storage_url(path)), study_name="s", direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    whole = path.read_bytes()
    with open(path, "ab") as f:  # kill -9 in the middle of a write: half a line, no newline
        f.write(b'{"op_code":8,"worker_id":"w-1","trial_id":2,"user_attr":{"record":{"config":{"feat')
    storage_module._CACHE.clear()  # a new process: the file is read again
    reopened = optuna.load_study(study_name="s", storage=make_storage(storage_url(path)))
    assert path.read_bytes() == whole  # the torn line was cut
    assert [t.state for t in reopened.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    reopened.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)  # the next writes stay readable
    fresh = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    assert len(optuna.load_study(study_name="s", storage=fresh).trials) == 5
    assert repair_journal(path) == 0  # a whole file is left as it is


def _write_trials_forever(url: str) -> None:
    study = optuna.create_study(storage=make_storage(url), study_name="s", direction="maximize")
    record = {"symbol_metrics": {"AAA_1d": {"split_metrics": [{"dirhit": 50.0, "mask_count": 40, "pad": "x" * 4000}] * 4}}}
    study.optimize(lambda t: (t.set_user_attr("record", record), t.suggest_float("x", 0, 1))[1], n_trials=100_000)


def test_a_journal_killed_while_writing_opens_and_takes_more_trials(tmp_path):
    import os
    import signal
    import time

    url = storage_url(tmp_path / "AAA_1d.log")
    writer = mp.get_context("fork").Process(target=_write_trials_forever, args=(url,))
    writer.start()
    time.sleep(1.5)
    os.kill(writer.pid, signal.SIGKILL)  # wherever it is: maybe in the middle of a line
    writer.join(30)
    study = optuna.load_study(study_name="s", storage=make_storage(url))
    before = len(study.trials)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    fresh = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "AAA_1d.log")))
    assert before > 0 and len(optuna.load_study(study_name="s", storage=fresh).trials) == before + 1
