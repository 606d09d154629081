"""``bistlab predict`` and ``bistlab forward``: the latest forecast per task, and the forward record of the
ledger's forecasts (or an as-of cycle's frozen models scored on later sessions), printed as tables.
Registered on the ``bistlab`` app by :mod:`bistlab.cli.main`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from bistlab.cli.common import console, current_workspace, fail
from bistlab.errors import BistlabError
from bistlab.lazy import lazy

if TYPE_CHECKING:  # names in annotations only
    from bistlab.evaluation.forward_scores import ForwardGroup
    from bistlab.core.records import ForwardScore
    from bistlab.core.workspace import Workspace

# imported on first use: `bistlab --help` starts without pandas, optuna or the models
pd = lazy("pandas")
cycle_as_of, default_forward_cycle, forward_cycle = (lazy("bistlab.runs.forward", n) for n in ("cycle_as_of", "default_forward_cycle", "forward_cycle"))
forward_groups = lazy("bistlab.evaluation.forward_scores", "forward_groups")
load_forward = lazy("bistlab.evaluation.ledger", "load_forward")
predict_cycle, write_predictions = lazy("bistlab.runs.predict", "predict_cycle"), lazy("bistlab.runs.predict", "write_predictions")
render_report = lazy("bistlab.report", "render_report")

__all__ = ["predict", "forward"]


def predict(
    cycle: Annotated[Optional[int], typer.Option(help="Cycle whose models forecast (default: the latest trained one).")] = None,
    output: Annotated[Optional[Path], typer.Option(help="CSV file to write (default: reports/cycle_<N>/predictions.csv, the table the report shows).")] = None,
    refit: Annotated[bool, typer.Option(help="Refit the final models even when the prices have not changed.")] = False,
    jobs: Annotated[int, typer.Option(help="Threads per refit.")] = 1,
) -> None:
    """The latest forecast per symbol-horizon: direction, expected log return, holdout DirHit, usable flag."""
    ws = current_workspace()
    try:
        frame = predict_cycle(ws, cycle=cycle, n_jobs=jobs, refit=refit)
        path = write_predictions(frame, output or ws.predictions_file(frame.attrs["cycle"]))
    except BistlabError as err:
        fail(err)
    _print_predictions(frame, path)
    _print_forward(ws)


_PREDICTION_HEADER = ("task", "as of", "direction", "expected log return", "holdout DirHit", "usable", "note")


def _prediction_cells(r: Any) -> tuple[str, ...]:
    """One forecast (a row of :func:`bistlab.runs.predict.predict_cycle`) as the cells of :data:`_PREDICTION_HEADER`."""
    elr = "–" if pd.isna(r.expected_log_return) else f"{r.expected_log_return:+.4f}"
    usable = "USABLE" if r.usable is True else "no"
    task = f"{r.task} {r.symbol}" if str(r.task).startswith("UNIVERSE_") else str(r.task)  # a universe task forecasts every symbol
    return (task, _text(r.as_of), _text(r.direction), elr, _text(r.holdout_dirhit_text), usable, _text(r.note, empty=""))


def _text(value: object, *, empty: str = "–") -> str:
    """A cell's text; a missing value (None, NaN, "") is ``empty``."""
    return empty if value is None or (isinstance(value, float) and value != value) or value == "" else str(value)


def _print_predictions(frame: pd.DataFrame, path: Path) -> None:
    """The forecasts: a table on a terminal; elsewhere (a log file, a pipe: no width to fit) one
    line per task with aligned columns that never wrap, and the CSV that holds every column."""
    rows = [_prediction_cells(r) for r in frame.itertuples(index=False)]
    _print_rows(f"forecasts from cycle {frame.attrs['cycle']}", _PREDICTION_HEADER, rows, count=f"{len(rows)} tasks; every column is in the CSV below")
    console.print(f"predictions: {path}", highlight=False, soft_wrap=True)


def _print_rows(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]], *, count: str) -> None:
    """A table on a terminal; elsewhere (a log file, a pipe: no width to fit) the title with
    ``count`` and one line per row with aligned columns that never wrap."""
    if console.is_terminal:
        table = Table(title=title)
        for col in header:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*map(escape, row))
        console.print(table)
        return
    widths = [max(len(c) for c in column) for column in zip(header, *rows)]
    console.print(f"{title} ({count}):", highlight=False, soft_wrap=True)
    for row in (header, *rows):
        console.print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), highlight=False, soft_wrap=True, markup=False)


def _print_forward(ws: Workspace) -> None:
    """The forward record of the ledger: recorded forecasts scored against the prices that followed."""
    try:
        view = load_forward(ws)
    except BistlabError as err:
        fail(err)
    console.print(f"forward record: {view.note}", highlight=False, soft_wrap=True)
    for g in view.groups:
        if g.n_forecasts:
            console.print(
                f"  {g.label}: forward DirHit {g.dirhit.text()}; persistence {g.persistence.text()}; majority {g.majority.text()}",
                highlight=False,
                soft_wrap=True,
            )


def forward(
    cycle: Annotated[Optional[int], typer.Option(help="The as-of cycle to score (default: the latest cycle run with --as-of, else the latest cycle).")] = None,
    render: Annotated[bool, typer.Option("--report/--no-report", help="Render the cycle's report again with the forward record.")] = True,
) -> None:
    """Score an as-of cycle's frozen models on every session after its as-of date: forward DirHit per
    task with count, interval and baselines on the same rows, and usable against not-usable models."""
    ws = current_workspace()
    try:
        number = cycle or default_forward_cycle(ws)
        scores = forward_cycle(ws, number)
    except BistlabError as err:
        fail(err)
    _print_forward_scores(number, cycle_as_of(ws, number) or "?", scores, forward_groups(scores))
    if not render:
        console.print(f"report not rendered: `bistlab report --cycle {number}` renders it with the forward record", highlight=False, soft_wrap=True)
        return
    try:
        console.print(f"report: {render_report(ws.ensure(), number)}", highlight=False, soft_wrap=True)
    except BistlabError as err:
        fail(err)


_FORWARD_HEADER = ("task", "usable at the cycle", "sessions scored", "forward DirHit", "persistence (same rows)", "majority (same rows)")


def _forward_cells(s: ForwardScore) -> tuple[str, ...]:
    """One task's forward record as the cells of :data:`_FORWARD_HEADER`."""
    usable = {True: "USABLE", False: "no", None: "–"}[s.usable]
    span = f"{s.sessions} ({s.first_date} … {s.last_date})" if s.sessions else "0"
    task = f"{s.key} ({s.target}, {s.rows} rows pooled)" if s.target != "raw" else s.key
    return (task, usable, span, s.figure("model").text(), s.figure("persistence").text(), s.figure("majority").text())


def _print_forward_scores(cycle: int, as_of: str, scores: list[ForwardScore], groups: list[ForwardGroup]) -> None:
    """The forward record: a table on a terminal, else one unwrapped line per task; then the groups."""
    rows = [_forward_cells(s) for s in scores]
    title = f"forward record of cycle {cycle} (as of {as_of}): frozen models on every later session with a known label"
    _print_rows(title, _FORWARD_HEADER, rows, count=f"{len(rows)} tasks")
    for g in groups:
        if g.n_tasks:
            console.print(
                f"  {g.label} ({g.n_tasks} per-symbol task{'s' if g.n_tasks != 1 else ''}, {g.sessions} sessions): forward DirHit {g.dirhit.text()}; "
                f"persistence {g.persistence.text()}; majority {g.majority.text()}",
                highlight=False, soft_wrap=True, markup=False,
            )
