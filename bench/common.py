"""What the benchmarks share: a throwaway workspace with real prices, timers around model fits and
feature computation (in total and per trial), a bistlab study run in-process on a SQLite file (as
a cycle runs it), and the holdout score of a study's best trial.

Benchmarks print figures measured side by side in one run; they never assert on time.
"""

from __future__ import annotations

import collections
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna

import bistlab.evaluation.dataset as dataset_module
import bistlab.search.hpo as hpo_module
from bistlab import models as models_pkg
from bistlab.evaluation.dataset import TaskData
from bistlab.evaluation.walkforward import EvaluationSpec, fit_model, make_evaluation_spec
from bistlab.features import registry as feature_registry
from bistlab.search.hpo import finished_trials, open_study, run_hpo
from bistlab.data.importers import import_paths, load_demo
from bistlab.evaluation.metrics import score, split_metrics
from bistlab.search.pruning import make_pruner
from bistlab.search.selection import select_best_trial
from bistlab.models.space import SearchSpace, TrialConfig
from bistlab.data.store import PriceStore
from bistlab.evaluation.universe import Universe, load_universe
from bistlab.core.workspace import Workspace

SHARED_BIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "bist"
DEMO_SYMBOLS = ("SP500", "NASDAQ", "GOOG")

optuna.logging.set_verbosity(optuna.logging.ERROR)


def workspace_with(symbols: Sequence[str] = (), *, data: Path | None = None) -> Workspace:
    """A throwaway workspace holding the demo data, or the price files of ``data`` (default: the
    BIST files of ``../shared/data/bist`` when a symbol is not a demo one)."""
    ws = Workspace(root=Path(tempfile.mkdtemp(prefix="bistlab-bench-"))).ensure()
    store = PriceStore(ws.price_url)
    if data is None and all(s in DEMO_SYMBOLS for s in symbols):
        load_demo(store)
    else:
        import_paths(store, [Path(data or SHARED_BIST)])
    store.close()
    return ws


@dataclass
class Timers:
    """Seconds spent in model fits, predictions and feature computation, and how many fits; per
    trial too (``per_trial[number]``: its objective's wall seconds and the same keys)."""

    seconds: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))
    fits: collections.Counter = field(default_factory=collections.Counter)
    per_trial: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def fit_seconds(self) -> float:
        return sum(v for k, v in self.seconds.items() if k.startswith("fit:"))

    @property
    def model_seconds(self) -> float:
        """Model fits and predictions."""
        return self.fit_seconds + self.seconds["predict"]

    def reset(self) -> None:
        self.seconds.clear()
        self.fits.clear()
        self.per_trial.clear()

    def snapshot(self) -> dict[str, float]:
        return {"model": self.model_seconds, "features": self.seconds["features"]}


class _Timed:
    def __init__(self, inner: Any, family: str, timers: Timers) -> None:
        self.inner, self.family, self.timers = inner, family, timers

    def fit(self, X: np.ndarray, y: np.ndarray, **kwargs: Any) -> "_Timed":
        started = time.perf_counter()
        self.inner.fit(X, y, **kwargs)
        self.timers.seconds[f"fit:{self.family}"] += time.perf_counter() - started
        self.timers.fits[self.family] += 1
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        out = self.inner.predict(X)
        self.timers.seconds["predict"] += time.perf_counter() - started
        return out


@contextmanager
def timed() -> Iterator[Timers]:
    """Time every model fit and predict and every feature matrix built inside the block."""
    timers = Timers()
    families = models_pkg.registry()
    builds = {name: fam.build for name, fam in families.items()}
    build_matrix = dataset_module.build_feature_matrix
    for name, fam in families.items():
        object.__setattr__(fam, "build", lambda params, _b=builds[name], _n=name, **kw: _Timed(_b(params, **kw), _n, timers))

    def matrix(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = build_matrix(*args, **kwargs)
        timers.seconds["features"] += time.perf_counter() - started
        return out

    make_objective = hpo_module.make_objective

    def objective_of(*args: Any, **kwargs: Any) -> Any:
        inner = make_objective(*args, **kwargs)

        def objective(trial: optuna.Trial) -> float:
            before, started = timers.snapshot(), time.perf_counter()
            try:
                return inner(trial)
            finally:
                after = timers.snapshot()
                timers.per_trial[trial.number] = {"wall": time.perf_counter() - started, **{k: after[k] - before[k] for k in after}}

        return objective

    dataset_module.build_feature_matrix = matrix
    hpo_module.make_objective = objective_of
    try:
        yield timers
    finally:
        for name, fam in families.items():
            object.__setattr__(fam, "build", builds[name])
        dataset_module.build_feature_matrix = build_matrix
        hpo_module.make_objective = make_objective


def core_lgbm_space(task: TaskData) -> SearchSpace:
    """The peer's space in bistlab: LightGBM on the always-on core features, no options."""
    base = SearchSpace.for_task(task.context, models=["lgbm"])
    return SearchSpace(groups={"core": feature_registry()["core"]}, models=base.models, options=(), removed={})


@dataclass
class StudyRun:
    """One bistlab study run in-process."""

    study: optuna.Study
    wall_seconds: float
    timers: Timers
    task: TaskData
    spec: EvaluationSpec


def study_url(kind: str = "sqlite") -> str:
    """A new study file: SQLite, as a cycle keeps one per task (write-ahead log, see
    bistlab.search.storage), or an Optuna journal file (``kind="journal"``)."""
    folder = tempfile.mkdtemp(prefix="bistlab-bench-study-")
    return f"journal:{folder}/study.log" if kind == "journal" else f"sqlite:///{folder}/study.db"


def run_study(task: TaskData, *, n_trials: int, space: SearchSpace | None = None, seed: int = 0, pruner: str = "none", n_jobs: int = 1, coverage: bool = True, storage: str = "sqlite") -> StudyRun:
    """A bistlab study of ``n_trials`` finished trials on ``task``, timed: in a SQLite file as a
    cycle runs it, or (``storage``) in a journal file or in memory (no resume after a crash)."""
    spec = make_evaluation_spec(task)
    where = optuna.storages.InMemoryStorage() if storage == "memory" else study_url(storage)
    study = open_study(where, "bench", seed=seed, pruner=make_pruner(pruner, n_steps=len(spec.splits)))
    with timed() as timers:
        started = time.perf_counter()
        run_hpo(task, spec, study=study, n_trials=n_trials, space=space or SearchSpace.for_task(task.context), seed=seed, n_jobs=n_jobs, coverage=coverage)
        wall = time.perf_counter() - started
    return StudyRun(study=study, wall_seconds=wall, timers=timers, task=task, spec=spec)


def holdout_of(task: TaskData, config: TrialConfig, spec: EvaluationSpec, *, n_jobs: int = 1) -> dict[str, float | None]:
    """The configuration fit on every development row and scored on the holdout (one static fit,
    as the peer does): DirHit, count and score."""
    X = task.features(config)
    model = fit_model(task, config, X, np.arange(spec.holdout["dev_end"]), n_jobs=n_jobs)
    rows = np.arange(spec.holdout["start"], spec.holdout["end"])
    m = split_metrics(task.labels[rows], model.predict(X[rows]), thr=spec.dirhit_threshold, horizon=task.horizon)
    return {"dirhit": m.dirhit, "hits": m.dirhit_hits or 0, "count": m.mask_count, "score": score(m.dirhit, m.nrmse, horizon=task.horizon)}


def best_holdout(run: StudyRun) -> dict[str, Any]:
    """The study's selected trial (support filter) scored on the holdout."""
    sel = select_best_trial(run.study.trials, symbol=run.task.symbol, horizon=run.task.horizon)
    return holdout_of(run.task, TrialConfig.from_dict(sel.user_attrs["config"]), run.spec)


def trials_per_minute(run: StudyRun) -> float:
    return 60.0 * len(finished_trials(run.study)) / run.wall_seconds


def universe_of(ws: Workspace) -> Universe:
    return load_universe(ws)
