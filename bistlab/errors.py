"""The exception hierarchy of bistlab.

Every error bistlab raises on purpose derives from :class:`BistlabError`. The subclasses carry
the fields a caller needs to act on them (symbol, horizon, file, split, trial); their messages
follow "`<name>` must be <rule> but got <value>" where a value is at fault.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BistlabError",
    "ConfigError",
    "DataError",
    "MalformedFileError",
    "InsufficientDataError",
    "SymbolNotFoundError",
    "TaskError",
    "NotebookError",
    "SelectionError",
    "NoTrainedCycleError",
    "StopRequested",
    "JobConflictError",
    "JobNotFoundError",
    "JobStateError",
    "ReadOnlyStorageError",
    "CycleLockedError",
    "StateFileError",
    "WorkspaceError",
    "StorageLockedError",
]


class BistlabError(Exception):
    """Root of every error bistlab raises on purpose.

    Every subclass pickles with its fields whatever its ``__init__`` takes (keyword-only fields
    included), so an error raised in a worker process reaches the driver as itself, not as a
    broken process pool.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls: type[BistlabError], args: tuple[object, ...], fields: dict[str, object]) -> BistlabError:
    """An unpickled :class:`BistlabError`: its message arguments and fields, no ``__init__`` call."""
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(fields)
    return err


class ConfigError(BistlabError, ValueError):
    """A setting or argument has an invalid value.

    Attributes:
        name: the setting's name.
        value: the value that was given.
    """

    def __init__(self, name: str, rule: str, value: object) -> None:
        self.name = name
        self.value = value
        super().__init__(f"`{name}` must be {rule} but got {value!r}")


class DataError(BistlabError):
    """Price data is unusable.

    Attributes:
        symbol: the symbol concerned, if known.
        path: the file concerned, if any.
    """

    def __init__(self, message: str, *, symbol: str | None = None, path: Path | str | None = None) -> None:
        self.symbol = symbol
        self.path = Path(path) if path is not None else None
        super().__init__(message)


class MalformedFileError(DataError):
    """A price file cannot be read as daily OHLCV."""


class SymbolNotFoundError(DataError):
    """The price store has no rows for a symbol."""


class InsufficientDataError(DataError):
    """A symbol has too few usable rows for a horizon.

    Attributes:
        horizon: horizon in trading days.
        n_rows: usable rows available.
        need: usable rows required.
    """

    def __init__(self, *, symbol: str, horizon: int | None, n_rows: int, need: int, detail: str = "") -> None:
        self.horizon = horizon
        self.n_rows = n_rows
        self.need = need
        where = f"{symbol}" + (f" h={horizon}d" if horizon is not None else "")
        extra = f"; {detail}" if detail else ""
        super().__init__(f"{where}: insufficient data ({n_rows} rows, need {need}){extra}", symbol=symbol)


class TaskError(BistlabError):
    """A stage of a (symbol, horizon) task failed.

    Attributes:
        symbol: the task's symbol.
        horizon: horizon in trading days.
        stage: the stage that failed (``"hpo"``, ``"train"`` or ``"evaluate"``, :data:`bistlab.runs.stages.STAGES`).
    """

    def __init__(self, message: str, *, symbol: str, horizon: int, stage: str) -> None:
        self.symbol = symbol
        self.horizon = horizon
        self.stage = stage
        super().__init__(f"{symbol} h={horizon}d [{stage}]: {message}")


class NotebookError(BistlabError):
    """A notebook raised while papermill executed it.

    Attributes:
        notebook: the executed copy (kept, with the traceback in it).
        ename: the exception's class name inside the notebook.
        evalue: its message.
        cell: the index of the cell that raised in the executed copy, if known.
        source: that cell's first line of code, if known.
    """

    def __init__(self, notebook: Path, ename: str, evalue: str, *, cell: int | None = None, source: str | None = None) -> None:
        self.notebook = notebook
        self.ename = ename
        self.evalue = evalue
        self.cell = cell
        self.source = source
        where = "" if cell is None else f" in cell {cell}" + (f" `{source}`" if source else "")
        super().__init__(f"{ename}: {evalue}{where} (see {notebook})")


class SelectionError(BistlabError):
    """No trial of a study can be selected, not even under the LOW_SUPPORT fallback.

    Attributes:
        study_name: the study searched.
    """

    def __init__(self, message: str, *, study_name: str) -> None:
        self.study_name = study_name
        super().__init__(f"study {study_name}: {message}")


class NoTrainedCycleError(BistlabError):
    """A command needs a trained cycle and the workspace has none."""


class StopRequested(BistlabError):
    """A graceful stop was requested (``bistlab cycle stop`` or Ctrl-C); the work pauses here.

    Attributes:
        task: the task key that paused, if any.
    """

    def __init__(self, message: str, *, task: str | None = None) -> None:
        self.task = task
        super().__init__(message)


class JobConflictError(BistlabError):
    """Another hyperopt job of the workspace is running; one job per workspace at a time.

    Attributes:
        job_id: the running job, if known.
        pid: its worker process, if known.
    """

    def __init__(self, message: str, *, job_id: str | None = None, pid: int | None = None) -> None:
        self.job_id = job_id
        self.pid = pid
        super().__init__(message)


class JobNotFoundError(BistlabError):
    """No hyperopt job of that id (or none at all) in the workspace.

    Attributes:
        job_id: the id asked for (``None``: the latest job, and there is none).
    """

    def __init__(self, message: str, *, job_id: str | None = None) -> None:
        self.job_id = job_id
        super().__init__(message)


class JobStateError(BistlabError):
    """A hyperopt job is in a state that does not allow the action (e.g. resuming a completed job).

    Attributes:
        job_id: the job.
        status: its status.
    """

    def __init__(self, message: str, *, job_id: str, status: str) -> None:
        self.job_id = job_id
        self.status = status
        super().__init__(message)


class ReadOnlyStorageError(BistlabError):
    """A write to a read-only view of studies (the combined storage of ``bistlab dashboard``)."""


class CycleLockedError(BistlabError):
    """Another process runs a cycle in this workspace; one cycle per workspace at a time.

    Attributes:
        pid: the running cycle's process, if known.
        host: its machine, if known.
        since: when it started (UTC ISO), if known.
    """

    def __init__(self, message: str, *, pid: int | None = None, host: str | None = None, since: str | None = None) -> None:
        self.pid = pid
        self.host = host
        self.since = since
        super().__init__(message)


class StateFileError(BistlabError):
    """The cycle state file cannot be read; it is never reset silently.

    Attributes:
        path: the state file.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        self.path = Path(path)
        super().__init__(message)


class WorkspaceError(BistlabError):
    """A workspace folder or file cannot be written (a read-only or full disk); nothing was half-written.

    Attributes:
        path: the folder or file concerned.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        self.path = Path(path)
        super().__init__(message)


class StorageLockedError(BistlabError):
    """An Optuna study storage stayed locked by another process after the waits and retries.

    Attributes:
        storage: the storage URL (password masked).
    """

    def __init__(self, message: str, *, storage: str) -> None:
        self.storage = storage
        super().__init__(message)
