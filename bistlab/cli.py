"""The ``bistlab`` command line: data, cycles, status and reports.

The CLI owns the console: package code logs, the CLI prints tables and progress with rich.
Every bistlab error ends the command with one red line naming what is wrong, never a traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from bistlab.cli_hyperopt import hyperopt_app
from bistlab.cli_serve import serve_command
from bistlab.config import DEFAULT_HORIZONS, Workspace
from bistlab.errors import BistlabError, ConfigError

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="bistlab: HPO, walk-forward validation, holdout evaluation and audit reports for BIST direction forecasts.")
data_app = typer.Typer(no_args_is_help=True, help="The price store: import, demo data, listing.")
cycle_app = typer.Typer(no_args_is_help=True, help="Run or resume a cycle of (symbol, horizon) tasks.")
app.add_typer(data_app, name="data")
app.add_typer(cycle_app, name="cycle")
app.add_typer(hyperopt_app, name="hyperopt")
app.command("serve")(serve_command)

console = Console()
err_console = Console(stderr=True)


class _State:
    workspace: Workspace


_state = _State()


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
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _state.workspace = Workspace.from_env(workspace, db_url=db_url, optuna_url=optuna_url)


def _fail(err: BistlabError) -> None:
    err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1) from err


def _store():
    from bistlab.store import PriceStore

    return PriceStore.from_workspace(_state.workspace.ensure())


def _print_import(report) -> None:
    for item in report.imported:
        defects = "; ".join(str(d) for d in item.defects) or "no defects"
        line = f"[green]imported[/] {item.symbol}: {item.rows} rows ({item.clean_rows} clean) — {defects}"
        if item.too_short:
            line += f" — [yellow]{item.warning}[/]"
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
    """Load the embedded demo universe (S&P 500 and NASDAQ from `arch`, GOOG from `backtesting`)."""
    from bistlab.importers import load_demo

    try:
        report = load_demo(_store())
    except BistlabError as err:
        _fail(err)
    _print_import(report)


@data_app.command("import")
def data_import(paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet files, or folders of them. Symbol = file stem.")]) -> None:
    """Import price files; a bad file is reported and the others are still imported."""
    from bistlab.importers import import_paths

    try:
        report = import_paths(_store(), paths)
    except BistlabError as err:
        _fail(err)
    _print_import(report)
    if not report.imported and report.failed:
        raise typer.Exit(code=1)


@data_app.command("list")
def data_list() -> None:
    """Symbols in the store: rows, first and last date, defects found on load."""
    from bistlab.validate import too_short

    try:
        store = _store()
        summary = store.summary()
        table = Table(title=f"price store {store.safe_url}")
        for col in ("symbol", "rows", "first", "last", "clean rows", "fingerprint", "defects"):
            table.add_column(col, overflow="fold")
        for row in summary.itertuples(index=False):
            loaded = store.load(row.symbol)
            defects = "; ".join(f"{d.kind} {d.count}" for d in loaded.defects) or "–"
            short = too_short(loaded.frame)
            table.add_row(
                row.symbol, str(row.rows), str(row.first_date)[:10], str(row.last_date)[:10],
                f"[yellow]{len(loaded.frame)} (too short for HPO)[/]" if short else str(len(loaded.frame)),
                loaded.fingerprint, defects,
            )
    except BistlabError as err:
        _fail(err)
    console.print(table)


def _parse_ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError as err:
        raise ConfigError(name, "a comma-separated list of whole numbers", text) from err
    if not values:
        raise ConfigError(name, "a comma-separated list of whole numbers", text)
    return values


def _cycle(config, *, resume: bool) -> None:
    import threading

    from bistlab.cycle import check_runnable, run_cycle
    from bistlab.monitor import task_rows
    from bistlab.state import StateFile

    ws = _state.workspace
    check_runnable(ws, config, resume=resume)  # fail before the progress bar appears
    with Progress(
        TextColumn("[bold]cycle[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
    ) as progress:
        bar = progress.add_task("starting", total=None)
        finished = threading.Event()

        def refresh() -> None:
            while not finished.wait(2.0):
                try:
                    state = StateFile(ws.state_file).read()
                    rows = task_rows(ws, state)
                except (OSError, ValueError):
                    continue
                ended = sum(r["status"] in ("completed", "failed", "skipped") for r in rows)
                running = [r for r in rows if r["status"] in ("hpo_in_progress", "training_in_progress")]
                what = ", ".join(
                    f"{r['task']} {'HPO' if r['status'] == 'hpo_in_progress' else 'training'} "
                    f"{r['trials_complete']}/{r['trials_requested']} trials" for r in running[:3]
                ) or "…"
                progress.update(bar, total=len(rows), completed=ended, description=what)

        def on_event(event, task, state) -> None:
            if event == "end" and task.status not in ("completed", "hpo_in_progress", "training_in_progress"):
                progress.console.print(f"[yellow]{task.key} {task.status}[/]: {task.error}", highlight=False, soft_wrap=True)

        watcher = threading.Thread(target=refresh, daemon=True)
        watcher.start()
        try:
            result = run_cycle(ws, config, progress=on_event, resume=resume)
        finally:
            finished.set()
    statuses = [t.status for t in result.tasks.values()]
    console.print(f"cycle {result.cycle}: {statuses.count('completed')} completed, {statuses.count('failed')} failed, {statuses.count('skipped')} skipped, {len(statuses) - sum(statuses.count(s) for s in ('completed', 'failed', 'skipped'))} not ended")
    if result.paused:
        console.print("[yellow]paused[/]: `bistlab cycle resume` continues where it stopped", highlight=False)
    if result.report:
        console.print(f"report: {result.report}", highlight=False, soft_wrap=True)


def _config(horizons, trials, symbols, seed, jobs, models, workers, dask, keep_cycles):
    from bistlab.cycle import CycleConfig

    return CycleConfig(
        horizons=_parse_ints(horizons, "--horizons"),
        symbols=tuple(s.strip().upper() for s in symbols.split(",") if s.strip()) if symbols else None,
        n_trials=trials,
        seed=seed,
        n_jobs=jobs if jobs else max(1, (os.cpu_count() or 1) // max(1, workers)),
        models=tuple(m.strip().lower() for m in models.split(",") if m.strip()) if models else None,
        workers=workers,
        dask_address=dask,
        keep_cycles=keep_cycles,
    )


HorizonsOpt = Annotated[str, typer.Option(help="Horizons in trading days, comma-separated, processed in this order.")]
TrialsOpt = Annotated[int, typer.Option(help="Complete HPO trials per task.")]
SymbolsOpt = Annotated[Optional[str], typer.Option(help="Comma-separated symbols (default: every symbol in the store).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of samplers and models.")]
JobsOpt = Annotated[int, typer.Option(help="Threads per model fit (default: cores / workers).")]
ModelsOpt = Annotated[Optional[str], typer.Option(help="Model families to search, comma-separated, e.g. lgbm,xgb (default: all available; the ensemble `all` is searched when two or more are).")]
WorkersOpt = Annotated[int, typer.Option(help="Tasks run at once on this machine (processes).")]
DaskOpt = Annotated[Optional[str], typer.Option(help="Run tasks on this Dask scheduler (tcp://host:8786); needs --optuna-url.")]
KeepOpt = Annotated[int, typer.Option(help="Earlier cycles whose studies and runs are kept when a new cycle starts (reports are always kept).")]
DEFAULT_HORIZONS_TEXT = ",".join(map(str, DEFAULT_HORIZONS))


@cycle_app.command("run")
def cycle_run(
    horizons: HorizonsOpt = DEFAULT_HORIZONS_TEXT,
    trials: TrialsOpt = 20,
    symbols: SymbolsOpt = None,
    seed: SeedOpt = 0,
    jobs: JobsOpt = 0,
    models: ModelsOpt = None,
    workers: WorkersOpt = 1,
    dask: DaskOpt = None,
    keep_cycles: KeepOpt = 1,
) -> None:
    """Run the current cycle (or resume it if unfinished), then print the report's path."""
    try:
        _cycle(_config(horizons, trials, symbols, seed, jobs, models, workers, dask, keep_cycles), resume=False)
    except BistlabError as err:
        _fail(err)


@cycle_app.command("resume")
def cycle_resume(
    horizons: HorizonsOpt = DEFAULT_HORIZONS_TEXT,
    trials: TrialsOpt = 20,
    symbols: SymbolsOpt = None,
    seed: SeedOpt = 0,
    jobs: JobsOpt = 0,
    models: ModelsOpt = None,
    workers: WorkersOpt = 1,
    dask: DaskOpt = None,
    keep_cycles: KeepOpt = 1,
) -> None:
    """Continue a stopped or crashed cycle where it left off (settings default to the cycle's own)."""
    from bistlab.state import StateFile

    saved = StateFile(_state.workspace.state_file).read().config
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
    }
    try:
        _cycle(_config(**merged), resume=True)
    except BistlabError as err:
        _fail(err)


@cycle_app.command("stop")
def cycle_stop() -> None:
    """Ask the running cycle to stop: running trials finish, then it pauses (`cycle resume` continues)."""
    from bistlab.cycle import request_stop

    path = request_stop(_state.workspace)
    console.print(f"stop requested ({path}); running trials finish, then the cycle pauses", highlight=False)


@app.command("status")
def status() -> None:
    """The progress view: per task, trials, best trial, HPO / WFV / online DirHit, LOW_SUPPORT, retries, errors."""
    from bistlab.monitor import task_rows
    from bistlab.state import StateFile

    ws = _state.workspace
    state = StateFile(ws.state_file).read()
    if state.cycle == 0:
        console.print("no cycle has run in this workspace yet")
        return
    flag = " (ended)" if state.cycle_ended() else (" (paused)" if state.paused else "")
    table = Table(title=f"cycle {state.cycle}{flag}")
    for col in ("task", "status", "trials", "best trial", "HPO DirHit %", "WFV DirHit %", "online DirHit % (n)", "LOW_SUPPORT", "passes usable rule (alone)", "retries", "error / note"):
        table.add_column(col, overflow="fold")
    fmt = lambda v: "–" if v is None else f"{v:.1f}"  # noqa: E731
    for r in task_rows(ws, state):
        trials = f"{r['trials_complete']}/{r['trials_requested'] or '?'}"
        if r["trials_running"]:
            trials += f" (+{r['trials_running']} running)"
        table.add_row(
            r["task"], r["status"], trials, "–" if r["best_trial"] is None else str(r["best_trial"]),
            fmt(r["hpo_dirhit"]), fmt(r["wfv_dirhit"]),
            f"{fmt(r['online_dirhit'])} ({r['holdout_count'] if r['holdout_count'] is not None else '–'})",
            "LOW_SUPPORT" if r["low_support"] else "", {True: "yes", False: "no", None: "–"}[r["usable"]], str(r["retries"]), r["error"] or r.get("note") or "",
        )
    console.print(table)


@app.command("dashboard")
def dashboard(
    task: Annotated[Optional[str], typer.Option(help="Show only this task's cycle study, e.g. SP500_1d (default: every study of the cycle).")] = None,
    cycle: Annotated[Optional[int], typer.Option(help="Cycle number (default: the current one).")] = None,
    job: Annotated[Optional[str], typer.Option(help="Hyperopt job whose group studies are shown too (default: the latest job).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1 by default: optuna-dashboard has no token of its own).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
) -> None:
    """Open one optuna-dashboard on every study of the cycle and the hyperopt job's group studies (live, read-only)."""
    from bistlab.dashboard import combined_storage

    ws = _state.workspace
    try:
        storage, names = combined_storage(ws, cycle=cycle, job_id=job, task=task)
    except BistlabError as err:
        _fail(err)
    if not names:
        _fail(BistlabError("no study to show: run `bistlab cycle run` or `bistlab hyperopt start` first (or choose --cycle / --job)"))
    console.print(f"{len(names)} studies: {', '.join(names)}", highlight=False, soft_wrap=True)
    from optuna_dashboard import run_server

    console.print(f"optuna-dashboard on http://{host}:{port}/ (Ctrl-C ends it)", highlight=False, soft_wrap=True)
    run_server(storage, host=host, port=port)


@app.command("report")
def report(cycle: Annotated[Optional[int], typer.Option(help="Cycle number (default: the current one).")] = None) -> None:
    """Render (again) the HTML report of a cycle and print its path."""
    from bistlab.report import render_report
    from bistlab.state import StateFile

    ws = _state.workspace.ensure()
    number = cycle or StateFile(ws.state_file).read().cycle
    if number < 1:
        _fail(BistlabError("no cycle has run in this workspace yet: run `bistlab cycle run` first"))
    try:
        path = render_report(ws, number)
    except BistlabError as err:
        _fail(err)
    console.print(f"report: {path}", highlight=False, soft_wrap=True)


@app.command("predict")
def predict(
    cycle: Annotated[Optional[int], typer.Option(help="Cycle whose models forecast (default: the latest trained one).")] = None,
    output: Annotated[Optional[Path], typer.Option(help="CSV file to write (default: reports/cycle_<N>/predictions.csv, the table the report shows).")] = None,
    refit: Annotated[bool, typer.Option(help="Refit the final models even when the prices have not changed.")] = False,
    jobs: Annotated[int, typer.Option(help="Threads per refit.")] = 1,
) -> None:
    """The latest forecast per symbol-horizon: direction, expected log return, holdout DirHit, usable flag."""
    from bistlab.predict import default_predictions_path, predict_cycle, write_predictions

    ws = _state.workspace
    try:
        frame = predict_cycle(ws, cycle=cycle, n_jobs=jobs, refit=refit)
        path = write_predictions(frame, output or default_predictions_path(ws, frame.attrs["cycle"]))
    except BistlabError as err:
        _fail(err)
    table = Table(title=f"forecasts from cycle {frame.attrs['cycle']}")
    for col in ("task", "as of", "direction", "expected log return", "holdout DirHit", "usable", "note"):
        table.add_column(col, overflow="fold")
    for r in frame.itertuples(index=False):
        elr = "–" if r.expected_log_return is None or r.expected_log_return != r.expected_log_return else f"{r.expected_log_return:+.4f}"
        table.add_row(
            r.task, str(r.as_of or "–"), str(r.direction or "–"), elr, str(r.holdout_dirhit_text or "–"),
            "USABLE" if r.usable is True else "no", str(r.note or ""),
        )
    console.print(table)
    console.print(f"predictions: {path}", highlight=False, soft_wrap=True)
    _print_forward(ws)


def _print_forward(ws: Workspace) -> None:
    """The forward record of the ledger: recorded forecasts scored against the prices that followed."""
    from bistlab.ledger import load_forward

    try:
        view = load_forward(ws)
    except BistlabError as err:
        _fail(err)
    console.print(f"forward record: {view.note}", highlight=False, soft_wrap=True)
    for g in view.groups:
        if g.n_forecasts:
            console.print(
                f"  {g.label}: forward DirHit {g.dirhit.text()}; persistence {g.persistence.text()}; majority {g.majority.text()}",
                highlight=False,
                soft_wrap=True,
            )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
