"""The workspace: where every file lives, and the typed records of the result files.

A workspace is a folder holding ``studies/`` (Optuna storages), ``runs/`` (cycle state, executed
notebooks, model artifacts, the default price store) and ``reports/`` (HTML). It is the current
directory unless ``BISTLAB_WORKSPACE`` names another one. Every path under it is built here::

    runs/state.json                          the cycle state (bistlab.state); state.json.bak its previous version
    runs/cycle.lock                          held by the process running a cycle (its pid, host, start)
    runs/STOP                                a graceful stop request
    runs/prices.sqlite                       the default price store (and its forecast ledger)
    runs/forecasts.sqlite                    the ledger beside a price table read in place
    runs/mlflow.db, runs/mlruns/             the cycles' MLflow store and artifacts (tracking on, no MLFLOW_TRACKING_URI)
    runs/cycle_<N>/<SYMBOL>_<h>d/            a task's run: best_params.json, model.pkl, model.json,
                                             evaluation.json, model_final.pkl/.json, notebooks,
                                             forward.json (an as-of cycle's forward record)
    runs/cycle_<N>/report.ipynb              the executed report notebook
    runs/cycle_<N>/universe.pkl              the prices as the cycle's run read them (for its notebooks)
    runs/hyperopt/<job_id>/                  an LSTM hyperopt job: state.json, results.json, best_params.json,
                                             STOP, worker.log, <study>_<group>.db, mlflow.db, mlruns/
    runs/hyperopt/.lock                      held by the job that runs
    studies/cycle_<N>/<SYMBOL>_<h>d.log      a task's Optuna study, a journal file (unless one storage is set);
                                             <SYMBOL>_<h>d.db, a SQLite study of an older cycle, is read and resumed
    reports/cycle_<N>.html                   the cycle report
    reports/cycle_<N>/                       its task pages, shared assets, predictions.csv, tasks.json
    reports/cycle_<N>/<SYMBOL>_<h>d/         a task's page, exported notebooks and copies of its results
    reports/hyperopt_<job_id>.html           an LSTM hyperopt job's report

Result files are typed records (:class:`BestParams`, :class:`ModelMeta`, :class:`Evaluation`,
:class:`FinalModelMeta`, :class:`ForwardScore`) that own their file names; :class:`TaskPaths` reads them from ``runs/``
or, after a cycle's runs were cleaned up, from the report's copies (:meth:`TaskPaths.read`).

The price store is ``runs/prices.sqlite`` unless ``BISTLAB_DB_URL`` (any SQLAlchemy URL, e.g.
``postgresql+psycopg2://user@127.0.0.1/bist``) says otherwise. Prices kept in a table of one's
own are read in place, read-only: ``BISTLAB_PRICE_TABLE`` names the table
(``market.daily_prices``) and ``BISTLAB_PRICE_COLUMNS`` maps bistlab's column names to the
table's, e.g. ``symbol=ticker,date=trade_date,close=px_close,volume=vol`` (see
:func:`bistlab.config.parse_price_columns` and :mod:`bistlab.store`).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from bistlab import faults
from bistlab.config import parse_price_columns
from bistlab.errors import ConfigError, DataError, WorkspaceError
from bistlab.jsonio import read_json_or_none, write_json_atomic
from bistlab.metrics import DirHit, SplitMetrics, usable_verdict
from bistlab.textfmt import trials_text
from bistlab.validate import check_symbol, task_key

__all__ = [
    "Workspace",
    "TaskPaths",
    "JobPaths",
    "Record",
    "BestParams",
    "ModelMeta",
    "Evaluation",
    "FinalModelMeta",
    "ForwardScore",
    "task_key",
    "study_name",
    "check_task_key",
    "check_job_id",
    "storage_url",
    "storage_path",
    "JOURNAL_SUFFIX",
]

R = TypeVar("R", bound="Record")

_CYCLE = "cycle_{}"
_CYCLE_NUMBER = re.compile(r"cycle_(\d+)")


_TASK_KEY = re.compile(r"(?P<symbol>.+)_(?P<horizon>[1-9][0-9]{0,4})d")
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_task_key(key: str) -> str:
    """Return ``key`` if it is ``"<SYMBOL>_<h>d"`` with a symbol under the symbol rule and h >= 1:
    what every path built from a task key checks first, so no key can leave its folder.

    Raises:
        ConfigError: naming the key.
    """
    match = _TASK_KEY.fullmatch(key) if isinstance(key, str) else None
    try:
        check_symbol(match["symbol"] if match else None)  # type: ignore[arg-type]
    except DataError as err:
        raise ConfigError("task", "<SYMBOL>_<h>d with a valid symbol and h >= 1, e.g. THYAO_7d", key) from err
    return key


def check_job_id(job_id: str) -> str:
    """Return ``job_id`` if it can name a folder under ``runs/hyperopt/``: 1 to 64 of letters, digits,
    '.', '_', '-', starting with a letter or digit (``YYYYMMDD_HHMMSS`` and its ``_2``...).

    Raises:
        ConfigError: naming the id (e.g. ``"../../etc"`` from a request).
    """
    if not isinstance(job_id, str) or _JOB_ID.fullmatch(job_id) is None:
        raise ConfigError("job_id", "1 to 64 of A-Z, a-z, 0-9, '.', '_', '-' starting with a letter or digit", job_id)
    return job_id


JOURNAL_SUFFIX = ".log"
"""The ending of an Optuna journal file (:func:`storage_url`)."""


def storage_url(path: str | Path) -> str:
    """The storage URL of a study file: ``journal:<path>`` for an Optuna journal file (ending in
    :data:`JOURNAL_SUFFIX`), else ``sqlite:///<path>`` (a SQLite file: ``.db``, ``.sqlite``).
    :func:`storage_path` gives the path back."""
    path = Path(path)
    return f"journal:{path}" if path.suffix == JOURNAL_SUFFIX else f"sqlite:///{path}"


def storage_path(url: str) -> Path | None:
    """The file behind a storage URL (``sqlite:///<path>``, ``journal:<path>`` or a bare path
    ending in :data:`JOURNAL_SUFFIX`); ``None`` for a server's (PostgreSQL, MySQL) or an
    in-memory SQLite database. The inverse of :func:`storage_url`."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    if url.startswith("journal:"):
        return Path(url.removeprefix("journal:"))
    if url.endswith(JOURNAL_SUFFIX) and "://" not in url:
        return Path(url)
    return None


def study_name(symbol: str, horizon: int, cycle: int) -> str:
    """``"<SYMBOL>_<h>d_c<N>"``: the name of a task's Optuna study in a cycle."""
    return f"{task_key(symbol, horizon)}_c{cycle}"


@dataclass(frozen=True)
class Workspace:
    """Paths of one bistlab workspace.

    Args:
        root: the workspace folder.
        db_url: SQLAlchemy URL of the price store; ``None`` means ``runs/prices.sqlite``.
        optuna_url: one Optuna storage for every study (PostgreSQL, for several machines);
            ``None`` means one journal file per study under ``studies/cycle_<N>/``
            (:meth:`study_storage`).
        price_table: the price table; another than ``"prices"`` (bistlab's own) is an existing
            table or view read in place, read-only (``"market.daily_prices"`` with a schema).
        price_columns: bistlab name -> column name of ``price_table`` (a volume of ``None``: no
            volume column); given, the table is read in place, read-only, even if it is called
            ``prices``. ``None``: bistlab's names.
    """

    root: Path
    db_url: str | None = field(default=None)
    optuna_url: str | None = field(default=None)
    price_table: str = field(default="prices")
    price_columns: dict[str, str | None] | None = field(default=None, hash=False)

    @classmethod
    def from_env(
        cls,
        root: Path | str | None = None,
        *,
        db_url: str | None = None,
        optuna_url: str | None = None,
        price_table: str | None = None,
        price_columns: dict[str, str | None] | None = None,
    ) -> "Workspace":
        """The workspace named by the arguments, else by the environment, else the current directory.

        Environment: ``BISTLAB_WORKSPACE``, ``BISTLAB_DB_URL``, ``BISTLAB_OPTUNA_URL``,
        ``BISTLAB_PRICE_TABLE``, ``BISTLAB_PRICE_COLUMNS`` (``field=column,...``).

        Raises:
            ConfigError: ``BISTLAB_PRICE_COLUMNS`` is malformed.
        """
        root_path = Path(root or os.environ.get("BISTLAB_WORKSPACE") or Path.cwd()).resolve()
        if price_columns is None:
            price_columns = parse_price_columns(os.environ.get("BISTLAB_PRICE_COLUMNS"))
        return cls(
            root=root_path,
            db_url=db_url or os.environ.get("BISTLAB_DB_URL") or None,
            optuna_url=optuna_url or os.environ.get("BISTLAB_OPTUNA_URL") or None,
            price_table=price_table or (os.environ.get("BISTLAB_PRICE_TABLE") or "").strip() or "prices",
            price_columns=dict(price_columns) if price_columns is not None else None,
        )

    def ensure(self) -> "Workspace":
        """Create the three workspace folders."""
        for folder in (self.studies, self.runs, self.reports):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def check_writable(self) -> "Workspace":
        """Create the three folders and write (then remove) a small file in each, so that a read-only
        or full workspace fails here, before any work starts (fault point ``workspace_probe``).

        Raises:
            WorkspaceError: naming the folder and the cause.
        """
        for folder in (self.studies, self.runs, self.reports):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(prefix=".bistlab-probe-", dir=folder)
                try:
                    faults.point("workspace_probe")
                    os.write(fd, b"bistlab")
                    os.fsync(fd)
                finally:
                    os.close(fd)
                    os.unlink(probe)
            except OSError as err:
                raise WorkspaceError(
                    f"`{folder}` must be a writable folder but got {type(err).__name__}: {err}; nothing was started", path=folder
                ) from err
        return self

    # ------------------------------------------------------------------ top level

    @property
    def studies(self) -> Path:
        return self.root / "studies"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def state_file(self) -> Path:
        """``runs/state.json``: the cycle state."""
        return self.runs / "state.json"

    @property
    def cycle_lock(self) -> Path:
        """``runs/cycle.lock``: locked while a cycle runs; holds the running cycle's pid, host and start."""
        return self.runs / "cycle.lock"

    @property
    def stop_file(self) -> Path:
        """Present while a graceful stop is requested (``bistlab cycle stop``)."""
        return self.runs / "STOP"

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    @property
    def own_price_table(self) -> bool:
        """The store is bistlab's own ``prices`` table (read and written), not a table read in place."""
        return self.price_table == "prices" and self.price_columns is None

    @property
    def price_url(self) -> str:
        """The price store's SQLAlchemy URL."""
        return self.db_url or storage_url(self.runs / "prices.sqlite")

    @property
    def ledger_url(self) -> str:
        """The forecast ledger's database: the price store's own, or ``runs/forecasts.sqlite``
        beside a price table read in place (which bistlab never writes)."""
        return self.price_url if self.own_price_table else storage_url(self.runs / "forecasts.sqlite")

    @property
    def mlflow_db(self) -> Path:
        """``runs/mlflow.db``: the cycles' MLflow tracking store (:mod:`bistlab.cycle_tracking`),
        unless ``MLFLOW_TRACKING_URI`` names another."""
        return self.runs / "mlflow.db"

    @property
    def mlruns(self) -> Path:
        """``runs/mlruns/``: the artifacts (the HTML reports) of the cycles' MLflow runs."""
        return self.runs / "mlruns"

    # ------------------------------------------------------------------ cycles

    def cycle_dir(self, cycle: int) -> Path:
        """``runs/cycle_<N>/``."""
        return self.runs / _CYCLE.format(cycle)

    def cycle_studies_dir(self, cycle: int) -> Path:
        """``studies/cycle_<N>/``: one study file per task (unless ``optuna_url`` is set)."""
        return self.studies / _CYCLE.format(cycle)

    def cycle_folders(self) -> list[tuple[int, Path]]:
        """Every ``runs/cycle_<N>/`` and ``studies/cycle_<N>/`` folder with its cycle number."""
        out = []
        for folder in sorted(self.runs.glob("cycle_*")) + sorted(self.studies.glob("cycle_*")):
            match = _CYCLE_NUMBER.fullmatch(folder.name)
            if match and folder.is_dir():
                out.append((int(match.group(1)), folder))
        return out

    def run_cycles(self) -> list[int]:
        """Cycle numbers with a ``runs/cycle_<N>/`` folder, newest first."""
        return sorted({n for n, f in self.cycle_folders() if f.parent == self.runs}, reverse=True)

    def task_dir(self, cycle: int, task_key: str) -> Path:
        """``runs/cycle_<N>/<SYMBOL>_<h>d/`` (the key checked: :func:`check_task_key`)."""
        return self.cycle_dir(cycle) / check_task_key(task_key)

    def task(self, cycle: int, key: str) -> "TaskPaths":
        """The files of one task of a cycle."""
        return TaskPaths(self, cycle, key)

    def study_storage(self, cycle: int, task_key: str) -> str:
        """Optuna storage URL of one task's study: ``optuna_url`` if set (PostgreSQL for several
        machines), else the task's own study file under ``studies/cycle_<N>/``: an Optuna journal
        file ``<task>.log`` (one owner process per file: :func:`bistlab.storage.fail_orphaned_trials`),
        or the SQLite file ``<task>.db`` where an older bistlab began the study, read and resumed."""
        if self.optuna_url:
            return self.optuna_url
        sqlite = self.cycle_studies_dir(cycle) / f"{check_task_key(task_key)}.db"
        return storage_url(sqlite if sqlite.exists() else sqlite.with_suffix(JOURNAL_SUFFIX))

    def universe_snapshot(self, cycle: int) -> Path:
        """``runs/cycle_<N>/universe.pkl``: the prices as the cycle read them, for its notebooks."""
        return self.cycle_dir(cycle) / "universe.pkl"

    def report_notebook(self, cycle: int) -> Path:
        """``runs/cycle_<N>/report.ipynb``: the executed report notebook."""
        return self.cycle_dir(cycle) / "report.ipynb"

    # ------------------------------------------------------------------ reports

    def report_file(self, cycle: int) -> Path:
        """``reports/cycle_<N>.html``: the cycle report."""
        return self.reports / f"{_CYCLE.format(cycle)}.html"

    def report_dir(self, cycle: int) -> Path:
        """``reports/cycle_<N>/``: task pages, shared assets, copies of the results."""
        return self.reports / _CYCLE.format(cycle)

    def task_report_dir(self, cycle: int, key: str) -> Path:
        """``reports/cycle_<N>/<SYMBOL>_<h>d/`` (keys come from the state, made by :func:`task_key`)."""
        return self.report_dir(cycle) / key

    def predictions_file(self, cycle: int) -> Path:
        """``reports/cycle_<N>/predictions.csv``: the latest forecast per task."""
        return self.report_dir(cycle) / "predictions.csv"

    def tasks_snapshot(self, cycle: int) -> Path:
        """``reports/cycle_<N>/tasks.json``: the cycle's tasks, kept with the report."""
        return self.report_dir(cycle) / "tasks.json"

    @staticmethod
    def report_href(cycle: int, *, from_task_page: bool = False) -> str:
        """The relative link to a cycle report, from the reports folder or from a task page."""
        return ("../../" if from_task_page else "") + f"{_CYCLE.format(cycle)}.html"

    @staticmethod
    def report_dir_href(cycle: int) -> str:
        """The relative link from a cycle report to its folder of task pages (``cycle_<N>/``)."""
        return f"{_CYCLE.format(cycle)}/"

    # ------------------------------------------------------------------ LSTM hyperopt jobs

    @property
    def hyperopt_dir(self) -> Path:
        """``runs/hyperopt/``: one folder per LSTM hyperopt job (:mod:`bistlab.lstm.jobs`)."""
        return self.runs / "hyperopt"

    def hyperopt_job_dir(self, job_id: str) -> Path:
        """``runs/hyperopt/<job_id>/``: the job's state.json, results.json, best_params.json and studies
        (the id checked: :func:`check_job_id`)."""
        return self.hyperopt_dir / check_job_id(job_id)

    def hyperopt_report(self, job_id: str) -> Path:
        """``reports/hyperopt_<job_id>.html``: the job's report (the id checked: :func:`check_job_id`)."""
        return self.reports / f"hyperopt_{check_job_id(job_id)}.html"

    @property
    def hyperopt_lock(self) -> Path:
        """``runs/hyperopt/.lock``: held by the one job that runs in the workspace."""
        return self.hyperopt_dir / ".lock"

    def job(self, job_id: str) -> "JobPaths":
        """The files of one LSTM hyperopt job."""
        return JobPaths(self.hyperopt_job_dir(job_id))


class Record:
    """A result file as a typed record: it owns its file name (:attr:`FILE`); :meth:`from_dict`
    ignores keys it does not know (files written by other versions stay readable)."""

    FILE: ClassVar[str]

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class BestParams(Record):
    """``best_params.json``: what HPO selected for one task, and how (:func:`bistlab.pipeline.hpo_step`).

    Attributes:
        symbol, horizon, cycle: the task (horizon in trading days).
        study_name, storage: its Optuna study.
        n_trials, n_complete, n_qualified: trials in all, complete, passing the support filter.
        best_trial_number, best_params, best_value: the selected trial, its Optuna parameters, its score.
        hpo_dirhit: its DirHit over the counted splits (mean, percent; biased upward by the search).
        hpo_avg_dirhit: its mean DirHit over every split with one.
        counted_splits: the splits the support filter counted.
        low_support: no trial passed the support filter; the 0/0.0 fallback selected this one.
        filter_used: the filter that selected it.
        config: the trial's :class:`~bistlab.space.TrialConfig` as a dict.
        features_enabled, feature_params, model_choice: from the config, for readers.
        symbol_metrics: ``{"<SYMBOL>_<h>d": symbol metrics}`` with the per-split list.
        space_removed: what was left out of the search space, and why.
        evaluation_spec: the :class:`~bistlab.evaluation.EvaluationSpec` as a dict.
        data_fingerprint: the prices the study ran on.
        hpo_wall_seconds: HPO's wall time.
        study_restart_note: why the study is a fresh one (prices changed between stop and resume).
        options_skipped: options the selected trial's fits could not apply, with the reason.
        n_pruned, n_failed: trials of the study stopped by the pruner and failed (``None`` in
            records written before they were kept).
        n_empty: trials pruned with fewer than ``min_valid_splits`` defined DirHits (empty masks;
            ``None`` in older records).
        n_requested: the trials the cycle asked for (finished: complete or pruned).
    """

    FILE: ClassVar[str] = "best_params.json"

    symbol: str
    horizon: int
    cycle: int
    study_name: str
    storage: str
    n_trials: int
    n_complete: int
    n_qualified: int
    best_trial_number: int
    best_params: dict[str, Any]
    best_value: float | None
    hpo_dirhit: float
    hpo_avg_dirhit: float | None
    counted_splits: list[int]
    low_support: bool
    filter_used: dict[str, Any]
    config: dict[str, Any]
    features_enabled: dict[str, bool]
    feature_params: dict[str, Any]
    model_choice: str
    symbol_metrics: dict[str, Any]
    space_removed: dict[str, str]
    evaluation_spec: dict[str, Any]
    data_fingerprint: str
    hpo_wall_seconds: float | None = None
    study_restart_note: str | None = None
    options_skipped: dict[str, Any] = field(default_factory=dict)
    n_pruned: int | None = None
    n_failed: int | None = None
    n_requested: int | None = None
    n_empty: int | None = None

    @property
    def key(self) -> str:
        return task_key(self.symbol, self.horizon)

    def trials_text(self) -> str:
        """The study's trials as :func:`bistlab.textfmt.trials_text` says them."""
        finished = self.n_complete + (self.n_pruned or 0)
        return trials_text(finished, self.n_requested, complete=self.n_complete, pruned=self.n_pruned, failed=self.n_failed, empty=self.n_empty, total=self.n_trials)

    @property
    def splits(self) -> list[dict[str, Any]]:
        """The selected trial's split metrics."""
        return list((self.symbol_metrics.get(self.key) or {}).get("split_metrics") or [])


@dataclass(frozen=True)
class ModelMeta(Record):
    """``model.json``: the model training fit on every row before the holdout (beside ``model.pkl``).

    Attributes:
        symbol, horizon, cycle: the task.
        model_file: the pickle beside it.
        trained_rows: ``[first, end)`` row indices fit on; trained_dates: their first and last date.
        config, best_params: the configuration fit.
        features: the feature columns.
        evaluation_spec: the spec it was fit under.
        data_fingerprint: the prices it was fit on.
        package_versions: the versions that fit it.
        low_support: the selection was LOW_SUPPORT.
        train_wall_seconds: training's wall time.
    """

    FILE: ClassVar[str] = "model.json"
    PICKLE: ClassVar[str] = "model.pkl"

    symbol: str
    horizon: int
    cycle: int
    model_file: str
    trained_rows: list[int]
    trained_dates: list[str]
    config: dict[str, Any]
    best_params: dict[str, Any]
    features: list[str]
    evaluation_spec: dict[str, Any]
    data_fingerprint: str
    package_versions: dict[str, str]
    low_support: bool
    train_wall_seconds: float | None = None


@dataclass(frozen=True)
class Evaluation(Record):
    """``evaluation.json``: WFV DirHit on the HPO's own splits (parity) and the online holdout.

    Attributes:
        symbol, horizon, cycle: the task.
        low_support: the selection was LOW_SUPPORT.
        hpo_dirhit: the HPO DirHit it is compared with.
        wfv_dirhit: the mean DirHit over the splits the selection's filter counts, after training.
        filter_used: that filter.
        wfv_counted_splits: those splits.
        wfv_pooled: ``hits`` and ``count`` over them.
        wfv_avg_dirhit: the mean over every split with a DirHit.
        wfv_parity_gap: ``wfv_dirhit − hpo_dirhit`` (0 = parity).
        wfv: symbol metrics of the splits after training.
        holdout: the holdout's :class:`~bistlab.metrics.SplitMetrics`.
        holdout_dates: its first and last date.
        holdout_predictions: ``dates``, ``y_pred`` and ``y_true`` of every holdout row.
        verdict: the usable rule on the holdout (:func:`bistlab.metrics.usable_verdict`).
        data_fingerprint: the prices evaluated.
        dirhit_threshold: the DirHit threshold of the evaluation (absolute log return).
        eval_wall_seconds: the evaluation's wall time.
        target: what DirHit is measured on: ``raw`` (the h-day log return; per-symbol tasks) or
            ``excess`` (over the date's cross-sectional median; universe tasks by default).
        universe: a universe task's pooled holdout figures (:func:`bistlab.panel_metrics.panel_metrics`),
            its verdict's components, and its figures per symbol; empty for a per-symbol task.
    """

    FILE: ClassVar[str] = "evaluation.json"

    symbol: str
    horizon: int
    cycle: int
    low_support: bool
    hpo_dirhit: float | None
    wfv_dirhit: float | None
    holdout: SplitMetrics
    holdout_dates: list[str]
    verdict: dict[str, Any]
    data_fingerprint: str
    filter_used: dict[str, Any] = field(default_factory=dict)
    wfv_counted_splits: list[int] = field(default_factory=list)
    wfv_pooled: dict[str, int] = field(default_factory=dict)
    wfv_avg_dirhit: float | None = None
    wfv_parity_gap: float | None = None
    wfv: dict[str, Any] = field(default_factory=dict)
    holdout_predictions: dict[str, list[Any]] = field(default_factory=dict)
    dirhit_threshold: float | None = None
    eval_wall_seconds: float | None = None
    target: str = "raw"
    universe: dict[str, Any] = field(default_factory=dict)

    @property
    def is_universe(self) -> bool:
        return bool(self.universe)

    def rule_verdict(self) -> dict[str, Any]:
        """The usable rule's verdict: a universe task's as evaluated (its pooled rule,
        :func:`bistlab.panel_metrics.universe_verdict`); a per-symbol task's recomputed from its
        holdout numbers with today's rule (:func:`bistlab.metrics.usable_verdict`)."""
        if self.is_universe:
            return dict(self.verdict)
        return usable_verdict(self.holdout, horizon=self.horizon)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Evaluation":
        holdout = data.get("holdout")
        data = {**data, "holdout": holdout if isinstance(holdout, SplitMetrics) else SplitMetrics.from_dict(holdout or {})}
        return super().from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        low, high = self.verdict.get("dirhit_lower_95"), self.verdict.get("dirhit_upper_95")
        out["holdout"]["dirhit_ci95"] = [low, high] if low is not None else None
        return out


@dataclass(frozen=True)
class FinalModelMeta(Record):
    """``model_final.json``: the selected configuration refit on every labelled row, for forecasts.

    Attributes:
        symbol, horizon, cycle: the task.
        model_file: the pickle beside it.
        trained_rows, trained_dates: the rows fit on.
        last_label_date: the last row whose label was known; last_label_realised: the date it was realised.
        as_of: the last price date.
        config: the configuration refit.
        data_fingerprint: the prices it was fit on; hpo_data_fingerprint: the prices HPO saw.
        fit_wall_seconds: the refit's wall time.
    """

    FILE: ClassVar[str] = "model_final.json"
    PICKLE: ClassVar[str] = "model_final.pkl"

    symbol: str
    horizon: int
    cycle: int
    model_file: str
    trained_rows: list[int]
    trained_dates: list[str]
    last_label_date: str
    last_label_realised: str
    as_of: str
    config: dict[str, Any]
    data_fingerprint: str
    hpo_data_fingerprint: str | None = None
    fit_wall_seconds: float | None = None


@dataclass(frozen=True)
class ForwardScore(Record):
    """``forward.json``: an as-of cycle's frozen final model scored on every later session
    (:func:`bistlab.forward.forward_cycle`); a copy is kept in the report folder.

    Attributes:
        symbol, horizon, cycle: the task (horizon in trading days; sessions for a universe task).
        as_of: the cycle's as-of date: the model saw no price after it.
        scored_at: when it was scored (UTC ISO).
        target: what DirHit is measured on, ``raw`` (the h-day log return) or ``excess``.
        dirhit_threshold: the mask's threshold (absolute log return).
        sessions: sessions after ``as_of`` whose label is known now (scored).
        rows: rows scored (a universe task: every symbol of each session; else ``sessions``).
        first_date, last_date: the first and last session scored (``None``: none yet).
        last_label_realised: the frozen model's last training label was realised on this date
            (never after ``as_of``).
        model_fingerprint: the prices the frozen model was fit on.
        data_fingerprint: the prices scored against (the store now).
        metrics: :class:`~bistlab.metrics.SplitMetrics` (per-symbol task) or
            :class:`~bistlab.panel_metrics.PanelMetrics` (universe task) of the scored rows, as a dict.
        figures: ``model`` (the masked rows), ``persistence`` and ``majority`` (same rows), and for
            a per-symbol task ``call``: :class:`~bistlab.metrics.DirHit` dicts with their intervals.
        n_eff: the effective count of the masked rows (a universe task: of their sessions).
        passes_rule: the task's own usable rule on its holdout at the cycle.
        usable: its usable flag at the cycle (after the cycle-wide false-discovery control).
        method: how the intervals were computed, in words.
    """

    FILE: ClassVar[str] = "forward.json"

    symbol: str
    horizon: int
    cycle: int
    as_of: str
    scored_at: str
    target: str
    dirhit_threshold: float
    sessions: int
    rows: int
    first_date: str | None
    last_date: str | None
    last_label_realised: str
    model_fingerprint: str
    data_fingerprint: str
    metrics: dict[str, Any]
    figures: dict[str, dict[str, Any]]
    n_eff: float
    passes_rule: bool | None = None
    usable: bool | None = None
    method: str = ""

    @property
    def key(self) -> str:
        return task_key(self.symbol, self.horizon)

    def figure(self, name: str) -> DirHit:
        """A figure of :attr:`figures` (``model``, ``persistence``, ``majority``, ``call``); undefined when absent."""
        data = self.figures.get(name)
        return DirHit(**data) if data else DirHit(None, 0, 0.0)


@dataclass(frozen=True)
class JobPaths:
    """The files of one LSTM hyperopt job, ``runs/hyperopt/<job_id>/``.

    Attributes:
        folder: the job's folder.
    """

    folder: Path

    @property
    def state(self) -> Path:
        """``state.json``: status, config, progress, time estimates, device, worker pid, error."""
        return self.folder / "state.json"

    @property
    def results(self) -> Path:
        """``results.json``: best parameters, group results, fixed parameters, holdout evaluation."""
        return self.folder / "results.json"

    @property
    def best_params(self) -> Path:
        """``best_params.json``: the best parameters only."""
        return self.folder / "best_params.json"

    @property
    def stop(self) -> Path:
        """``STOP``: present while a stop is requested."""
        return self.folder / "STOP"

    @property
    def worker_log(self) -> Path:
        """``worker.log``: a detached worker's log."""
        return self.folder / "worker.log"

    def study(self, study_name: str, group: str) -> Path:
        """The SQLite file of a group's study: ``<study_name>_<group>.db``."""
        return self.folder / f"{study_name}_{group}.db"

    @property
    def mlflow_db(self) -> Path:
        """``mlflow.db``: the job's MLflow tracking store."""
        return self.folder / "mlflow.db"

    @property
    def mlruns(self) -> Path:
        """``mlruns/``: the job's MLflow artifacts."""
        return self.folder / "mlruns"


@dataclass(frozen=True)
class TaskPaths:
    """The files of one task in one cycle: ``runs/cycle_<N>/<KEY>/`` and its report copy
    ``reports/cycle_<N>/<KEY>/``.

    Attributes:
        ws: the workspace.
        cycle: the cycle.
        key: ``"<SYMBOL>_<h>d"``.
    """

    ws: Workspace
    cycle: int
    key: str

    @classmethod
    def of(cls, ws: Workspace, cycle: int, symbol: str, horizon: int) -> "TaskPaths":
        return cls(ws, cycle, task_key(symbol, horizon))

    @property
    def folder(self) -> Path:
        """``runs/cycle_<N>/<KEY>/``: where the steps write."""
        return self.ws.task_dir(self.cycle, self.key)

    @property
    def report_folder(self) -> Path:
        """``reports/cycle_<N>/<KEY>/``: the task page, exported notebooks, copies of the results."""
        return self.ws.task_report_dir(self.cycle, self.key)

    def path(self, record: type[Record]) -> Path:
        """Where ``record``'s file is written."""
        return self.folder / record.FILE

    @property
    def best_params(self) -> Path:
        return self.path(BestParams)

    @property
    def model(self) -> Path:
        return self.folder / ModelMeta.PICKLE

    @property
    def model_meta(self) -> Path:
        return self.path(ModelMeta)

    @property
    def evaluation(self) -> Path:
        return self.path(Evaluation)

    @property
    def final_model(self) -> Path:
        return self.folder / FinalModelMeta.PICKLE

    @property
    def final_meta(self) -> Path:
        return self.path(FinalModelMeta)

    def notebook(self, name: str) -> Path:
        """The executed notebook ``<name>.ipynb`` of the task."""
        return self.folder / f"{name}.ipynb"

    def notebook_html(self, name: str) -> Path:
        """The notebook exported beside the task page."""
        return self.report_folder / f"{name}.html"

    @property
    def page(self) -> Path:
        """The task page ``index.html``."""
        return self.report_folder / "index.html"

    @property
    def study_copy(self) -> Path:
        """``study.json``: the compact study record kept with the report."""
        return self.report_folder / "study.json"

    def find(self, name: str) -> Path | None:
        """A result file from ``runs/``, or the report's copy after ``runs/`` was cleaned up."""
        for folder in (self.folder, self.report_folder):
            if (folder / name).exists():
                return folder / name
        return None

    def read(self, record: type[R]) -> R | None:
        """The task's ``record`` from ``runs/`` or the report's copy; ``None`` when absent or unreadable."""
        path = self.find(record.FILE)
        data = read_json_or_none(path) if path else None
        if not isinstance(data, dict):
            return None
        try:
            return record.from_dict(data)
        except (TypeError, ValueError, KeyError):
            return None

    def read_from(self, record: type[R]) -> tuple[R | None, str]:
        """Like :meth:`read`, with where it was read: ``"runs"`` or ``"reports copy"``."""
        found = self.read(record)
        where = "runs" if (self.folder / record.FILE).exists() else "reports copy"
        return found, where

    def write(self, record: Record) -> Path:
        """Write ``record`` atomically into ``runs/``."""
        return write_json_atomic(self.path(type(record)), record.to_dict())
