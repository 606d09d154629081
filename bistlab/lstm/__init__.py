"""The LSTM hyperopt module (DESIGN.md "The LSTM hyperopt module", the second specification). Imports search and the
layers below (its splits, metrics, pruners and studies are the cycle's own), and the report's HTML blocks.

A PyTorch LSTM classifier of triple-barrier labels whose training hyperparameters are optimized
group by group with Optuna, as a job that a user starts, stops, resumes and inspects:

- :mod:`~bistlab.lstm.barriers` labels, :mod:`~bistlab.lstm.samples` windows and splits,
  :mod:`~bistlab.lstm.model`, :mod:`~bistlab.lstm.losses`, :mod:`~bistlab.lstm.training`,
  :mod:`~bistlab.lstm.metrics`;
- :mod:`~bistlab.lstm.groups` search spaces, :mod:`~bistlab.lstm.config` settings,
  :mod:`~bistlab.lstm.optimizer` grouped studies;
- :mod:`~bistlab.lstm.jobs` the runner (start, stop, resume, status, results),
  :mod:`~bistlab.lstm.runner`, :mod:`~bistlab.lstm.worker`, :mod:`~bistlab.lstm.files`;
- :mod:`~bistlab.lstm.report` the job report, :mod:`~bistlab.lstm.tracking` optional MLflow.

``from bistlab.lstm import run_hyperopt, load_job, OptimizationConfig`` is the notebook's entry.
Names are imported lazily so that ``import bistlab.lstm.config`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "OptimizationConfig",
    "run_hyperopt",
    "load_job",
    "start_job",
    "stop_job",
    "resume_job",
    "job_status",
    "job_results",
    "list_jobs",
    "latest_job",
]

_HOMES = {"OptimizationConfig": "bistlab.lstm.config"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(_HOMES.get(name, "bistlab.lstm.jobs")), name)
    raise AttributeError(f"module 'bistlab.lstm' has no attribute {name!r}")
