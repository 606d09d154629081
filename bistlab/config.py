"""Workspace layout and shared defaults.

The workspace is a folder holding ``studies/`` (Optuna storages), ``runs/`` (cycle state,
executed notebooks, model artifacts, the default price store) and ``reports/`` (HTML).
It is the current directory unless ``BISTLAB_WORKSPACE`` names another one. The price store
is ``runs/prices.sqlite`` in the workspace unless ``BISTLAB_DB_URL`` (any SQLAlchemy URL,
e.g. ``postgresql+psycopg2://user@127.0.0.1/bist``) says otherwise.

Prices already kept in a table of one's own (as the original system kept them in PostgreSQL)
are read in place, read-only: ``BISTLAB_PRICE_TABLE`` names the table (``market.daily_prices``,
schema-qualified if need be) and ``BISTLAB_PRICE_COLUMNS`` maps bistlab's column names to the
table's, e.g. ``symbol=ticker,date=trade_date,close=px_close,volume=vol`` (fields not named keep
their own name; ``volume=`` with nothing after it: the table has no volume column). See
:class:`bistlab.store.PriceStore`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bistlab.errors import ConfigError

__all__ = [
    "DEFAULT_HORIZONS",
    "PRICE_FIELDS",
    "EvalSettings",
    "Workspace",
    "k_for_horizon",
    "parse_price_columns",
]

DEFAULT_HORIZONS: tuple[int, ...] = (1, 3, 7, 14, 30)
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
        price_table: the price table; another than ``"prices"`` (bistlab's own) is an existing
            table or view read in place, read-only (``"market.daily_prices"`` with a schema).
        price_columns: bistlab name -> column name of ``price_table`` (see
            :data:`PRICE_FIELDS`; a volume of ``None``: no volume column); given, the table is
            read in place, read-only, even if it is called ``prices``. ``None``: bistlab's names.
    """

    root: Path
    db_url: str | None = field(default=None)
    optuna_url: str | None = field(default=None)
    price_table: str = field(default="prices")
    price_columns: dict[str, str | None] | None = field(default=None, hash=False)

    @classmethod
    def from_env(
        cls,
        root: Path | str | None = None,
        *,
        db_url: str | None = None,
        optuna_url: str | None = None,
        price_table: str | None = None,
        price_columns: dict[str, str | None] | None = None,
    ) -> "Workspace":
        """The workspace named by the arguments, else by the environment, else the current directory.

        Environment: ``BISTLAB_WORKSPACE``, ``BISTLAB_DB_URL``, ``BISTLAB_OPTUNA_URL``,
        ``BISTLAB_PRICE_TABLE``, ``BISTLAB_PRICE_COLUMNS`` (``field=column,...``, see
        :func:`parse_price_columns`).

        Raises:
            ConfigError: ``BISTLAB_PRICE_COLUMNS`` is malformed.
        """
        root_path = Path(root or os.environ.get("BISTLAB_WORKSPACE") or Path.cwd()).resolve()
        if price_columns is None:
            price_columns = parse_price_columns(os.environ.get("BISTLAB_PRICE_COLUMNS"))
        return cls(
            root=root_path,
            db_url=db_url or os.environ.get("BISTLAB_DB_URL") or None,
            optuna_url=optuna_url or os.environ.get("BISTLAB_OPTUNA_URL") or None,
            price_table=price_table or (os.environ.get("BISTLAB_PRICE_TABLE") or "").strip() or "prices",
            price_columns=dict(price_columns) if price_columns is not None else None,
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

    @property
    def hyperopt_dir(self) -> Path:
        """``runs/hyperopt/``: one folder per LSTM hyperopt job (:mod:`bistlab.lstm.jobs`)."""
        return self.runs / "hyperopt"

    def hyperopt_job_dir(self, job_id: str) -> Path:
        """``runs/hyperopt/<job_id>/``: the job's state.json, results.json, best_params.json and studies."""
        return self.hyperopt_dir / job_id

    def hyperopt_report(self, job_id: str) -> Path:
        """``reports/hyperopt_<job_id>.html``: the job's report."""
        return self.reports / f"hyperopt_{job_id}.html"

    def ensure(self) -> "Workspace":
        for folder in (self.studies, self.runs, self.reports):
            folder.mkdir(parents=True, exist_ok=True)
        return self
