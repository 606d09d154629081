"""The state file: atomic, locked read-modify-write, safe with several processes."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from bistlab.config import CycleConfig
from bistlab.runs.cycle import check_runnable, open_cycle, plan_tasks
from bistlab.errors import CycleLockedError, StateFileError, WorkspaceError
from bistlab.core.state import CycleLock, StateFile, TaskStatus
from bistlab.core.workspace import Workspace


def _bump(path: str, key: str, times: int) -> None:
    sf = StateFile(Path(path))
    for _ in range(times):
        sf.update(lambda s: setattr(s.tasks[key], "retry_count", s.tasks[key].retry_count + 1))


def test_plan_is_horizon_first():
    assert plan_tasks(["B", "A"], [1, 7]) == [("B", 1), ("A", 1), ("B", 7), ("A", 7)]


def test_cycle_number_rises_only_when_every_task_has_ended(tmp_path):
    sf = StateFile(tmp_path / "state.json")
    tasks = plan_tasks(["A", "B"], [1])
    assert open_cycle(sf, tasks).cycle == 1
    sf.update_task("A_1d", status=TaskStatus.COMPLETED)
    assert open_cycle(sf, tasks).cycle == 1  # B is still pending: resume cycle 1
    sf.update_task("B_1d", status=TaskStatus.FAILED, error="boom")
    state = open_cycle(sf, tasks)
    assert state.cycle == 2
    assert {t.status for t in state.cycle_tasks()} == {TaskStatus.PENDING}
    assert state.tasks["A_1d"].cycle == 2


def test_concurrent_writers_lose_no_update(tmp_path):
    path = tmp_path / "state.json"
    keys = [f"S{i}_1d" for i in range(4)]
    open_cycle(StateFile(path), [(k.split("_")[0], 1) for k in keys])
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(str(path), k, 15)) for k in keys]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    data = json.loads(path.read_text())
    assert [data["tasks"][k]["retry_count"] for k in keys] == [15] * 4


@pytest.mark.parametrize("status", TaskStatus.ALL)
def test_task_state_round_trips(tmp_path, status):
    sf = StateFile(tmp_path / "state.json")
    open_cycle(sf, [("X", 3)])
    sf.update_task("X_3d", status=status, hpo_dirhit=51.5, error=None)
    again = StateFile(tmp_path / "state.json").read().tasks["X_3d"]
    assert (again.status, again.hpo_dirhit, again.horizon, again.cycle) == (status, 51.5, 3, 1)


# ---------------------------------------------------------------- faults of the state file


@pytest.mark.parametrize("damage", [b"", b'{"cycle": 3, "tasks": {"A_1d": {"sym', b"\x00\x00\x00", b"[1, 2]"], ids=["empty", "truncated", "binary", "not-a-state"])
def test_an_unreadable_state_is_an_error_naming_the_file_and_the_backup_never_an_empty_state(tmp_path, damage):
    sf = StateFile(tmp_path / "state.json")
    open_cycle(sf, [("A", 1), ("B", 1)])
    sf.update_task("A_1d", status=TaskStatus.COMPLETED)  # the backup now holds cycle 1 with A pending
    sf.path.write_bytes(damage)
    for attempt in (sf.read, lambda: sf.update_task("B_1d", status=TaskStatus.FAILED)):
        with pytest.raises(StateFileError) as info:
            attempt()
        message = str(info.value)
        assert str(sf.path) in message and "nothing was reset" in message
        assert f"cp {sf.backup} {sf.path}" in message and "cycle 1, 2 tasks" in message
    assert sf.path.read_bytes() == damage  # left for inspection, not overwritten
    sf.backup.replace(sf.path)  # the recovery the message names
    assert StateFile(sf.path).read().tasks["A_1d"].status == TaskStatus.PENDING  # one change behind, nothing else lost


def test_a_state_that_cannot_be_written_is_left_as_it_was(tmp_path, monkeypatch):
    sf = StateFile(tmp_path / "state.json")
    open_cycle(sf, [("A", 1)])
    before = sf.path.read_bytes()
    monkeypatch.setenv("BISTLAB_FAULT", "state_write:1+:enospc")
    with pytest.raises(WorkspaceError, match="No space left on device") as info:
        sf.update_task("A_1d", status=TaskStatus.COMPLETED)
    assert info.value.path == sf.path and "bistlab cycle resume" in str(info.value)
    assert sf.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no partial file left behind
    monkeypatch.delenv("BISTLAB_FAULT")
    assert sf.update_task("A_1d", status=TaskStatus.COMPLETED).status == TaskStatus.COMPLETED


# ---------------------------------------------------------------- one cycle per workspace


def _hold_cycle_lock(root: str, ready, release) -> None:
    with CycleLock(Workspace(root=Path(root))):
        ready.set()
        release.wait(30)


def test_a_second_cycle_is_refused_naming_the_first_and_a_dead_holder_is_taken_over(tmp_path):
    ws = Workspace(root=tmp_path).ensure()
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_cycle_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(CycleLockedError) as info:
            CycleLock(ws).acquire()
        assert info.value.pid == holder.pid
        assert f"one run by process {holder.pid} on " in str(info.value) and "`workspace` must have no running cycle" in str(info.value)
        with pytest.raises(CycleLockedError):
            check_runnable(ws, CycleConfig(horizons=(1,), n_trials=1))
    finally:
        release.set()
        holder.join(30)
    killed = ctx.Process(target=_hold_cycle_lock, args=(str(tmp_path), ctx.Event(), ctx.Event()))
    killed.start()
    time.sleep(0.5)
    killed.kill()  # SIGKILL while holding the lock: its file still names it
    killed.join(30)
    with CycleLock(ws) as lock:  # taken over at once: the kernel released the dead holder's lock
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert lock.path.read_text() == ""
