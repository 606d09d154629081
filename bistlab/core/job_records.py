"""The typed records of an LSTM hyperopt job's files: :class:`JobState` (``state.json``) and
:class:`JobResults` (``results.json``), with :class:`JobProgress` inside the state.

Each owns its file name (:attr:`~bistlab.core.records.Record.FILE`; where it lives is
:class:`bistlab.core.workspace.JobPaths`) and is read and written through a
:class:`~bistlab.core.statefile.JsonStateFile`. ``from_dict`` reads every file the job runner has
written: missing keys take their defaults, keys it does not know are kept in :attr:`extra` and
written back unchanged; ``to_dict`` gives the keys the file has always had (an optional key,
:attr:`JsonRecord.OPTIONAL`, only once it has a value).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from bistlab.core.records import Record
from bistlab.core.statefile import STATE_FILE

__all__ = ["JsonRecord", "JobStatus", "JobProgress", "JobState", "JobResults"]

J = TypeVar("J", bound="JsonRecord")


class JsonRecord(Record):
    """A record read from and written to JSON that loses nothing: keys it does not know are kept in
    ``extra`` (a field of every subclass) and written back.

    ``OPTIONAL`` names the fields written only once they are not ``None`` (keys the job runner adds
    along the way, absent from older files and from the file until then).
    """

    OPTIONAL: ClassVar[frozenset[str]] = frozenset()
    NESTED: ClassVar[dict[str, type[JsonRecord]]] = {}
    extra: dict[str, Any]

    @classmethod
    def from_dict(cls: type[J], data: dict[str, Any]) -> J:
        """From the file's dict: missing keys take their defaults, unknown ones go to ``extra``.

        Raises:
            TypeError: ``data`` is not a dict, or lacks a key without a default.
        """
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__} must be read from a JSON object but got {type(data).__name__}")
        names = {f.name for f in fields(cls) if f.name != "extra"}  # type: ignore[arg-type]
        known = {k: v for k, v in data.items() if k in names}
        for name, nested in cls.NESTED.items():
            if isinstance(known.get(name), dict):
                known[name] = nested.from_dict(known[name])
        return cls(**known, extra={k: v for k, v in data.items() if k not in names})

    def to_dict(self) -> dict[str, Any]:
        """The file's dict: every field (an optional one once set), then the keys kept in ``extra``."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "extra" or (f.name in self.OPTIONAL and value is None):
                continue
            out[f.name] = value.to_dict() if isinstance(value, JsonRecord) else value
        return {**out, **{k: v for k, v in self.extra.items() if k not in out}}


class JobStatus:
    """The statuses of a hyperopt job (the specification's); ``ENDED``: its process has ended it, ``LIVE``: a process runs it."""

    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    ALL = (STARTING, RUNNING, PAUSED, COMPLETED, FAILED)
    LIVE = (STARTING, RUNNING)
    ENDED = (PAUSED, COMPLETED, FAILED)


@dataclass
class JobProgress(JsonRecord):
    """``progress`` of ``state.json``: where the job is.

    Attributes:
        current_group: the group running (``final_fit`` during the final fit), else ``None``.
        current_trial, current_epoch: the trial and epoch running.
        groups_planned: the mode's groups, in order.
        groups_completed: the groups done, in order.
        trials_done: finished trials per group.
        best_values: the best value so far per group.
        total_trials_done: trials finished in all.
        extra: keys of other versions, kept.
    """

    current_group: str | None = None
    current_trial: int | None = None
    current_epoch: int | None = None
    groups_planned: list[str] = field(default_factory=list)
    groups_completed: list[str] = field(default_factory=list)
    trials_done: dict[str, int] = field(default_factory=dict)
    best_values: dict[str, float | None] = field(default_factory=dict)
    total_trials_done: int = 0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def at(self, group: str | None, trial: int | None = None, epoch: int | None = None) -> None:
        """Set the current group, trial and epoch."""
        self.current_group, self.current_trial, self.current_epoch = group, trial, epoch


@dataclass
class JobState(JsonRecord):
    """``runs/hyperopt/<job_id>/state.json``: a job's status, settings, progress and timings
    (:mod:`bistlab.lstm.jobs` writes it at the start, :mod:`bistlab.lstm.runner` after every trial).

    Attributes:
        job_id: ``YYYYMMDD_HHMMSS``.
        status: one of :class:`JobStatus`.
        created_at, started_at, finished_at, updated_at: UTC ISO timestamps.
        config: the job's :class:`~bistlab.lstm.config.OptimizationConfig` as a dict.
        base_params, base_params_source: the parameters the groups not searched keep, and where they come from.
        progress: :class:`JobProgress`.
        time_estimate: the estimate measured before the start (``estimated_hours``, ``total_trials``,
            ``seconds_per_epoch``, ``seconds_per_trial``, ``final_fit_seconds``, ``measured``, ``device``, ``method``).
        time_estimate_refined: refined after every trial (``remaining_trials``, ``mean_trial_seconds``,
            ``remaining_hours``, ``estimated_total_hours``...).
        device: where it trains (cpu, cuda).
        pid: the process running it.
        error: why it failed, one line.
        elapsed_seconds: its running time across resumes.
        report: the path of its report.
        bistlab_version: the version that started it.
        data_fingerprint: the prices it runs on; data_changed: how they changed since its start.
        torch_threads: torch's threads.
        stop_reason: why it paused.
        resumed_at: when it was resumed (UTC ISO), in order.
        mlflow: ``tracking_uri``, ``parent_run_id``, ``experiment`` of its MLflow run.
        data: ``symbols``, ``skipped`` and ``features`` of its data.
        trial_seconds: the measured trial durations.
        extra: keys of other versions, kept.
    """

    FILE: ClassVar[str] = STATE_FILE
    OPTIONAL: ClassVar[frozenset[str]] = frozenset(
        {"data_fingerprint", "torch_threads", "stop_reason", "resumed_at", "mlflow", "data_changed", "data", "trial_seconds"}
    )
    NESTED: ClassVar[dict[str, type[JsonRecord]]] = {"progress": JobProgress}

    job_id: str
    status: str = JobStatus.STARTING
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    base_params: dict[str, Any] = field(default_factory=dict)
    base_params_source: str | None = None
    progress: JobProgress = field(default_factory=JobProgress)
    time_estimate: dict[str, Any] | None = None
    time_estimate_refined: dict[str, Any] | None = None
    device: str | None = None
    pid: int | None = None
    error: str | None = None
    elapsed_seconds: float = 0.0
    report: str | None = None
    bistlab_version: str | None = None
    updated_at: str | None = None
    data_fingerprint: str | None = None
    torch_threads: int | None = None
    stop_reason: str | None = None
    resumed_at: list[str] | None = None
    mlflow: dict[str, Any] | None = None
    data_changed: str | None = None
    data: dict[str, Any] | None = None
    trial_seconds: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def mode(self) -> str | None:
        """The configuration's mode."""
        return self.config.get("mode")

    @property
    def ended(self) -> bool:
        return self.status in JobStatus.ENDED


@dataclass
class JobResults(JsonRecord):
    """``runs/hyperopt/<job_id>/results.json``: what a job found so far (written after every group and at its end).

    Attributes:
        job_id: the job.
        best_params: the best parameters so far (every group's best over the base parameters).
        best_value: the last group's best value (biased upward by the search).
        group_results: per group, what :func:`bistlab.lstm.optimizer.run_group` returned.
        fixed_params: per group, the parameters it started from.
        groups_completed: the groups done, in order.
        holdout: the final configuration's holdout evaluation (``None`` until completed).
        mode, study_name, config: the job's settings.
        base_params, base_params_source: the parameters the groups not searched keep, and where they come from.
        data: ``fingerprint``, ``symbols``, ``skipped``, ``features`` of its data.
        status, device: the job's status and device when written.
        updated_at: when written (UTC ISO).
        budget_exhausted: the group in which the time budget ran out, in words.
        extra: keys of other versions, kept.
    """

    FILE: ClassVar[str] = "results.json"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset(
        {"mode", "study_name", "config", "base_params_source", "base_params", "data", "status", "device", "updated_at", "budget_exhausted"}
    )

    job_id: str
    best_params: dict[str, Any] = field(default_factory=dict)
    best_value: float | None = None
    group_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    fixed_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups_completed: list[str] = field(default_factory=list)
    holdout: dict[str, Any] | None = None
    mode: str | None = None
    study_name: str | None = None
    config: dict[str, Any] | None = None
    base_params_source: str | None = None
    base_params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    status: str | None = None
    device: str | None = None
    updated_at: str | None = None
    budget_exhausted: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def last_result(self) -> dict[str, Any] | None:
        """The result of the last completed group that measured its best epochs, else ``None``."""
        return next((self.group_results[g] for g in reversed(self.groups_completed) if self.group_results.get(g, {}).get("best_epochs")), None)
