"""The workspace: where every file lives.

A workspace is a folder holding ``studies/`` (Optuna storages), ``runs/`` (cycle state, executed
notebooks, model artifacts, the default price store) and ``reports/`` (HTML). It is the current
directory unless ``BISTLAB_WORKSPACE`` names another one. Every path under it is built here::

    runs/state.json                          the cycle state (bistlab.core.state); state.json.bak its previous version
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

Result files are typed records (:mod:`bistlab.core.records`) that own their file names; :class:`TaskPaths` reads them from ``runs/``
or, after a cycle's runs were cleaned up, from the report's copies (:meth:`TaskPaths.read`).

The price store is ``runs/prices.sqlite`` unless ``BISTLAB_DB_URL`` (any SQLAlchemy URL, e.g.
``postgresql+psycopg2://user@127.0.0.1/bist``) says otherwise. Prices kept in a table of one's
own are read in place, read-only: ``BISTLAB_PRICE_TABLE`` names the table
(``market.daily_prices``) and ``BISTLAB_PRICE_COLUMNS`` maps bistlab's column names to the
table's, e.g. ``symbol=ticker,date=trade_date,close=px_close,volume=vol`` (see
:func:`bistlab.config.parse_price_columns` and :mod:`bistlab.data.store`).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bistlab.core import faults
from bistlab.config import parse_price_columns
from bistlab.core.db_urls import JOURNAL_SUFFIX, storage_url
from bistlab.errors import ConfigError, WorkspaceError
from bistlab.core.jsonio import read_json_or_none, write_json_atomic
from bistlab.core.names import check_job_id, check_task_key, group_study_name, study_name
from bistlab.core.job_records import JobResults, JobState
from bistlab.core.records import BestParams, Evaluation, FinalModelMeta, ForwardScore, ModelMeta, R, Record
from bistlab.core.names import task_key
from bistlab.core.statefile import STATE_FILE

__all__ = ["Workspace", "TaskPaths", "JobPaths", "task_key", "ASSET_HREF", "PLOTLY_JS", "NOTEBOOK_CSS"]


_CYCLE = "cycle_{}"
PLOTLY_JS = "plotly.min.js"
"""The cycle's one shared local plotly.js, in ``reports/cycle_<N>/``."""
NOTEBOOK_CSS = "notebook.css"
"""The cycle's one shared stylesheet of the exported notebooks, in ``reports/cycle_<N>/``."""
ASSET_HREF = "../{}"
"""The link from a task page (or an exported notebook) to a shared asset of its cycle."""
_CYCLE_NUMBER = re.compile(r"cycle_(\d+)")


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
        return self.runs / STATE_FILE

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
        """``runs/mlflow.db``: the cycles' MLflow tracking store (:mod:`bistlab.runs.cycle_tracking`),
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
        file ``<task>.log`` (one owner process per file: :func:`bistlab.search.storage.fail_orphaned_trials`),
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

    def report_asset(self, cycle: int, name: str) -> Path:
        """A shared asset of the cycle's pages (:data:`PLOTLY_JS`, :data:`NOTEBOOK_CSS`) in ``reports/cycle_<N>/``."""
        return self.report_dir(cycle) / name

    def report_cache(self, cycle: int) -> Path:
        """``reports/cycle_<N>/report.pkl``: the driver's loaded report, kept while the ``report`` notebook runs."""
        return self.report_dir(cycle) / "report.pkl"

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
        return self.path(JobState)

    @property
    def results(self) -> Path:
        """``results.json``: best parameters, group results, fixed parameters, holdout evaluation."""
        return self.path(JobResults)

    def path(self, record: type[Record]) -> Path:
        """Where the job's ``record`` (:class:`~bistlab.core.job_records.JobState`, :class:`~bistlab.core.job_records.JobResults`) lives."""
        return self.folder / record.FILE

    @property
    def best_params(self) -> Path:
        """``best_params.json``: the best parameters only."""
        return self.folder / BestParams.FILE  # named as a task's best parameters

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
        return self.folder / self.study_file(group_study_name(study_name, group))

    @staticmethod
    def study_file(study: str) -> str:
        """The name of a study's SQLite file in the job folder: ``<study>.db``."""
        return f"{study}.db"

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
