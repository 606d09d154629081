"""One overnight cycle over a universe holding the whole bad-data corpus, a task whose notebook
raises, and a task whose study another process keeps locked, while a second cycle is started on
the same workspace: the good symbols complete, each bad one ends skipped or failed with its
reason in the state and the report, the failed notebook is kept, the second cycle is refused
naming the first, and the console shows no kernel shutdown traceback. Then a disk that fills up
mid-cycle: the cycle stops with one line, the state is intact, and a resume finishes the work.

The universe is a table of one's own read in place (``BISTLAB_PRICE_TABLE``), whose text cells
can hold what no CSV import lets into bistlab's own table (a non-numeric close, a malformed date).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest

from bistlab.core.state import StateFile
from bistlab.search.storage import make_storage
from bistlab.core.workspace import Workspace
from bistlab.core.names import study_name
from tests.badcorpus import BadCase, cases, good, table_rows
from tests.conftest import market_workspace

pytestmark = pytest.mark.slow

MAPPING = "symbol=ticker,date=day,open=o,high=h,low=l,close=c,volume=v"
ARGS = ["cycle", "run", "--horizons", "1", "--trials", "2", "--models", "lgbm", "--jobs", "1", "--no-universe"]  # per-symbol tasks only: each bad file ends its own task (universe tasks: tests/test_panel_cycle.py)
ROW_CASES = [c for c in cases() if c.rows is not None and c.symbol != "GOOD"]
UNIVERSE = [good("GOOD"), *ROW_CASES, good("STEPFAIL", seed=7), good("LOCKED", seed=8)]
SKIPPED = {c.symbol: c.task for c in ROW_CASES if c.task != "completed"}
FAILED = {"STEPFAIL": "injected fault in train_step", "LOCKED": "locked by another process"}
NOISE = ("ZMQStream", "zmqstream", "Event loop is closed")


@dataclass
class CycleRun:
    ws: Workspace
    url: str
    first_pid: int
    first_code: int
    first_out: str
    second: subprocess.CompletedProcess


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200", "BISTLAB_GRACE_SECONDS": "3", "BISTLAB_HEARTBEAT_SECONDS": "1", **extra}
    env.pop("BISTLAB_FAULT", None)
    return env


def _write_table(path: Path, corpus: list[BadCase]) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE quotes (ticker TEXT, day TEXT, o, h, l, c, v)")  # untyped: cells kept as written
    conn.executemany("INSERT INTO quotes VALUES (:ticker, :day, :o, :h, :l, :c, :v)", table_rows(corpus))
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def _hold_lock(path: str, ready, release) -> None:
    conn = sqlite3.connect(path)
    conn.execute("BEGIN EXCLUSIVE")
    ready.set()
    release.wait(900)
    conn.close()


def _statuses(ws: Workspace) -> dict[str, dict]:
    try:
        return json.loads(ws.state_file.read_text())["tasks"]
    except (OSError, ValueError, KeyError):
        return {}


def _run_both(ws: Workspace, url: str, env: dict[str, str], release) -> tuple[subprocess.Popen, str, subprocess.CompletedProcess]:
    """The first cycle in the background; the second one once the first is working on a task;
    the study lock released once the locked task's last attempt has failed (the report reads it)."""
    log = ws.root.parent / "first.log"
    with open(log, "wb") as out:
        first = subprocess.Popen([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), "--db-url", url, *ARGS], env=env, stdout=out, stderr=subprocess.STDOUT)
    second = None
    deadline = time.time() + 1200
    while first.poll() is None and time.time() < deadline:
        tasks = _statuses(ws)
        if second is None and any(t["status"] in ("hpo_in_progress", "training_in_progress") for t in tasks.values()):
            second = subprocess.run([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), "--db-url", url, *ARGS], env=env, capture_output=True, text=True, timeout=300)
        locked = tasks.get("LOCKED_1d", {})
        if locked.get("status") == "failed" and locked.get("retry_count", 0) >= 2:  # its last attempt failed
            release.set()
        time.sleep(0.5)
    if first.poll() is None:
        first.send_signal(signal.SIGKILL)
    first.wait(60)
    return first, log.read_text(errors="replace"), second


@pytest.fixture(scope="module")
def corpus_cycle(tmp_path_factory) -> CycleRun:
    base = tmp_path_factory.mktemp("reliability")
    ws = Workspace(root=base / "ws").ensure()
    url = _write_table(base / "quotes.sqlite", UNIVERSE)
    locked = ws.cycle_studies_dir(1) / "LOCKED_1d.db"
    locked.parent.mkdir(parents=True)
    sqlite3.connect(locked).close()
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(locked), ready, release))
    holder.start()
    assert ready.wait(30)
    env = _env(BISTLAB_PRICE_TABLE="quotes", BISTLAB_PRICE_COLUMNS=MAPPING, BISTLAB_STEP_FAULT="train_step:STEPFAIL_1d", BISTLAB_SQLITE_TIMEOUT="1")
    try:
        first, out, second = _run_both(ws, url, env, release)
    finally:
        release.set()
        holder.join(30)
    assert second is not None, out[-3000:]
    return CycleRun(ws=ws, url=url, first_pid=first.pid, first_code=first.returncode, first_out=out, second=second)


def test_the_cycle_completes_the_good_symbols_and_ends_each_bad_one_with_its_reason(corpus_cycle):
    run = corpus_cycle
    assert run.first_code == 0, run.first_out[-4000:]
    state = StateFile(run.ws.state_file).read()
    assert state.cycle == 1 and state.cycle_ended()
    tasks = {t.symbol: t for t in state.cycle_tasks()}
    assert set(tasks) == {c.symbol for c in UNIVERSE}
    for symbol, task in tasks.items():
        if symbol in SKIPPED:
            assert task.status == "skipped" and SKIPPED[symbol] in task.error, (symbol, task.error)
        elif symbol in FAILED:
            assert task.status == "failed" and FAILED[symbol] in task.error, (symbol, task.error)
        else:
            assert task.status == "completed", (symbol, task.status, task.error)
            assert (run.ws.task_dir(1, task.key) / "evaluation.json").exists()
    html = (run.ws.reports / "cycle_1.html").read_text()
    for phrase in [*SKIPPED.values(), *FAILED.values()]:
        assert phrase in html, phrase


def test_every_completed_study_kept_all_its_trials(corpus_cycle):
    state = StateFile(corpus_cycle.ws.state_file).read()
    for task in state.cycle_tasks():
        if task.status == "completed":
            storage = make_storage(corpus_cycle.ws.study_storage(1, task.key))
            study = optuna.load_study(study_name=study_name(task.symbol, 1, 1), storage=storage)
            assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 2, task.key


def test_a_failing_notebook_names_its_stage_and_cell_is_kept_and_the_cycle_goes_on(corpus_cycle):
    ws = corpus_cycle.ws
    task = StateFile(ws.state_file).read().tasks["STEPFAIL_1d"]
    assert task.status == "failed" and task.retry_count == 2
    assert "[train]" in task.error and "in cell" in task.error and "`meta = pipeline.train_step(" in task.error
    kept = ws.task_dir(1, "STEPFAIL_1d") / "train.ipynb"
    assert str(kept) in task.error
    cells = json.loads(kept.read_text())["cells"]
    failed = [c for c in cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "pipeline.train_step" in "".join(failed[0]["source"])
    assert (ws.task_dir(1, "STEPFAIL_1d") / "best_params.json").exists()  # the HPO before it is not lost


def test_a_study_locked_by_another_process_fails_its_task_after_retries(corpus_cycle):
    task = StateFile(corpus_cycle.ws.state_file).read().tasks["LOCKED_1d"]
    assert task.status == "failed" and task.retry_count == 2
    assert "[hpo]" in task.error and "StorageLockedError" in task.error and "LOCKED_1d.db" in task.error


def test_a_second_cycle_on_the_workspace_is_refused_naming_the_first(corpus_cycle):
    second = corpus_cycle.second
    out = " ".join((second.stdout + second.stderr).split())
    assert second.returncode == 1, out
    assert f"`workspace` must have no running cycle but got one run by process {corpus_cycle.first_pid} on " in out
    assert "Traceback" not in out and "━" not in out


def test_the_console_shows_no_kernel_shutdown_traceback(corpus_cycle):
    for noise in NOISE:
        assert noise not in corpus_cycle.first_out


def test_data_list_shows_every_symbol_with_its_defects_or_why_it_is_unusable(corpus_cycle):
    run = corpus_cycle
    env = _env(BISTLAB_PRICE_TABLE="quotes", BISTLAB_PRICE_COLUMNS=MAPPING)
    done = subprocess.run([sys.executable, "-m", "bistlab.cli.main", "--workspace", str(run.ws.root), "--db-url", run.url, "data", "list"], env={**env, "COLUMNS": "400"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for case in ROW_CASES:
        assert case.symbol in done.stdout
        for kind in set(case.defects) - {"unsorted_dates"}:  # (a store reads rows sorted by date)
            assert kind in done.stdout, (case.symbol, kind)
    assert done.stdout.count("unusable") == 2  # NONNUM and BADDATE: their rows cannot be read as prices


def test_a_disk_that_fills_up_mid_cycle_stops_it_cleanly_and_a_resume_finishes(tmp_path):
    ws = market_workspace(tmp_path / "ws", {"AAA": 260, "BBB": 260})
    cli = [sys.executable, "-m", "bistlab.cli.main", "--workspace", str(ws.root), *ARGS]
    full = subprocess.run(cli, env={**_env(), "BISTLAB_FAULT": "state_write:4+:enospc"}, capture_output=True, text=True, timeout=600)
    out = " ".join((full.stdout + full.stderr).split())
    assert full.returncode == 1, out
    assert "state.json` must be writable but got OSError: [Errno 28] No space left on device" in out and "Traceback" not in out
    state = json.loads(ws.state_file.read_text())  # intact JSON: the last good state
    assert state["cycle"] == 1 and not list(ws.runs.glob("**/*.tmp"))
    done = subprocess.run([*cli[:-len(ARGS)], "cycle", "resume"], env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    final = StateFile(ws.state_file).read()
    assert final.cycle_ended() and {t.status for t in final.cycle_tasks()} == {"completed"}
    for task in final.cycle_tasks():
        study = optuna.load_study(study_name=study_name(task.symbol, 1, 1), storage=make_storage(ws.study_storage(1, task.key)))
        assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 2, task.key
