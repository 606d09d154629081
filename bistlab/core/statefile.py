"""One JSON state file of a typed record, written atomically under a file lock.

Every change is a read-modify-write under an exclusive ``fcntl`` lock on ``<file>.lock`` followed by
an atomic rename (:func:`bistlab.core.jsonio.write_json_atomic`), so several processes may update it
and a reader (or a process killed mid-write) never sees a partial file. The version before each
change is kept as ``<file>.bak`` (a hard link, no copy). A file that cannot be read is an error
naming it and how to recover (:class:`~bistlab.errors.StateFileError`), never an empty record; one
that cannot be written (a read-only or full disk) is left as it was (:class:`~bistlab.errors.WorkspaceError`).

:class:`JsonStateFile` is generic in its record: the cycle's ``runs/state.json``
(:class:`bistlab.core.state.StateFile` over :class:`~bistlab.core.state.CycleState`) and a hyperopt
job's ``state.json`` and ``results.json`` (:class:`~bistlab.core.job_records.JobState`,
:class:`~bistlab.core.job_records.JobResults`) share it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from bistlab.core.clock import utcnow
from bistlab.core.jsonio import read_json, write_json_atomic
from bistlab.core.locks import waiting_lock
from bistlab.errors import StateFileError, WorkspaceError

__all__ = ["STATE_FILE", "StateRecord", "S", "JsonStateFile", "READ_ERRORS"]

STATE_FILE = "state.json"
"""The name of every state file: the cycle's ``runs/state.json`` and a hyperopt job's ``runs/hyperopt/<job_id>/state.json``."""

READ_ERRORS = (OSError, ValueError, TypeError, KeyError, AttributeError)
"""What reading a damaged file (truncated, corrupt, not the record's shape) raises."""


class StateRecord(Protocol):
    """What a state file holds: a record with ``updated_at``, written as a dict and read back from one."""

    updated_at: str | None

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any: ...


S = TypeVar("S", bound=StateRecord)


class JsonStateFile(Generic[S]):
    """A JSON file holding one record of type ``record``, with locked read-modify-write.

    Args:
        path: the file (its lock and backup sit beside it: ``.lock``, ``.bak``).
        record: the record class (``from_dict``/``to_dict``).
        empty: the record of a file that does not exist yet; ``None``: a missing file is an error.
        fault_point: the :mod:`bistlab.core.faults` point reached between writing and renaming.
        what: what the file must hold, in words (default: the class's :attr:`what`).
    """

    what: str = "a state record"
    """What the file must hold, for the message of an unreadable one."""

    def __init__(self, path: Path, record: type[S], *, empty: Callable[[], S] | None = None, fault_point: str | None = None, what: str | None = None) -> None:
        self.path = Path(path)
        self.what = what or type(self).what
        self.record = record
        self.empty = empty
        self.fault_point = fault_point
        self.backup = self.path.with_name(self.path.name + ".bak")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with waiting_lock(self.path.with_name(self.path.name + ".lock"), unwritable=self._unwritable):
            yield

    def _load(self, path: Path) -> S:
        data = read_json(path)
        if not isinstance(data, dict):
            raise TypeError(f"a JSON object was expected, not {type(data).__name__}")
        return self.record.from_dict(data)

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> S:
        """The current record (``empty()`` if the file does not exist yet and ``empty`` is given).

        Raises:
            StateFileError: the file exists but is not a readable record (truncated, corrupt), or it
                is missing and there is no empty record: it is never taken for an empty one.
        """
        if not self.path.exists():
            if self.empty is not None:
                return self.empty()
            raise StateFileError(f"`{self.path}` must exist but got no such file", path=self.path)
        try:
            return self._load(self.path)
        except READ_ERRORS as err:
            raise StateFileError(self._unreadable(err), path=self.path) from err

    def read_or_none(self) -> S | None:
        """The current record, or ``None`` when the file does not exist.

        Raises:
            StateFileError: the file exists but is not a readable record.
        """
        return self.read() if self.path.exists() else None

    def saved(self, record: S) -> str:
        """What the backup holds, in words, for the message of an unreadable file."""
        return f"saved {record.updated_at}"

    def recovery(self) -> str:
        """What else one can do with an unreadable file, in words."""
        return "or move it away"

    def _unreadable(self, err: Exception) -> str:
        size = self.path.stat().st_size if self.path.exists() else 0
        cause = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        try:
            restore = f"restore the previous version with `cp {self.backup} {self.path}` ({self.saved(self._load(self.backup))})"
        except READ_ERRORS:
            restore = f"no readable backup {self.backup.name} exists; repair the file by hand"
        return f"`{self.path}` must be {self.what} as JSON but got an unreadable file of {size} bytes ({cause}); nothing was reset: {restore}, {self.recovery()}"

    def _unwritable(self, err: OSError) -> WorkspaceError:
        return WorkspaceError(f"`{self.path}` must be writable but got {type(err).__name__}: {err}; the file is as it was before this change", path=self.path)

    def _write(self, record: S) -> S:
        """Stamp ``updated_at``, keep the backup and write atomically (the caller holds the lock)."""
        record.updated_at = utcnow()
        try:
            self._keep_backup()
            write_json_atomic(self.path, record.to_dict(), fault_point=self.fault_point)
        except OSError as err:
            raise self._unwritable(err) from err
        return record

    def write(self, record: S) -> S:
        """Replace the file with ``record`` under the lock (its owner's whole record), stamping ``updated_at``.

        Raises:
            WorkspaceError: the record cannot be written (the file is left as it was).
        """
        with self._locked():
            return self._write(record)

    def update(self, change: Callable[[S], Any]) -> S:
        """Apply ``change`` to the record under the lock and write it atomically (the version before
        kept as the backup).

        Raises:
            StateFileError: the current file cannot be read (nothing is written).
            WorkspaceError: the new record cannot be written (the file is left as it was).
        """
        with self._locked():
            record = self.read()
            change(record)
            return self._write(record)

    def _keep_backup(self) -> None:
        """Hard-link the current (readable) file as the backup; the atomic write then gives
        ``path`` a new file and the backup keeps the old one."""
        if not self.path.exists():
            return
        staged = self.backup.with_name(f".{self.backup.name}.{os.getpid()}")
        staged.unlink(missing_ok=True)
        try:
            os.link(self.path, staged)
        except OSError:  # a file system without hard links: copy
            shutil.copyfile(self.path, staged)
        os.replace(staged, self.backup)
