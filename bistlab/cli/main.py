"""The ``bistlab`` command line: data, cycles, status and reports.

The CLI owns the console: package code logs, the CLI prints tables and progress with rich.
Every bistlab error ends the command with one red line naming what is wrong, never a traceback.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich import box
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from bistlab.cli.common import console, current_workspace, err_console, fail, set_workspace
from bistlab.cli.forecasts import forward, predict
from bistlab.cli.hyperopt import hyperopt_app
from bistlab.cli.serve import serve_command
from bistlab.config import DEFAULT_HORIZONS, DEFAULT_PRUNER, PRUNER_NAMES, CycleConfig, default_workers
from bistlab.errors import BistlabError, ConfigError, DataError
from bistlab.lazy import lazy
from bistlab.core.textfmt import TRIALS_MEANING, trials_text

if TYPE_CHECKING:  # names in annotations only
    from bistlab.runs.cycle import CycleResult
    from bistlab.data.importers import ImportReport
    from bistlab.core.state import CycleState, TaskState

# imported on first use: `bistlab --help` starts without pandas, optuna or the models
pd = lazy("pandas")
optuna = lazy("optuna")
check_runnable, request_stop, run_cycle = (lazy("bistlab.runs.cycle", n) for n in ("check_runnable", "request_stop", "run_cycle"))
combined_storage = lazy("bistlab.api.dashboard", "combined_storage")
cycle_as_of = lazy("bistlab.runs.forward", "cycle_as_of")
import_paths, load_demo = lazy("bistlab.data.importers", "import_paths"), lazy("bistlab.data.importers", "load_demo")
task_rows = lazy("bistlab.runs.monitor", "task_rows")
update_predictions = lazy("bistlab.runs.predict", "update_predictions")
render_report = lazy("bistlab.report", "render_report")
StateFile, TaskStatus = lazy("bistlab.core.state", "StateFile"), lazy("bistlab.core.state", "TaskStatus")
PriceStore = lazy("bistlab.data.store", "PriceStore")
workspace_store = lazy("bistlab.data.stores", "workspace_store")
normalize_symbol, too_short = lazy("bistlab.core.names", "normalize_symbol"), lazy("bistlab.data.validate", "too_short")
Workspace = lazy("bistlab.core.workspace", "Workspace")

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="bistlab: HPO, walk-forward validation, holdout evaluation and audit reports for BIST direction forecasts.")
data_app = typer.Typer(no_args_is_help=True, help="The price store: import, demo data, listing.")
cycle_app = typer.Typer(no_args_is_help=True, help="Run or resume a cycle of (symbol, horizon) tasks.")
app.add_typer(data_app, name="data")
app.add_typer(cycle_app, name="cycle")
app.add_typer(hyperopt_app, name="hyperopt")
app.command("serve")(serve_command)


@app.callback()
def _root(
    workspace: Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace folder (default: $BISTLAB_WORKSPACE or the current folder).")] = None,
    db_url: Annotated[Optional[str], typer.Option("--db-url", help="SQLAlchemy URL of the price store (default: $BISTLAB_DB_URL or runs/prices.sqlite).")] = None,
    optuna_url: Annotated[Optional[str], typer.Option("--optuna-url", help="One Optuna storage for every study, e.g. postgresql://... (default: $BISTLAB_OPTUNA_URL, else a SQLite file per study).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    set_workspace(Workspace.from_env(workspace, db_url=db_url, optuna_url=optuna_url))


def _store() -> PriceStore:
    return workspace_store(current_workspace().ensure())


def _print_import(report: ImportReport) -> None:
    for item in report.imported:
        defects = "; ".join(str(d) for d in item.defects) or "no defects"
        line = f"[green]imported[/] {item.symbol}: {item.rows} rows ({item.clean_rows} clean) — {defects}"
        if item.too_short:
            line += f" — [yellow]{item.warning}[/]"
        if item.read_as:
            line += f" — read as {escape(item.read_as)}"
        console.print(line, highlight=False, soft_wrap=True)
    for failed in report.failed:
        console.print(f"[red]failed[/] {failed.message}", highlight=False, soft_wrap=True)
    ready = len(report.imported) - len(report.too_short)
    console.print(
        f"{len(report.imported)} symbols stored ({ready} ready for HPO"
        + (f"; too short for HPO: {', '.join(report.too_short)}" if report.too_short else "")
        + f"), {len(report.failed)} files failed" + (f": {', '.join(f.path.name for f in report.failed)}" if report.failed else ""),
        highlight=False,
        soft_wrap=True,
    )


@data_app.command("demo")
def data_demo() -> None:
    """Load the embedded demo universe (S&P 500 and NASDAQ from `arch`, GOOG from `backtesting`, 20 S&P 500 stocks, close only, from `skfolio`'s data file)."""
    try:
        report = load_demo(_store())
    except BistlabError as err:
        fail(err)
    _print_import(report)


@data_app.command("import")
def data_import(
    paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet files, or folders of them. Symbol = file stem, or the ticker in yfinance's multi-level files.")],
    dialect: Annotated[Optional[str], typer.Option(help="Numbers and dates: 'tr' (1.234,56; DD.MM.YYYY) or 'en' (1,234.56; MM/DD/YYYY). Default: detected; a file that reads two ways is refused.")] = None,
) -> None:
    """Import price files; a bad file is reported and the others are still imported."""
    try:
        report = import_paths(_store(), paths, dialect=dialect)
    except BistlabError as err:
        fail(err)
    _print_import(report)
    if not report.imported and report.failed:
        raise typer.Exit(code=1)


@data_app.command("list")
def data_list() -> None:
    """Symbols in the store: rows, first and last date, defects found on load."""
    try:
        store = _store()
        summary = store.summary()
        table = Table(title=f"price store {store.safe_url}")
        for col in ("symbol", "rows", "first", "last", "clean rows", "fingerprint", "defects"):
            table.add_column(col, overflow="fold")
        for row in summary.itertuples(index=False):
            table.add_row(row.symbol, str(row.rows), str(row.first_date)[:10], str(row.last_date)[:10], *_loaded_cells(store, row.symbol))
    except BistlabError as err:
        fail(err)
    console.print(table)


def _loaded_cells(store: PriceStore, symbol: str) -> tuple[str, str, str]:
    """clean rows, fingerprint, defects of one symbol; a symbol whose rows cannot be validated says why."""
    try:
        loaded = store.load(symbol)
    except DataError as err:
        return "[red]unusable[/]", "–", escape(str(err))
    defects = "; ".join(f"{d.kind} {d.count}" for d in loaded.defects) or "–"
    clean = f"[yellow]{len(loaded.frame)} (too short for HPO)[/]" if too_short(loaded.frame) else str(len(loaded.frame))
    return clean, loaded.fingerprint, defects


def _parse_ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError as err:
        raise ConfigError(name, "a comma-separated list of whole numbers", text) from err
    if not values:
        raise ConfigError(name, "a comma-separated list of whole numbers", text)
    return values


class _CycleProgress:
    """The cycle's progress bar: tasks ended of all, and what the running ones are doing (from the
    state file and the studies, every 2 s); a line for each task that fails or is skipped."""

    def __init__(self, ws: Workspace, progress: Progress) -> None:
        self.ws = ws
        self.progress = progress
        self.bar = progress.add_task("starting", total=None)
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._refresh, daemon=True)

    def _refresh(self) -> None:
        while not self.finished.wait(2.0):
            try:
                rows = task_rows(self.ws, StateFile(self.ws.state_file).read())
            except Exception:  # noqa: BLE001 - a progress view never stops or garbles a cycle; the next refresh tries again
                continue
            ended = sum(r["status"] in TaskStatus.ENDED for r in rows)
            running = [r for r in rows if r["status"] in (TaskStatus.HPO, TaskStatus.TRAINING)]
            what = ", ".join(
                f"{r['task']} {'HPO' if r['status'] == TaskStatus.HPO else 'training'} {r['trials_complete']}/{r['trials_requested']} trials" for r in running[:3]
            ) or "…"
            self.progress.update(self.bar, total=len(rows), completed=ended, description=what)

    def on_event(self, event: str, task: TaskState, state: object) -> None:
        if event == "end" and task.status not in (TaskStatus.COMPLETED, TaskStatus.HPO, TaskStatus.TRAINING):
            self.progress.console.print(f"[yellow]{task.key} {task.status}[/]: {task.error}", highlight=False, soft_wrap=True)

    def __enter__(self) -> "_CycleProgress":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finished.set()


def _print_cycle_result(result: CycleResult) -> None:
    statuses = [t.status for t in result.tasks.values()]
    ended = sum(statuses.count(s) for s in TaskStatus.ENDED)
    console.print(f"cycle {result.cycle}: {statuses.count(TaskStatus.COMPLETED)} completed, {statuses.count(TaskStatus.FAILED)} failed, {statuses.count(TaskStatus.SKIPPED)} skipped, {len(statuses) - ended} not ended")
    if result.paused:
        console.print("[yellow]paused[/]: `bistlab cycle resume` continues where it stopped", highlight=False)
    if result.report:
        console.print(f"report: {result.report}", highlight=False, soft_wrap=True)


def _cycle(config: CycleConfig, *, resume: bool) -> None:
    ws = current_workspace()
    check_runnable(ws, config, resume=resume)  # fail before the progress bar appears
    columns = (TextColumn("[bold]cycle[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress, _CycleProgress(ws, progress) as watch:
        result = run_cycle(ws, config, progress=watch.on_event, resume=resume)
    _print_cycle_result(result)


def _parse_symbols(text: str | None) -> tuple[str, ...] | None:
    """``--symbols``: comma-separated, each under the one symbol rule (:func:`bistlab.core.names.normalize_symbol`)."""
    if text is None:
        return None
    symbols = tuple(normalize_symbol(s) for s in text.split(",") if s.strip())
    if not symbols:
        raise ConfigError("--symbols", "one or more comma-separated symbols", text)
    return symbols


def _config(
    horizons: str,
    trials: int,
    symbols: str | None,
    seed: int,
    jobs: int,
    models: str | None,
    workers: int | None,
    dask: str | None,
    keep_cycles: int,
    pruner: str,
    universe: bool | None = None,
    target: str = "excess",
    as_of: str | None = None,
    holdout_rows: int | None = None,
    use_mlflow: bool = False,
) -> CycleConfig:
    return CycleConfig(
        as_of=as_of,
        holdout_rows=holdout_rows,
        use_mlflow=use_mlflow,
        universe=universe,
        universe_target=target,
        horizons=_parse_ints(horizons, "--horizons"),
        symbols=_parse_symbols(symbols),
        n_trials=trials,
        seed=seed,
        n_jobs=jobs,
        models=tuple(m.strip().lower() for m in models.split(",") if m.strip()) if models else None,
        workers=default_workers() if workers is None else workers,
        dask_address=dask,
        keep_cycles=keep_cycles,
        pruner=pruner,
    )


HorizonsOpt = Annotated[str, typer.Option(help="Horizons in trading days, comma-separated, processed in this order.")]
TrialsOpt = Annotated[int, typer.Option(help="HPO trials per task (complete, or stopped early by the pruner).")]
SymbolsOpt = Annotated[Optional[str], typer.Option(help="Comma-separated symbols (default: every symbol in the store).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of samplers and models.")]
JobsOpt = Annotated[int, typer.Option(help="Threads per model fit (one is fastest at these data sizes; use --workers for the other cores).")]
ModelsOpt = Annotated[Optional[str], typer.Option(help="Model families to search, comma-separated, e.g. lgbm,xgb (default: all available; the ensemble `all` is searched when two or more are).")]
WorkersOpt = Annotated[Optional[int], typer.Option(help=f"Tasks run at once on this machine (processes; each fit one thread). Default: the machine's cores, bounded by memory ({default_workers()} here); --workers 1 runs one task at a time.")]
DaskOpt = Annotated[Optional[str], typer.Option(help="Run tasks on this Dask scheduler (tcp://host:8786); needs --optuna-url.")]
KeepOpt = Annotated[int, typer.Option(help="Earlier cycles whose studies and runs are kept when a new cycle starts (reports are always kept).")]
PrunerOpt = Annotated[str, typer.Option(help=f"Stops a trial after a walk-forward split when it can no longer win: {', '.join(PRUNER_NAMES)}.")]
UniverseOpt = Annotated[Optional[bool], typer.Option("--universe/--no-universe", help="Run a universe task per horizon (one model over every stored symbol); default: when the store holds 10 or more symbols.")]
TargetOpt = Annotated[str, typer.Option("--universe-target", help="The universe tasks' target: excess (the h-day log return minus the date's cross-sectional median) or raw.")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", help="Run the cycle on the prices up to this date (YYYY-MM-DD) only: every later row is hidden from HPO, selection, training and the holdout; `bistlab forward` then scores the frozen models on every later session.")]
HoldoutRowsOpt = Annotated[Optional[int], typer.Option("--holdout-rows", min=1, help="Every task's holdout rows (sessions for a universe task; default: 10 % of the rows, 40 to 120). A longer holdout gives each verdict more power and costs the training window as many rows; the report's 'what each horizon's holdout can judge' table says how many would do.")]
MlflowOpt = Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="When the cycle ends, record it in MLflow: a run for the cycle, a nested run per task with its holdout figures and verdict, the report as an artifact (in MLFLOW_TRACKING_URI, else runs/mlflow.db; needs the mlflow extra). `cycle resume` keeps it.")]
DEFAULT_HORIZONS_TEXT = ",".join(map(str, DEFAULT_HORIZONS))


@cycle_app.command("run")
def cycle_run(
    horizons: HorizonsOpt = DEFAULT_HORIZONS_TEXT,
    trials: TrialsOpt = 20,
    symbols: SymbolsOpt = None,
    seed: SeedOpt = 0,
    jobs: JobsOpt = 1,
    models: ModelsOpt = None,
    workers: WorkersOpt = None,
    dask: DaskOpt = None,
    keep_cycles: KeepOpt = 1,
    pruner: PrunerOpt = DEFAULT_PRUNER,
    universe: UniverseOpt = None,
    universe_target: TargetOpt = "excess",
    as_of: AsOfOpt = None,
    holdout_rows: HoldoutRowsOpt = None,
    mlflow: MlflowOpt = False,
) -> None:
    """Run the current cycle (or resume it if unfinished), then print the report's path.

    `--symbols` chooses the per-symbol tasks; a universe task always covers every stored symbol.
    With `--as-of DATE` the cycle sees the prices up to DATE only (an as-of cycle)."""
    try:
        _cycle(_config(horizons, trials, symbols, seed, jobs, models, workers, dask, keep_cycles, pruner, universe, universe_target, as_of, holdout_rows, mlflow), resume=False)
    except BistlabError as err:
        fail(err)


@cycle_app.command("resume")
def cycle_resume(
    horizons: HorizonsOpt = DEFAULT_HORIZONS_TEXT,
    trials: TrialsOpt = 20,
    symbols: SymbolsOpt = None,
    seed: SeedOpt = 0,
    jobs: JobsOpt = 1,
    models: ModelsOpt = None,
    workers: WorkersOpt = None,
    dask: DaskOpt = None,
    keep_cycles: KeepOpt = 1,
    pruner: PrunerOpt = DEFAULT_PRUNER,
) -> None:
    """Continue a stopped or crashed cycle where it left off (settings default to the cycle's own; an as-of cycle keeps its date)."""
    saved = _read_state(current_workspace()).config
    merged = {
        "horizons": ",".join(map(str, saved.get("horizons", []))) or horizons,
        "trials": saved.get("n_trials", trials),
        "symbols": ",".join(saved["symbols"]) if saved.get("symbols") else symbols,
        "seed": saved.get("seed", seed),
        "jobs": jobs,
        "models": ",".join(saved["models"]) if saved.get("models") else models,
        "workers": workers,
        "dask": dask,
        "keep_cycles": saved.get("keep_cycles", keep_cycles),
        "pruner": saved.get("pruner", pruner),
        "universe": saved.get("universe"),
        "target": saved.get("universe_target", "excess"),
        "as_of": saved.get("as_of"),
        "holdout_rows": saved.get("holdout_rows"),
        "use_mlflow": bool(saved.get("use_mlflow", False)),
    }
    try:
        _cycle(_config(**merged), resume=True)
    except BistlabError as err:
        fail(err)


@cycle_app.command("stop")
def cycle_stop() -> None:
    """Ask the running cycle to stop: running trials finish, then it pauses (`cycle resume` continues)."""
    path = request_stop(current_workspace())
    console.print(f"stop requested ({path}); running trials finish, then the cycle pauses", highlight=False)


def _read_state(ws: Workspace) -> CycleState:
    """The workspace's state, or the command ends with the one line that says why it cannot be read."""
    try:
        return StateFile(ws.state_file).read()
    except BistlabError as err:
        fail(err)
        raise  # fail() always exits; this line is for the type checker


WideOpt = Annotated[bool, typer.Option("--wide", help="Every column (best trial, HPO and WFV DirHit, failed and pruned trials, retries, errors): wider than 80 columns.")]


@app.command("status")
def status(wide: WideOpt = False) -> None:
    """The progress view: per task its status, trials, holdout DirHit and verdict (--wide: every column)."""
    ws = current_workspace()
    state = _read_state(ws)
    if state.cycle == 0:
        console.print("no cycle has run in this workspace yet")
        return
    flag = " (ended)" if state.cycle_ended() else (" (paused)" if state.paused else "")
    rows = task_rows(ws, state)
    table = Table(title=f"cycle {state.cycle}{flag}", box=box.SIMPLE_HEAD, title_justify="left")
    for col in STATUS_COLUMNS + (STATUS_WIDE_COLUMNS if wide else ()):
        table.add_column(col)
    for r in rows:
        table.add_row(*_status_cells(r), *(_status_wide_cells(r) if wide else ()))
    console.print(table)
    console.print(
        f"trials: {TRIALS_MEANING}; holdout: DirHit % with its masked rows n; rule: the usable rule on the task's own holdout, "
        "before the cycle-wide control (`bistlab report` has the final flag)", highlight=False,
    )
    if not wide:
        for r in rows:
            if r["error"] or r.get("note"):
                console.print(f"{r['task']}: {r['error'] or r['note']}", highlight=False)


STATUS_COLUMNS: tuple[str, ...] = ("task", "status", "trials", "holdout % (n)", "rule")
STATUS_WIDE_COLUMNS: tuple[str, ...] = ("best trial", "HPO %", "WFV %", "LOW_SUPPORT", "retries", "error / note")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def _status_cells(r: dict[str, Any]) -> tuple[str, ...]:
    finished = r["trials_complete"] + r["trials_pruned"]
    trials = trials_text(finished, r["trials_requested"], complete=r["trials_complete"], pruned=r["trials_pruned"], failed=r["trials_failed"])
    if r["trials_running"]:
        trials += f", {r['trials_running']} running"
    holdout = f"{_pct(r['online_dirhit'])} ({r['holdout_count'] if r['holdout_count'] is not None else '–'})"
    return r["task"], str(r["status"]), trials, holdout, {True: "passes", False: "fails", None: "–"}[r["usable"]]


def _status_wide_cells(r: dict[str, Any]) -> tuple[str, ...]:
    return (
        "–" if r["best_trial"] is None else str(r["best_trial"]), _pct(r["hpo_dirhit"]), _pct(r["wfv_dirhit"]),
        "LOW_SUPPORT" if r["low_support"] else "", str(r["retries"]), r["error"] or r.get("note") or "",
    )


@app.command("dashboard")
def dashboard(
    task: Annotated[Optional[str], typer.Option(help="Show only this task's cycle studies, e.g. SP500_1d (default: every task's).")] = None,
    cycle: Annotated[Optional[int], typer.Option(help="Show only this cycle's task studies (default: every cycle's).")] = None,
    job: Annotated[Optional[str], typer.Option(help="Show only this hyperopt job's group studies (default: every job's).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1 by default: optuna-dashboard has no token of its own).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
) -> None:
    """Open one optuna-dashboard on every study of every cycle and hyperopt job (live, read-only, stable study URLs)."""
    ws = current_workspace()
    try:
        storage, names = combined_storage(ws, cycle=cycle, job_id=job, task=task)
    except BistlabError as err:
        fail(err)
    if not names:
        fail(BistlabError("no study to show: run `bistlab cycle run` or `bistlab hyperopt start` first (or choose another --cycle / --job)"))
    console.print(f"{len(names)} studies: {', '.join(names)}", highlight=False, soft_wrap=True)
    from bistlab.api.dashboard import serve_dashboard  # optuna-dashboard's server: only this command needs it

    console.print(f"optuna-dashboard on http://{host}:{port}/ (read-only; Ctrl-C ends it)", highlight=False, soft_wrap=True)
    try:
        serve_dashboard(storage, host=host, port=port)
    except KeyboardInterrupt:
        return
    except OSError as err:
        fail(BistlabError(f"`--port` must be free on {host} but got {port} ({err.strerror or err}): choose another port"))


@app.command("report")
def report(cycle: Annotated[Optional[int], typer.Option(help="Cycle number (default: the current one).")] = None) -> None:
    """Render (again) the HTML report of a cycle and print its path."""
    ws = current_workspace().ensure()
    latest = _read_state(ws).cycle
    number = cycle or latest
    if latest < 1:
        fail(BistlabError("no cycle has run in this workspace yet: run `bistlab cycle run` first"))
    if not 1 <= number <= latest or not ws.cycle_dir(number).exists() and not (ws.reports / f"cycle_{number}").exists():
        fail(ConfigError("--cycle", f"a cycle of this workspace (1 to {latest}, with its runs or its report kept)", number))
    try:
        if not cycle_as_of(ws, number):  # an as-of cycle's frozen models forecast no today (`bistlab forward`)
            update_predictions(ws, number)
        path = render_report(ws, number)
    except BistlabError as err:
        fail(err)
    console.print(f"report: {path}", highlight=False, soft_wrap=True)


app.command("predict")(predict)
app.command("forward")(forward)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
