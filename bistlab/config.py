"""Shared settings and defaults: the default horizons, the evaluation settings every part shares
(DESIGN.md "Definitions"), the score's nRMSE weight, and the price table's column mapping
(``BISTLAB_PRICE_COLUMNS``). Where files live is :mod:`bistlab.core.workspace`'s."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from bistlab.errors import ConfigError

__all__ = [
    "DEFAULT_HORIZONS",
    "PRUNER_NAMES",
    "DEFAULT_PRUNER",
    "UNIVERSE_MIN_SYMBOLS",
    "PRICE_FIELDS",
    "EvalSettings",
    "CycleConfig",
    "k_for_horizon",
    "parse_as_of",
    "parse_price_columns",
]

DEFAULT_HORIZONS: tuple[int, ...] = (1, 3, 7, 14, 30)
PRUNER_NAMES: tuple[str, ...] = ("none", "median", "wilcoxon", "cannot-win")
"""The pruners of :mod:`bistlab.search.pruning` (``bench/bench_pruning.py`` compares them)."""
DEFAULT_PRUNER = "cannot-win"
UNIVERSE_MIN_SYMBOLS = 10
"""Fewest stored symbols for which a cycle runs universe tasks unless told (``CycleConfig.universe``)."""
"""The pruner of every study unless one is named."""
PRICE_FIELDS: tuple[str, ...] = ("symbol", "date", "open", "high", "low", "close", "volume")
"""bistlab's names of the price store's columns (the keys of a column mapping)."""


def parse_price_columns(text: str | None, *, name: str = "BISTLAB_PRICE_COLUMNS") -> dict[str, str | None] | None:
    """Parse a column mapping written ``field=column,field=column``, e.g. ``date=trade_date,close=px_close``.

    Fields are :data:`PRICE_FIELDS`; spaces around names are ignored and so are empty items (a
    trailing comma). ``volume=`` with no column means the table has no volume column (``None``).

    Returns:
        The mapping (bistlab name -> the table's column name), or ``None`` for a blank ``text``.

    Raises:
        ConfigError: an item without ``=``, an unknown or repeated field, or an empty column name
            for a field other than volume; the message shows the item.
    """
    if text is None or not text.strip():
        return None
    fields = ", ".join(PRICE_FIELDS)
    mapping: dict[str, str | None] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep:
            rule = "comma-separated field=column pairs like 'date=trade_date,close=px_close'"
            raise ConfigError(name, rule, item.strip())
        if key not in PRICE_FIELDS:
            raise ConfigError(name, f"field=column pairs with a field from {fields}", item.strip())
        if key in mapping:
            raise ConfigError(name, "field=column pairs naming each field once", item.strip())
        if not value and key != "volume":
            rule = "field=column pairs with a column name after '=' (only 'volume=' may be empty: no volume)"
            raise ConfigError(name, rule, item.strip())
        mapping[key] = value or None
    return mapping


def parse_as_of(value: object, *, name: str = "as_of") -> str:
    """An as-of date as ISO text ``YYYY-MM-DD`` (a ``date``, a ``datetime`` or ISO text such as
    ``2024-06-28`` or ``2024-06-28T00:00:00``; a time of day is dropped).

    Raises:
        ConfigError: ``value`` is not a date.
    """
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError as err:
        raise ConfigError(name, "an ISO date YYYY-MM-DD", value) from err


def k_for_horizon(horizon: int) -> float:
    """The nRMSE weight of the score: 6 for horizons 1, 3 and 7 trading days, else 4."""
    return 6.0 if horizon in (1, 3, 7) else 4.0


WORKER_MEMORY_BYTES = 1536 * 2**20
"""Memory a cycle worker may need at its peak (a demo cycle of 8 tasks peaked at 542 MiB on two
workers; a 63-task BIST cycle at 1,157 MiB in all): the bound on :func:`default_workers`."""


def default_workers() -> int:
    """Tasks a cycle runs at once by default: the machine's cores, bounded by its memory
    (:data:`WORKER_MEMORY_BYTES` each); every fit uses one thread (``n_jobs`` 1)."""
    cores = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform reports it
        return max(1, cores)
    return max(1, min(cores, memory // WORKER_MEMORY_BYTES))


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
        holdout_rows: the holdout's rows when set (``--holdout-rows``: a longer holdout gives a
            verdict more power and costs the training window as many rows); ``None``: the
            fraction within ``holdout_min`` .. ``holdout_max``. A universe task counts sessions.
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
    holdout_rows: int | None = None
    min_rows: int = 100
    refit_every: int = 20

    def __post_init__(self) -> None:
        """Refuse a setting out of its range, naming it (a threshold below 0, a percentage above 100...)."""
        rules = (
            ("n_splits", self.n_splits >= 1, "a whole number >= 1"),
            ("dirhit_threshold", math.isfinite(self.dirhit_threshold) and self.dirhit_threshold >= 0, "a finite absolute log return >= 0"),
            ("min_mask_count", self.min_mask_count >= 0, "a whole number >= 0"),
            ("min_mask_pct", 0 <= self.min_mask_pct <= 100, "a percentage from 0 to 100"),
            ("min_valid_splits", 1 <= self.min_valid_splits <= self.n_splits, f"from 1 to n_splits ({self.n_splits})"),
            ("holdout_fraction", 0 < self.holdout_fraction < 1, "a fraction above 0 and below 1"),
            ("holdout_min", 1 <= self.holdout_min <= self.holdout_max, f"from 1 to holdout_max ({self.holdout_max})"),
            ("holdout_rows", self.holdout_rows is None or self.holdout_rows >= 1, "a whole number of rows >= 1 (or None)"),
            ("min_rows", self.min_rows >= 1, "a whole number >= 1"),
            ("refit_every", self.refit_every >= 1, "a whole number >= 1"),
        )
        for name, ok, rule in rules:
            if not ok:
                raise ConfigError(name, rule, getattr(self, name))

    def holdout_size(self, n_rows: int) -> int:
        """The holdout's rows out of ``n_rows`` (sessions, for a universe task)."""
        if self.holdout_rows is not None:
            return int(self.holdout_rows)
        return max(self.holdout_min, min(self.holdout_max, int(round(self.holdout_fraction * n_rows))))

    def to_dict(self) -> dict[str, float | int | None]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CycleConfig:
    """What a cycle runs.

    Attributes:
        horizons: horizons in trading days, processed in this order.
        symbols: symbols to run; ``None`` means every symbol in the price store.
        n_trials: complete HPO trials per task.
        seed: model and sampler seed.
        n_jobs: threads per model fit. One by default: at these data sizes (a few thousand rows)
            a second thread per fit costs more in synchronisation than it saves (1.4x fewer
            trials per minute, ``bench/bench_parallel.py``); use the cores with ``workers``.
        max_retries: extra attempts for a failed task within one run.
        models: model families to search (default: every available one).
        workers: tasks run at once on this machine (processes).
        dask_address: run tasks on this Dask scheduler instead (needs ``Workspace.optuna_url``).
        keep_cycles: earlier cycles whose studies and runs are kept (reports are always kept).
        pruner: the :mod:`bistlab.search.pruning` pruner that may stop a trial after a split.
        universe: run a universe task (``UNIVERSE_<h>d``, one model over every stored symbol) per
            horizon; ``None``: when the store holds at least :data:`UNIVERSE_MIN_SYMBOLS` symbols.
        universe_target: the universe tasks' target, ``excess`` (over the date's cross-sectional
            median) or ``raw``.
        as_of: an ISO date ``YYYY-MM-DD`` (an *as-of cycle*): every price row after it is hidden
            from HPO, selection, training and the holdout evaluation (the cycle reads the store
            truncated at it, :func:`bistlab.evaluation.universe.load_universe`), and its frozen final models
            are scored on every later session afterwards (``bistlab forward``,
            :mod:`bistlab.runs.forward`). ``None``: every stored row.
        holdout_rows: every task's holdout rows (sessions for a universe task); ``None``: 10 %
            of the rows, 40 to 120 (:class:`EvalSettings`).
        use_mlflow: when the cycle ends, record it in MLflow (:mod:`bistlab.runs.cycle_tracking`): one
            run per cycle, one nested run per task with its holdout figures and verdict, the
            report as an artifact; the store of ``MLFLOW_TRACKING_URI`` when set, else
            ``runs/mlflow.db``. Needs ``pip install 'bistlab[mlflow]'``. A resume keeps it.
    """

    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    symbols: tuple[str, ...] | None = None
    n_trials: int = 20
    seed: int = 0
    n_jobs: int = 1
    max_retries: int = 1
    models: tuple[str, ...] | None = None
    workers: int = 1
    dask_address: str | None = None
    keep_cycles: int = 1
    pruner: str = DEFAULT_PRUNER
    universe: bool | None = None
    universe_target: str = "excess"
    as_of: str | None = None
    holdout_rows: int | None = None
    use_mlflow: bool = False

    def __post_init__(self) -> None:
        if self.as_of is not None:
            object.__setattr__(self, "as_of", parse_as_of(self.as_of))
        if self.universe_target not in ("excess", "raw"):
            raise ConfigError("universe_target", "one of excess, raw", self.universe_target)
        if not self.horizons or any(int(h) < 1 for h in self.horizons):
            raise ConfigError("horizons", "one or more positive whole numbers of trading days", self.horizons)
        if self.n_trials < 1:
            raise ConfigError("n_trials", "at least 1", self.n_trials)
        if self.holdout_rows is not None and self.holdout_rows < 1:
            raise ConfigError("holdout_rows", "a whole number of rows >= 1 (or None)", self.holdout_rows)
        if self.workers < 1:
            raise ConfigError("workers", "at least 1", self.workers)
        if self.n_jobs < 1:
            raise ConfigError("n_jobs", "at least 1", self.n_jobs)
        if self.keep_cycles < 0:
            raise ConfigError("keep_cycles", "0 or more", self.keep_cycles)
        if self.pruner not in PRUNER_NAMES:
            raise ConfigError("pruner", f"one of {', '.join(PRUNER_NAMES)}", self.pruner)
        if not isinstance(self.use_mlflow, bool):
            raise ConfigError("use_mlflow", "true or false", self.use_mlflow)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CycleConfig":
        return cls(**{**data, "horizons": tuple(data["horizons"]), "symbols": tuple(data["symbols"]) if data.get("symbols") else None, "models": tuple(data["models"]) if data.get("models") else None})
