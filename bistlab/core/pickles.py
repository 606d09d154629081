"""Pickles written by older bistlab versions read back: a model file (``model.pkl``, ``model_final.pkl``) or a
cycle's price snapshot names the classes in it by module, and the modules moved into folders (docs/architecture.md).
Imports nothing of bistlab.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

__all__ = ["MOVED_MODULES", "load_pickle"]

MOVED_MODULES: dict[str, str] = {
    "bistlab.calibration": "bistlab.evaluation.calibration",
    "bistlab.cli": "bistlab.cli.main",
    "bistlab.cli_common": "bistlab.cli.common",
    "bistlab.cli_forecasts": "bistlab.cli.forecasts",
    "bistlab.cli_hyperopt": "bistlab.cli.hyperopt",
    "bistlab.cli_serve": "bistlab.cli.serve",
    "bistlab.clock": "bistlab.core.clock",
    "bistlab.cycle": "bistlab.runs.cycle",
    "bistlab.cycle_status": "bistlab.runs.cycle_status",
    "bistlab.cycle_tracking": "bistlab.runs.cycle_tracking",
    "bistlab.dashboard": "bistlab.api.dashboard",
    "bistlab.dataset": "bistlab.evaluation.dataset",
    "bistlab.date_bootstrap": "bistlab.evaluation.date_bootstrap",
    "bistlab.db_urls": "bistlab.core.db_urls",
    "bistlab.dialects": "bistlab.data.dialects",
    "bistlab.dirhit": "bistlab.evaluation.dirhit",
    "bistlab.estimator": "bistlab.models.estimator",
    "bistlab.evaluation": "bistlab.evaluation.walkforward",
    "bistlab.executors": "bistlab.runs.executors",
    "bistlab.faults": "bistlab.core.faults",
    "bistlab.forward": "bistlab.runs.forward",
    "bistlab.honesty": "bistlab.evaluation.honesty",
    "bistlab.hpo": "bistlab.search.hpo",
    "bistlab.htmlfmt": "bistlab.report.htmlfmt",
    "bistlab.importers": "bistlab.data.importers",
    "bistlab.intervals": "bistlab.evaluation.intervals",
    "bistlab.jsonio": "bistlab.core.jsonio",
    "bistlab.kernel": "bistlab.runs.kernel",
    "bistlab.labels": "bistlab.evaluation.labels",
    "bistlab.ledger": "bistlab.evaluation.ledger",
    "bistlab.locks": "bistlab.core.locks",
    "bistlab.looks": "bistlab.evaluation.looks",
    "bistlab.metrics": "bistlab.evaluation.metrics",
    "bistlab.monitor": "bistlab.runs.monitor",
    "bistlab.names": "bistlab.core.names",
    "bistlab.notebooks": "bistlab.runs.notebooks",
    "bistlab.objectives": "bistlab.search.objectives",
    "bistlab.options": "bistlab.models.options",
    "bistlab.panel": "bistlab.evaluation.panel",
    "bistlab.panel_calendar": "bistlab.evaluation.panel_calendar",
    "bistlab.panel_metrics": "bistlab.evaluation.panel_metrics",
    "bistlab.pipeline": "bistlab.runs.pipeline",
    "bistlab.plots": "bistlab.report.plots",
    "bistlab.predict": "bistlab.runs.predict",
    "bistlab.price_files": "bistlab.data.price_files",
    "bistlab.price_frames": "bistlab.data.price_frames",
    "bistlab.price_tables": "bistlab.data.price_tables",
    "bistlab.pruning": "bistlab.search.pruning",
    "bistlab.records": "bistlab.core.records",
    "bistlab.repro": "bistlab.core.repro",
    "bistlab.selection": "bistlab.search.selection",
    "bistlab.sentiment_table": "bistlab.data.sentiment_table",
    "bistlab.sessions": "bistlab.data.sessions",
    "bistlab.space": "bistlab.models.space",
    "bistlab.splits": "bistlab.data.splits",
    "bistlab.stages": "bistlab.runs.stages",
    "bistlab.state": "bistlab.core.state",
    "bistlab.storage": "bistlab.search.storage",
    "bistlab.store": "bistlab.data.store",
    "bistlab.store_mapped": "bistlab.data.store_mapped",
    "bistlab.stores": "bistlab.data.stores",
    "bistlab.studies": "bistlab.search.studies",
    "bistlab.summary": "bistlab.report.summary",
    "bistlab.textfmt": "bistlab.core.textfmt",
    "bistlab.universe": "bistlab.evaluation.universe",
    "bistlab.universe_rule": "bistlab.evaluation.universe_rule",
    "bistlab.universe_simulation": "bistlab.evaluation.universe_simulation",
    "bistlab.validate": "bistlab.data.validate",
    "bistlab.workspace": "bistlab.core.workspace",
}
"""Where each module of the flat layout (before the folders) lives now."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED_MODULES.get(module, module), name)


def load_pickle(path: Path | str) -> Any:
    """The object pickled in ``path``, its classes looked up where they live now.

    Raises:
        OSError: the file cannot be read.
        pickle.UnpicklingError: it is not a pickle.
    """
    with open(path, "rb") as fh:
        return _Unpickler(fh).load()
