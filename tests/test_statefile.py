"""The generic state file: a typed record read and written atomically under a lock, with a backup."""

from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bistlab.core.statefile import STATE_FILE, JsonStateFile
from bistlab.errors import StateFileError, WorkspaceError


@dataclass
class Counter:
    """A small record: a count and a name, and ``updated_at`` the file stamps."""

    count: int = 0
    names: list[str] = field(default_factory=list)
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "names": self.names, "updated_at": self.updated_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Counter":
        return cls(int(data["count"]), list(data.get("names") or []), data.get("updated_at"))


def _file(path: Path) -> JsonStateFile[Counter]:
    return JsonStateFile(path, Counter, empty=Counter, what="a counter")


def _bump(path: str, times: int) -> None:
    file = _file(Path(path))
    for _ in range(times):
        file.update(lambda c: setattr(c, "count", c.count + 1))


def test_a_missing_file_reads_as_the_empty_record_or_is_an_error_naming_it(tmp_path):
    assert _file(tmp_path / STATE_FILE).read() == Counter()
    strict = JsonStateFile(tmp_path / "other.json", Counter)
    with pytest.raises(StateFileError, match="other.json` must exist"):
        strict.read()
    assert strict.read_or_none() is None


def test_update_writes_the_record_and_stamps_it_keeping_the_version_before(tmp_path):
    file = _file(tmp_path / STATE_FILE)
    first = file.update(lambda c: c.names.append("a"))
    assert first.updated_at and json.loads(file.path.read_text())["names"] == ["a"]
    file.update(lambda c: c.names.append("b"))
    assert file.read().names == ["a", "b"]
    assert Counter.from_dict(json.loads(file.backup.read_text())).names == ["a"]  # one change behind


def test_write_replaces_the_whole_record_under_the_lock(tmp_path):
    file = _file(tmp_path / STATE_FILE)
    file.write(Counter(5, ["x"]))
    assert file.read().count == 5 and file.read().updated_at is not None


def test_concurrent_updates_lose_none(tmp_path):
    path = tmp_path / STATE_FILE
    _file(path).write(Counter())
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(str(path), 20)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert _file(path).read().count == 80


@pytest.mark.parametrize("damage", [b"", b'{"count": 3, "na', b"[1, 2]", b'{"names": []}'], ids=["empty", "truncated", "not-an-object", "missing-key"])
def test_an_unreadable_file_is_an_error_naming_it_and_its_backup(tmp_path, damage):
    file = _file(tmp_path / STATE_FILE)
    file.update(lambda c: setattr(c, "count", 1))
    file.update(lambda c: setattr(c, "count", 2))
    file.path.write_bytes(damage)
    for attempt in (file.read, lambda: file.update(lambda c: None)):
        with pytest.raises(StateFileError) as info:
            attempt()
        message = str(info.value)
        assert message.startswith(f"`{file.path}` must be a counter as JSON") and f"cp {file.backup} {file.path}" in message
        assert info.value.path == file.path
    assert file.path.read_bytes() == damage  # left for inspection


def test_an_unwritable_file_is_left_as_it_was(tmp_path, monkeypatch):
    file = JsonStateFile(tmp_path / STATE_FILE, Counter, empty=Counter, fault_point="state_write")
    file.write(Counter(1))
    before = file.path.read_bytes()
    monkeypatch.setenv("BISTLAB_FAULT", "state_write:1+:enospc")
    with pytest.raises(WorkspaceError, match="No space left on device") as info:
        file.update(lambda c: setattr(c, "count", 2))
    assert info.value.path == file.path and file.path.read_bytes() == before
