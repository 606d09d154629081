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

from bistlab.config import DEFAULT_HORIZONS, Workspace
from bistlab.errors import BistlabError, ConfigError

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="bistlab: HPO, walk-forward validation, holdout evaluation and audit reports for BIST direction forecasts.")
data_app = typer.Typer(no_args_is_help=True, help="The price store: import, demo data, listing.")
cycle_app = typer.Typer(no_args_is_help=True, help="Run or resume a cycle of (symbol, horizon) tasks.")
app.add_typer(data_app, name="data")
app.add_typer(cycle_app, name="cycle")

console = Console()
err_console = Console(stderr=True)


class _State:
    workspace: Workspace


_state = _State()


@app.callback()
def _root(
    workspace: Annotated[Optional[Path], typer.Option("--workspace", "-w", help="Workspace folder (default: $BISTLAB_WORKSPACE or the current folder).")] = None,
    db_url: Annotated[Optional[str], typer.Option("--db-url", help="SQLAlchemy URL of the price store (default: $BISTLAB_DB_URL or runs/prices.sqlite).")] = None,
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
    _state.workspace = Workspace.from_env(workspace, db_url=db_url)


def _fail(err: BistlabError) -> None:
    err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1) from err


def _store():
    from bistlab.store import PriceStore

    return PriceStore(_state.workspace.ensure().price_url)


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


@cycle_app.command("run")
def cycle_run(
    horizons: Annotated[str, typer.Option(help="Horizons in trading days, comma-separated, processed in this order.")] = ",".join(map(str, DEFAULT_HORIZONS)),
    trials: Annotated[int, typer.Option(help="Complete HPO trials per task.")] = 20,
    symbols: Annotated[Optional[str], typer.Option(help="Comma-separated symbols (default: every symbol in the store).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of samplers and models.")] = 0,
    jobs: Annotated[int, typer.Option(help="Threads per model fit.")] = os.cpu_count() or 1,
    models: Annotated[Optional[str], typer.Option(help="Model families to search, comma-separated, e.g. lgbm,xgb (default: all available; the ensemble `all` is searched when two or more are).")] = None,
) -> None:
    """Run the current cycle (or resume it), then print the report's path."""
    from bistlab.cycle import CycleConfig, run_cycle

    try:
        config = CycleConfig(
            horizons=_parse_ints(horizons, "--horizons"),
            symbols=tuple(s.strip().upper() for s in symbols.split(",") if s.strip()) if symbols else None,
            n_trials=trials,
            seed=seed,
            n_jobs=jobs,
            models=tuple(m.strip().lower() for m in models.split(",") if m.strip()) if models else None,
        )
        with Progress(
            TextColumn("[bold]cycle[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
        ) as progress:
            bar = progress.add_task("starting", total=None)

            def on_event(event, task, state) -> None:
                tasks = state.cycle_tasks()
                done = sum(t.status in ("completed", "failed", "skipped") for t in tasks)
                progress.update(bar, total=len(tasks), completed=done, description=f"{task.key} {'running' if event == 'start' else task.status}")
                if event == "end" and task.status != "completed":
                    progress.console.print(f"[yellow]{task.key} {task.status}[/]: {task.error}", highlight=False, soft_wrap=True)

            result = run_cycle(_state.workspace, config, progress=on_event)
    except BistlabError as err:
        _fail(err)
    statuses = [t.status for t in result.tasks.values()]
    console.print(f"cycle {result.cycle}: {statuses.count('completed')} completed, {statuses.count('failed')} failed, {statuses.count('skipped')} skipped")
    console.print(f"report: {result.report}", highlight=False, soft_wrap=True)


@app.command("status")
def status() -> None:
    """The task table of the current cycle."""
    from bistlab.state import StateFile

    state = StateFile(_state.workspace.state_file).read()
    if state.cycle == 0:
        console.print("no cycle has run in this workspace yet")
        return
    table = Table(title=f"cycle {state.cycle}{' (ended)' if state.cycle_ended() else ''}")
    for col in ("task", "status", "HPO DirHit %", "WFV DirHit %", "holdout DirHit % (n)", "LOW_SUPPORT", "usable", "retries", "error"):
        table.add_column(col, overflow="fold")
    fmt = lambda v: "–" if v is None else f"{v:.1f}"  # noqa: E731
    for t in sorted(state.cycle_tasks(), key=lambda t: (t.horizon, t.symbol)):
        table.add_row(
            t.key, t.status, fmt(t.hpo_dirhit), fmt(t.training_dirhit_wfv),
            f"{fmt(t.training_dirhit_online)} ({t.holdout_count if t.holdout_count is not None else '–'})",
            "LOW_SUPPORT" if t.low_support else "", {True: "yes", False: "no", None: "–"}[t.usable], str(t.retry_count), t.error or "",
        )
    console.print(table)


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
