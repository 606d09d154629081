"""Workspace layout and shared defaults.

The workspace is a folder holding ``studies/`` (Optuna storages), ``runs/`` (cycle state,
executed notebooks, model artifacts, the default price store) and ``reports/`` (HTML).
It is the current directory unless ``BISTLAB_WORKSPACE`` names another one. The price store
is ``runs/prices.sqlite`` in the workspace unless ``BISTLAB_DB_URL`` (any SQLAlchemy URL,
e.g. ``postgresql+psycopg2://user@127.0.0.1/bist``) says otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_HORIZONS",
    "EvalSettings",
    "Workspace",
    "k_for_horizon",
]

DEFAULT_HORIZONS: tuple[int, ...] = (1, 3, 7, 14, 30)


def k_for_horizon(horizon: int) -> float:
    """The nRMSE weight of the score: 6 for horizons 1, 3 and 7 trading days, else 4."""
    return 6.0 if horizon in (1, 3, 7) else 4.0


@dataclass(frozen=True)
class EvalSettings:
    """Settings every evaluation shares (DESIGN.md "Definitions").

    Attributes:
        n_splits: walk-forward test windows.
        dirhit_threshold: ``thr``; absolute log return below which a move counts as no move.
        min_mask_count: support filter, masked rows a split needs to count.
        min_mask_pct: support filter, masked rows in percent of the test window.
        min_valid_splits: splits with a defined DirHit a trial needs.
        holdout_fraction: share of rows kept for the holdout.
        holdout_min: fewest holdout rows.
        holdout_max: most holdout rows.
        min_rows: fewest usable (labelled) rows a symbol needs.
        refit_every: rows between refits in the online holdout evaluation.
    """

    n_splits: int = 4
    dirhit_threshold: float = 0.005
    min_mask_count: int = 5
    min_mask_pct: float = 2.5
    min_valid_splits: int = 2
    holdout_fraction: float = 0.10
    holdout_min: int = 40
    holdout_max: int = 120
    min_rows: int = 100
    refit_every: int = 20

    def to_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Workspace:
    """Paths of one bistlab workspace.

    Args:
        root: the workspace folder.
        db_url: SQLAlchemy URL of the price store; ``None`` means ``runs/prices.sqlite``.
        optuna_url: one Optuna storage for every study (PostgreSQL, for several machines);
            ``None`` means one SQLite file per study under ``studies/cycle_<N>/``.
    """

    root: Path
    db_url: str | None = field(default=None)
    optuna_url: str | None = field(default=None)

    @classmethod
    def from_env(cls, root: Path | str | None = None, *, db_url: str | None = None, optuna_url: str | None = None) -> "Workspace":
        """The workspace named by the arguments, else by the environment, else the current directory.

        Environment: ``BISTLAB_WORKSPACE``, ``BISTLAB_DB_URL``, ``BISTLAB_OPTUNA_URL``.
        """
        root_path = Path(root or os.environ.get("BISTLAB_WORKSPACE") or Path.cwd()).resolve()
        return cls(
            root=root_path,
            db_url=db_url or os.environ.get("BISTLAB_DB_URL") or None,
            optuna_url=optuna_url or os.environ.get("BISTLAB_OPTUNA_URL") or None,
        )

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
        return self.runs / "state.json"

    @property
    def price_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.runs / 'prices.sqlite'}"

    def cycle_dir(self, cycle: int) -> Path:
        return self.runs / f"cycle_{cycle}"

    def task_dir(self, cycle: int, task_key: str) -> Path:
        return self.cycle_dir(cycle) / task_key

    @property
    def stop_file(self) -> Path:
        """Present while a graceful stop is requested (``bistlab cycle stop``)."""
        return self.runs / "STOP"

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    def study_storage(self, cycle: int, task_key: str) -> str:
        """Optuna storage URL of one task's study: ``optuna_url`` if set, else one SQLite file per
        study (one writer per file)."""
        if self.optuna_url:
            return self.optuna_url
        return f"sqlite:///{self.studies / f'cycle_{cycle}' / f'{task_key}.db'}"

    def ensure(self) -> "Workspace":
        for folder in (self.studies, self.runs, self.reports):
            folder.mkdir(parents=True, exist_ok=True)
        return self
