"""The state file: atomic, locked read-modify-write, safe with several processes."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from bistlab.cycle import open_cycle, plan_tasks
from bistlab.state import StateFile, TaskStatus


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
