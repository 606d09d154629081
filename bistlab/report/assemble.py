"""The report assembled: a cycle's records (:mod:`bistlab.report.data`), its task table
(:mod:`bistlab.report.table`), its forecasts and the forward record, in one :class:`CycleReport`:
what every section and task page is built from."""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bistlab.evaluation.ledger import ForwardView, load_forward
from bistlab.core.records import PREDICTION_COLUMNS
from bistlab.report.data import CycleRecords, TaskRecord, collect_cycle
from bistlab.report.table import task_table
from bistlab.core.workspace import Workspace

__all__ = ["CycleReport", "load_report", "load_predictions", "save_report"]


@dataclass
class CycleReport:
    """What the report displays: the records, the table, the forecasts and the forward record.

    Attributes:
        ws: the workspace.
        cycle: the cycle number.
        records: per-task records (:func:`collect_cycle`).
        table: :func:`bistlab.report.table.task_table`.
        predictions: the cycle's ``predictions.csv`` (:data:`bistlab.core.records.PREDICTION_COLUMNS`), or ``None``.
        predictions_note: why there are no predictions, or where they were written.
        rel: relative URL prefix from the main report to ``reports/cycle_<N>/``.
        forward: the forward record of the ledger's forecasts (:func:`bistlab.evaluation.ledger.load_forward`).
    """

    ws: Workspace
    cycle: int
    records: CycleRecords
    table: pd.DataFrame
    predictions: pd.DataFrame | None
    predictions_note: str
    rel: str
    forward: ForwardView | None = None

    def record(self, key: str) -> TaskRecord:
        return next(r for r in self.records.tasks if r.key == key)


def load_predictions(ws: Workspace, cycle: int) -> tuple[pd.DataFrame | None, str]:
    """The cycle's predictions as ``reports/cycle_<N>/predictions.csv`` holds them (written by
    :func:`bistlab.runs.predict.update_predictions`; the report only reads them), and a note saying
    where they come from or why there are none."""
    path = ws.predictions_file(cycle)
    if not path.exists():
        why = "the cycle's runs (its models) were cleaned up before any were made" if not ws.cycle_dir(cycle).exists() else "none made yet (`bistlab predict`)"
        return None, f"no predictions: {why}"
    frame = pd.read_csv(path, dtype={"note": str, "as_of": str, "last_label_date": str})
    frame = frame.astype(object).where(frame.notna(), None)
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    return frame.reindex(columns=PREDICTION_COLUMNS), f"written to {_relative(ws, path)} ({made})"


def _relative(ws: Workspace, path: Path) -> str:
    return str(path.relative_to(ws.reports))


def save_report(rep: CycleReport, path: Path) -> Path:
    """Keep a loaded report for the ``report`` notebook's kernel (:func:`load_report`'s ``cache``),
    so that the cycle page does not collect the cycle a second time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(rep, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def load_report(ws: Workspace, cycle: int, *, archive: bool = False, cache: str | Path | None = None) -> CycleReport:
    """Everything the report shows for ``cycle``; ``cache``: a report :func:`save_report` kept
    (the driver's, handed to the ``report`` notebook by :func:`bistlab.report.render.render_report`),
    read instead of collecting the cycle again when it exists."""
    if cache is not None and Path(cache).exists():
        rep = pickle.loads(Path(cache).read_bytes())
        if isinstance(rep, CycleReport) and rep.cycle == cycle:
            return rep
    records = collect_cycle(ws, cycle, archive=archive)
    predictions, note = load_predictions(ws, cycle)
    return CycleReport(
        ws=ws, cycle=cycle, records=records, table=task_table(records), predictions=predictions, predictions_note=note,
        rel=ws.report_dir_href(cycle), forward=load_forward(ws),
    )
