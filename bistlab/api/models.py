"""Request and response models of the hyperopt REST API (the specification's shapes, plus ``job_id``).

The request model mirrors :class:`bistlab.lstm.config.OptimizationConfig` field for field; it checks
types only (strict: ``"4"`` is not a number, ``true`` is not an integer, unknown fields are refused).
Every rule on values (modes, ranges, ``target_group`` with mode ``group``) stays in
:class:`OptimizationConfig` (its checks when it is made), the one source of truth, whose
:class:`~bistlab.errors.ConfigError` the app answers with 422 and its message. Defaults shown here
are the dataclass's own (a test keeps them equal); a field the client leaves out takes the
dataclass's default, not this model's.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bistlab.lstm.config import MODES, PRIMARY_METRICS, OptimizationConfig
from bistlab.lstm.groups import GROUP_ORDER

__all__ = [
    "JOB_ID_PATTERN",
    "StartRequest",
    "JobRef",
    "TimeEstimate",
    "StartAnswer",
    "StopAnswer",
    "ResumeProgress",
    "ResumeAnswer",
    "StatusAnswer",
    "ResultsAnswer",
    "JobSummary",
    "JobsAnswer",
    "EpochTrial",
    "EpochsAnswer",
    "HealthAnswer",
    "CycleTask",
    "CycleStatusAnswer",
    "ErrorAnswer",
]

JOB_ID_PATTERN = r"^\d{8}_\d{6}(_\d+)?$"
"""A job id: ``YYYYMMDD_HHMMSS``, with ``_2``, ``_3``... when two jobs started in the same second."""

_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(OptimizationConfig) if f.default is not MISSING}


def _d(name: str) -> Any:
    value = _DEFAULTS[name]
    return list(value) if isinstance(value, tuple) else value


class StartRequest(BaseModel):
    """``POST /api/hyperopt/start``: the specification's request fields, then bistlab's data and model settings."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"mode": "full", "target_group": None, "epochs_per_trial": 4, "max_trials_per_group": 15,
                                         "max_total_hours": 24.0, "primary_metric": "val_f1", "study_name": "ml_hyperopt",
                                         "use_mlflow": False, "seed": 42, "symbols": ["SP500"], "horizon": 7}]},
    )

    mode: str = Field(_d("mode"), description=f"One of {', '.join(MODES)}.")
    target_group: str | None = Field(None, description=f"The group of mode `group`: one of {', '.join(GROUP_ORDER)}; empty otherwise.")
    epochs_per_trial: int = Field(_d("epochs_per_trial"), description="Epochs per trial (>= 1).")
    max_trials_per_group: int = Field(_d("max_trials_per_group"), description="Finished (complete or pruned) trials per group study (>= 1).")
    max_total_hours: float = Field(_d("max_total_hours"), description="Time budget of the job's running time across resumes (> 0).")
    max_total_time_hours: float | None = Field(None, description="The specification's name of `max_total_hours` (used when that one is not given).")
    n_startup_trials: int = Field(_d("n_startup_trials"), description="Random trials before TPE, also the pruner's startup (>= 0).")
    n_warmup_steps: int = Field(_d("n_warmup_steps"), description="Epochs before a trial may be pruned (>= 0).")
    pruning_percentile: float = Field(_d("pruning_percentile"), description="Prune below this percentile of earlier trials at the same epoch (0..100).")
    primary_metric: str = Field(_d("primary_metric"), description=f"One of {', '.join(PRIMARY_METRICS)}.")
    convergence_patience: int = Field(_d("convergence_patience"), description="Finished trials without improvement that end a group (>= 1).")
    convergence_threshold: float = Field(_d("convergence_threshold"), description="Improvement of the best value that counts (>= 0).")
    use_mlflow: bool = Field(_d("use_mlflow"), description="Track the job in a local MLflow store (needs bistlab[mlflow]).")
    seed: int = Field(_d("seed"), description="Seed of samplers, models and batches (>= 0).")
    study_name: str = Field(_d("study_name"), description="Prefix of the group studies: letters, digits, '_' or '-'.")
    symbols: list[str] | str = Field(_d("symbols"), description="Symbols of the price store (a list, or one comma-separated string); empty: every symbol.")
    horizon: int = Field(_d("horizon"), description="h in trading days: the vertical barrier and the purge (>= 1).")
    feature_groups: list[str] | str = Field(_d("feature_groups"), description="Extra feature groups beside core.")
    n_splits: int = Field(_d("n_splits"), description="Purged walk-forward splits (>= 1).")
    sequence_length: int = Field(_d("sequence_length"), description="Feature rows per window (>= 1).")
    hidden_size: int = Field(_d("hidden_size"), description="LSTM units (>= 1).")
    num_layers: int = Field(_d("num_layers"), description="LSTM layers (>= 1).")
    early_stopping_patience: int = Field(_d("early_stopping_patience"), description="Epochs without a better validation metric before a split stops (>= 1).")
    num_threads: int | None = Field(None, description="Torch threads (>= 1); empty: the machine's cores, at most 4.")
    base_job: str | None = Field(None, description="A job whose best parameters fix the groups not searched (fine_tune default: the latest completed job).")
    device: str = Field(_d("device"), description="auto, cpu or cuda.")
    seed_repeats: int = Field(_d("seed_repeats"), description="Extra seeds the incumbent of each group is trained with; the spread is the noise an improvement must exceed (0..10).")

    def to_config(self) -> OptimizationConfig:
        """The job's configuration from the fields the client sent (the others keep the dataclass defaults).

        Raises:
            ConfigError: an unknown or malformed field (or an invalid value: the configuration checks every field when it is made).
        """
        return OptimizationConfig.from_dict(self.model_dump(exclude_unset=True))


class JobRef(BaseModel):
    """Body of ``stop`` and ``resume`` (optional): which job; empty means the running or latest one."""

    model_config = ConfigDict(extra="forbid", strict=True)

    job_id: str | None = Field(None, pattern=JOB_ID_PATTERN, description="A job id; empty: the running job (stop) or the latest job (resume).")


class TimeEstimate(BaseModel):
    """The time estimate measured before the start: one real epoch × epochs × the most trials the mode can run."""

    estimated_hours: float | None = None
    total_trials: int | None = None
    seconds_per_epoch: float | None = None
    measured: bool | None = None


class StartAnswer(BaseModel):
    """The specification's start response, with the worker's pid."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"success": True, "job_id": "20231217_215832", "status": "starting",
                                                               "time_estimate": {"estimated_hours": 8.5, "total_trials": 90, "seconds_per_epoch": 0.25, "measured": True},
                                                               "pid": 4242, "message": "job 20231217_215832 started in worker 4242"}]})

    success: bool
    job_id: str
    status: str
    time_estimate: TimeEstimate
    pid: int | None = None
    message: str = ""


class StopAnswer(BaseModel):
    """The specification's stop response (``success`` false, with the reason, when the job is not running)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"success": True, "status": "paused", "can_resume": True, "job_id": "20231217_215832",
                                                               "message": "stop requested: job 20231217_215832 pauses at the next epoch boundary; the interrupted trial runs again on resume"}]})

    success: bool
    status: str
    message: str
    can_resume: bool
    job_id: str | None = None


class ResumeProgress(BaseModel):
    current_group: str | None = None
    current_trial: int | None = None
    groups_completed: list[str] = []


class ResumeAnswer(BaseModel):
    """The specification's resume response, with the worker's pid."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"success": True, "status": "resumed", "job_id": "20231217_215832",
                                                               "progress": {"current_group": "regularization", "current_trial": 8, "groups_completed": ["learning_rate"]}, "pid": 4243}]})

    success: bool
    status: str
    job_id: str
    progress: ResumeProgress
    pid: int | None = None


class StatusAnswer(BaseModel):
    """A job's status: state.json with the progress lifted to the top, or ``idle`` (``job_id`` null) when the workspace has no job.

    A job recorded running whose worker is gone is ``failed`` with the reason in ``error``
    (``recorded_status`` keeps what state.json says) and ``resumable``. ``verdict`` (``usable``
    and its sentence: the usable rule on the holdout DirHit of the calls) once the job has
    evaluated its holdout.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [{"success": True, "job_id": "20231217_215832", "status": "running", "mode": "full",
                                                               "current_group": "regularization", "current_trial": 8, "current_epoch": 2,
                                                               "groups_completed": ["learning_rate"], "best_values": {"learning_rate": 0.41},
                                                               "time_estimate_refined": {"remaining_hours": 6.1, "estimated_total_hours": 7.9}}]})

    success: bool = True
    job_id: str | None
    status: str
    message: str | None = None
    recorded_status: str | None = None
    stop_requested: bool = False
    resumable: bool = False
    mode: str | None = None
    current_group: str | None = None
    current_trial: int | None = None
    current_epoch: int | None = None
    groups_planned: list[str] = []
    groups_completed: list[str] = []
    trials_done: dict[str, int] = {}
    best_values: dict[str, float | None] = {}
    total_trials_done: int = 0
    max_trials_per_group: int | None = None
    time_estimate: dict[str, Any] | None = None
    time_estimate_refined: dict[str, Any] | None = None
    error: str | None = None
    stop_reason: str | None = None
    data_changed: str | None = None
    pid: int | None = None
    device: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    elapsed_seconds: float | None = None
    report_url: str | None = None
    verdict: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None


class ResultsAnswer(BaseModel):
    """A job's results.json as far as it got (``holdout`` null until completed), with its status and report."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"success": True, "job_id": "20231217_215832", "status": "completed",
                                                                             "best_params": {"learning_rate": 0.0021, "batch_size": 64}, "best_value": 0.43,
                                                                             "groups_completed": ["learning_rate"], "group_results": {}, "fixed_params": {},
                                                                             "holdout": {"val_f1": 0.41}, "report_url": "/reports/hyperopt_20231217_215832.html"}]})

    success: bool = True
    job_id: str
    status: str
    best_params: dict[str, Any] = {}
    best_value: float | None = None
    group_results: dict[str, Any] = {}
    fixed_params: dict[str, Any] = {}
    groups_completed: list[str] = []
    holdout: dict[str, Any] | None = None
    report_url: str | None = None


class JobSummary(BaseModel):
    job_id: str
    status: str
    mode: str
    created_at: str | None = None
    groups_completed: list[str] = []
    best_values: dict[str, float | None] = {}
    error: str | None = None


class JobsAnswer(BaseModel):
    """Every job of the workspace, oldest first; ``job_id`` is the latest one."""

    success: bool = True
    job_id: str | None
    jobs: list[JobSummary]


class EpochTrial(BaseModel):
    number: int
    state: str
    value: float | None = None
    epoch_values: list[float | None] = []


class EpochsAnswer(BaseModel):
    """The mean validation metric after each epoch of the latest trials of one group (a running trial included)."""

    success: bool = True
    job_id: str | None
    group: str | None
    metric: str | None = None
    trials: list[EpochTrial] = []


class HealthAnswer(BaseModel):
    success: bool = True
    status: str = "ok"
    job_id: str | None = Field(None, description="The running job, else the latest one, else null.")
    running: bool = False
    version: str


class CycleTask(BaseModel):
    """One task of a cycle: its status, holdout DirHit (percent, masked rows, 95 % interval) and verdict."""

    key: str = Field(description="`<SYMBOL>_<h>d`.")
    symbol: str
    horizon: int
    status: str = Field(description="pending, hpo_in_progress, training_in_progress, completed, failed or skipped.")
    holdout_dirhit: float | None = Field(None, description="The holdout DirHit, percent (null before the evaluation or when undefined).")
    holdout_count: int | None = Field(None, description="The masked holdout rows behind it.")
    holdout_low: float | None = Field(None, description="Lower end of its 95 % interval, percent.")
    holdout_high: float | None = Field(None, description="Upper end of its 95 % interval, percent.")
    holdout_text: str | None = Field(None, description="The DirHit as the report writes it, e.g. `58.3 % (n=120, n_eff=18, 95 % CI 35.2–78.1)`.")
    target: str | None = Field(None, description="What DirHit is about: `raw` (the h-day log return) or `excess` (a universe task).")
    low_support: bool | None = None
    passes_rule: bool | None = Field(None, description="The usable rule on the task's own holdout.")
    usable: bool | None = Field(None, description="Passes the rule and the cycle-wide false-discovery control.")
    verdict: str | None = Field(None, description="`usable`, `passes alone` (not after the cycle-wide control) or `not usable`; null before the holdout evaluation.")
    error: str | None = None
    note: str | None = None


class CycleStatusAnswer(BaseModel):
    """The current (or asked-for) cycle: its status and, per task, status, holdout DirHit and verdict (read-only)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"success": True, "cycle": 3, "status": "running", "message": "run by process 4242 on lab1 since 2026-01-02T10:00:00+00:00",
                                                               "final": False, "counts": {"completed": 1, "hpo_in_progress": 1}, "usable": 0,
                                                               "control": {"q": 0.1, "tested": 1, "pass_alone": 1, "kept": 0, "earlier_looks": 0},
                                                               "tasks": [{"key": "SP500_7d", "symbol": "SP500", "horizon": 7, "status": "completed", "holdout_dirhit": 58.3,
                                                                          "holdout_count": 120, "holdout_text": "58.3 % (n=120, n_eff=18, 95 % CI 35.2–78.1)",
                                                                          "passes_rule": True, "usable": False, "verdict": "passes alone"}]}]})

    success: bool = True
    cycle: int | None = Field(description="The cycle number; null before the first cycle.")
    status: str = Field(description="idle (no cycle yet), running, paused, interrupted (no process runs it, tasks left), completed, or ended (an earlier cycle).")
    message: str | None = None
    final: bool = Field(False, description="Every task has ended: the verdicts are final (while it runs, the cycle-wide control counts the tasks evaluated so far).")
    counts: dict[str, int] = Field({}, description="Tasks per status.")
    usable: int = Field(0, description="Tasks usable after the cycle-wide control.")
    control: dict[str, Any] | None = Field(None, description="The false-discovery control: `q`, verdicts `tested`, `pass_alone`, `kept`, `earlier_looks` at the same holdouts.")
    tasks: list[CycleTask] = []


class ErrorAnswer(BaseModel):
    """Every error: ``message`` for people, ``error`` the kind, ``detail`` pydantic's list for a malformed request."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"success": False, "job_id": None, "error": "ConfigError",
                                                               "message": "`target_group` must be one of learning_rate, regularization, class_balance, augmentation, scheduler, triple_barrier (mode 'group' needs one) but got None"}]})

    success: bool = False
    job_id: str | None = None
    error: str
    message: str
    detail: Any = None
