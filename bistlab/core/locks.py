"""One exclusive file lock for every "one at a time" of a workspace: a cycle (``runs/cycle.lock``), an
LSTM hyperopt job (``runs/hyperopt/.lock``) and a state file's read-modify-write (``<file>.lock``).

The lock is an ``fcntl.flock`` on the file, so the kernel releases it when its process ends, however
it ends (a lock left by a killed process is simply taken over). The holder writes its details into the
file as JSON (``pid``, ``host``, ``since`` and what it runs, e.g. ``job_id``) for the message that
refuses the next one. A lock held as a file descriptor can be handed to a child process
(``pass_fds``): :meth:`FileLock.hand_over` lets go of this process's copy without unlocking.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bistlab.core.clock import utcnow
from bistlab.errors import BistlabError, WorkspaceError

__all__ = ["FileLock", "waiting_lock"]

_POLL_SECONDS = 0.1


def _unwritable(path: Path, err: OSError) -> WorkspaceError:
    return WorkspaceError(f"`{path}` must be writable but got {type(err).__name__}: {err}", path=path)


def _open(path: Path, unwritable: Callable[[OSError], Exception] | None = None) -> int:
    """A read-write descriptor of the lock file, its folder created.

    Raises:
        WorkspaceError: the lock file cannot be created or opened (or ``unwritable``'s error).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise (unwritable or (lambda e: _unwritable(path, e)))(err) from err


@contextlib.contextmanager
def waiting_lock(path: Path, *, unwritable: Callable[[OSError], Exception] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block, waiting for it as long as it takes (the
    read-modify-write of a state file by several processes).

    Args:
        path: the lock file.
        unwritable: the error of a lock file that cannot be opened (default: a
            :class:`~bistlab.errors.WorkspaceError` naming it).

    Raises:
        WorkspaceError: the lock file cannot be created or opened (or ``unwritable``'s error).
    """
    fd = _open(path, unwritable)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class FileLock:
    """An exclusive lock on one file, taken without waiting (or for a few seconds at most).

    Subclasses name what the lock guards by :meth:`refused`, the error raised when another process
    holds it.

    Args:
        path: the lock file.
        fd: a descriptor of the lock file that already holds the lock (inherited from a parent).
    """

    clear_on_release: bool = True
    """Empty the holder's details on :meth:`release` (a lock handed over keeps them)."""

    def __init__(self, path: Path, *, fd: int | None = None) -> None:
        self.path = Path(path)
        self.fd = fd

    def acquire(self, *, wait_seconds: float = 0.0, **details: Any) -> FileLock:
        """Take the lock, waiting up to ``wait_seconds``, and write the holder's details.

        Args:
            wait_seconds: how long to wait for a holder to let go, seconds.
            **details: what the holder runs, written beside its pid, host and start.

        Raises:
            BistlabError: :meth:`refused`: another process holds the lock.
            WorkspaceError: the lock file cannot be written.
        """
        fd = _open(self.path)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as err:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self.refused(self.holder()) from err
                time.sleep(_POLL_SECONDS)
        self.fd = fd
        self.mark(**details)
        return self

    def mark(self, **details: Any) -> None:
        """Write the holder's details (``pid``, ``host``, ``since`` and ``details``) into the lock file."""
        if self.fd is None:
            return
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": utcnow(), **details})
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)

    def holder(self) -> dict[str, Any]:
        """The details the holder wrote; ``{}`` while it has written none (or the file is unreadable)."""
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def held_elsewhere(self) -> bool:
        """Whether some process holds the lock now (a probe: take and let go at once)."""
        if self.fd is not None:
            return False
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def refused(self, holder: dict[str, Any]) -> BistlabError:
        """The error of a lock another process holds (``holder``: its details)."""
        who = f"process {holder['pid']} on {holder.get('host')} since {holder.get('since')}" if holder.get("pid") else "another process"
        return WorkspaceError(f"`{self.path}` must be free but is held by {who}", path=self.path)

    def release(self) -> None:
        """Let the lock go (the file stays; its details emptied unless :attr:`clear_on_release` is off)."""
        if self.fd is None:
            return
        try:
            if self.clear_on_release:
                os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None

    def hand_over(self) -> None:
        """Close this process's descriptor without unlocking: a child that inherited it holds the lock."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
