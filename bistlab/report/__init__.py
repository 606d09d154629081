"""The cycle report, in layers: what it knows (:mod:`~bistlab.report.data`,
:mod:`~bistlab.report.studies`), what it says about a task (:mod:`~bistlab.report.words`), the
task table (:mod:`~bistlab.report.table`), all of it assembled with the forecasts
(:mod:`~bistlab.report.assemble`), its sections and figures (:mod:`~bistlab.report.sections`, the
forecasts in :mod:`~bistlab.report.forecasts`, the facts to reproduce it in
:mod:`~bistlab.report.reproducibility`), each
task's page (:mod:`~bistlab.report.task_page`) and the rendering (:mod:`~bistlab.report.render`).
Each layer imports only the ones before it. The package reads result files: it imports search and the layers below
(and runs' notebook runner, to execute the report notebook); its HTML blocks (``htmlfmt``) and plots serve the LSTM
report and the notebooks too.

The ``report`` notebook calls ``load_report`` and the section functions re-exported here.
"""

from __future__ import annotations

from bistlab.report.assemble import CycleReport, load_report
from bistlab.report.data import CycleRecords, TaskRecord, collect_cycle, compare_previous
from bistlab.report.forecasts import as_of_forward_html, forward_html, predictions_html
from bistlab.report.render import render_report
from bistlab.report.reproducibility import reproducibility_html
from bistlab.report.sections import (
    changes_html,
    heatmap_figure,
    holdout_figure,
    honesty_html,
    hpo_vs_holdout_figure,
    summary_html,
    table_html,
    tasks_html,
    usable_html,
)
from bistlab.report.table import REPORT_COLUMNS, task_table
from bistlab.report.task_page import task_page_html
from bistlab.report.universe import symbol_comparisons, universe_figures, universe_html, universe_ic_figure, universe_task_html, universe_tercile_figure
from bistlab.report.words import task_sentences, verdict_words

__all__ = [
    "as_of_forward_html",
    "CycleRecords",
    "CycleReport",
    "TaskRecord",
    "REPORT_COLUMNS",
    "collect_cycle",
    "compare_previous",
    "task_table",
    "load_report",
    "render_report",
    "summary_html",
    "heatmap_figure",
    "usable_html",
    "table_html",
    "holdout_figure",
    "honesty_html",
    "hpo_vs_holdout_figure",
    "changes_html",
    "predictions_html",
    "forward_html",
    "tasks_html",
    "reproducibility_html",
    "task_page_html",
    "universe_html",
    "universe_task_html",
    "universe_ic_figure",
    "universe_tercile_figure",
    "universe_figures",
    "symbol_comparisons",
    "task_sentences",
    "verdict_words",
]
