"""The cycle: every (symbol, horizon) task through HPO, training and evaluation notebooks.

A cycle runs horizon-first (all symbols at h=1, then all at the next horizon, ...). Its number
rises only when every task of the current cycle has ended; until then ``run_cycle`` resumes the
current one and skips tasks that have ended. A new cycle warm-starts each study with the
previous cycle's best parameters. Each step's executed notebook is kept under
``runs/cycle_<N>/<SYMBOL>_<h>d/``; the cycle ends with ``reports/cycle_<N>.html``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bistlab import notebooks
from bistlab.config import DEFAULT_HORIZONS, Workspace
from bistlab.dataset import task_key
from bistlab.errors import BistlabError, ConfigError, InsufficientDataError
from bistlab.jsonio import read_json
from bistlab.pipeline import TaskPaths, load_task
from bistlab.state import CycleState, StateFile, TaskState, TaskStatus, utcnow
from bistlab.store import PriceStore

__all__ = ["CycleConfig", "CycleResult", "run_cycle", "plan_tasks", "open_cycle"]

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, TaskState, "CycleState"], None]


@dataclass(frozen=True)
class CycleConfig:
    """What a cycle runs.

    Attributes:
        horizons: horizons in trading days, processed in this order.
        symbols: symbols to run; ``None`` means every symbol in the price store.
        n_trials: complete HPO trials per task.
        seed: model and sampler seed.
        n_jobs: threads per model fit.
        max_retries: extra attempts for a failed task within one run.
        models: model families to search (default: every available one).
    """

    horizons: tuple[int, ...] = DEFAULT_HORIZONS
    symbols: tuple[str, ...] | None = None
    n_trials: int = 20
    seed: int = 0
    n_jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_retries: int = 1
    models: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.horizons or any(int(h) < 1 for h in self.horizons):
            raise ConfigError("horizons", "one or more positive whole numbers of trading days", self.horizons)
        if self.n_trials < 1:
            raise ConfigError("n_trials", "at least 1", self.n_trials)


@dataclass(frozen=True)
class CycleResult:
    cycle: int
    tasks: dict[str, TaskState]
    report: Path | None


def plan_tasks(symbols: Sequence[str], horizons: Sequence[int]) -> list[tuple[str, int]]:
    """Tasks in horizon-first order."""
    return [(s, int(h)) for h in horizons for s in symbols]


def open_cycle(state_file: StateFile, tasks: Sequence[tuple[str, int]]) -> CycleState:
    """Resume the current cycle if it has not ended, else start the next one with ``tasks`` pending."""

    def change(state: CycleState) -> None:
        if state.cycle > 0 and not state.cycle_ended():
            return
        state.cycle += 1
        for symbol, horizon in tasks:
            state.tasks[task_key(symbol, horizon)] = TaskState(symbol=symbol, horizon=horizon, cycle=state.cycle)
        logger.info("starting cycle %d with %d tasks", state.cycle, len(tasks))

    return state_file.update(change)


def _warm_start(ws: Workspace, cycle: int, symbol: str, horizon: int) -> dict[str, Any] | None:
    previous = TaskPaths.of(ws, cycle - 1, symbol, horizon).best_params
    if cycle <= 1 or not previous.exists():
        return None
    try:
        return read_json(previous)["best_params"]
    except (OSError, ValueError, KeyError) as err:
        logger.warning("%s: previous cycle's best params unreadable (%s); starting cold", task_key(symbol, horizon), err)
        return None


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def run_task(ws: Workspace, state_file: StateFile, task: TaskState, config: CycleConfig) -> TaskState:
    """HPO → training → evaluation of one task, each a papermill notebook; the state follows."""
    key, cycle = task.key, task.cycle
    paths = TaskPaths.of(ws, cycle, task.symbol, task.horizon)
    try:
        load_task(ws, task.symbol, task.horizon)
    except InsufficientDataError as err:
        return state_file.update_task(key, status=TaskStatus.SKIPPED, error=f"skipped: {err}", completed_at=utcnow())
    common = {"workspace": str(ws.root), "db_url": ws.db_url, "symbol": task.symbol, "horizon": task.horizon, "cycle": cycle, "n_jobs": config.n_jobs}
    state_file.update_task(key, status=TaskStatus.HPO, started_at=task.started_at or utcnow(), error=None)
    notebooks.execute(
        "hpo",
        paths.folder / "hpo.ipynb",
        parameters={
            **common,
            "n_trials": config.n_trials,
            "seed": config.seed,
            "models": list(config.models) if config.models else None,
            "warm_start": _warm_start(ws, cycle, task.symbol, task.horizon),
        },
        cwd=ws.root,
    )
    best = read_json(paths.best_params)
    state_file.update_task(
        key,
        status=TaskStatus.TRAINING,
        hpo_completed_at=utcnow(),
        best_params_file=str(paths.best_params),
        hpo_dirhit=best["hpo_dirhit"],
        low_support=best["low_support"],
    )
    notebooks.execute("train", paths.folder / "train.ipynb", parameters=common, cwd=ws.root)
    state_file.update_task(key, training_completed_at=utcnow())
    notebooks.execute("evaluate", paths.folder / "evaluate.ipynb", parameters=common, cwd=ws.root)
    ev = read_json(paths.evaluation)
    return state_file.update_task(
        key,
        status=TaskStatus.COMPLETED,
        completed_at=utcnow(),
        training_dirhit_wfv=ev["wfv_dirhit"],
        training_dirhit_online=ev["holdout"]["dirhit"],
        holdout_count=ev["holdout"]["mask_count"],
        usable=ev["verdict"]["usable"],
    )


def run_cycle(ws: Workspace, config: CycleConfig, *, progress: ProgressFn | None = None, report: bool = True) -> CycleResult:
    """Run (or resume) a cycle over the store's symbols and ``config.horizons``, then render its report.

    Args:
        ws: the workspace.
        config: what to run.
        progress: called with ("start" | "end", task, state) around each task.
        report: render ``reports/cycle_<N>.html`` at the end.
    """
    ws.ensure()
    symbols = list(config.symbols) if config.symbols else PriceStore(ws.price_url).symbols()
    if not symbols:
        raise BistlabError(f"the price store {ws.price_url} has no symbols: run `bistlab data demo` or `bistlab data import PATH`")
    state_file = StateFile(ws.state_file)
    state = open_cycle(state_file, plan_tasks(symbols, config.horizons))
    order = sorted(state.cycle_tasks(), key=lambda t: (config.horizons.index(t.horizon) if t.horizon in config.horizons else 99, t.symbol))
    for task in order:
        if task.status in TaskStatus.ENDED:
            continue
        if progress:
            progress("start", task, state)
        for attempt in range(config.max_retries + 1):
            try:
                task = run_task(ws, state_file, task, config)
                break
            except (BistlabError, OSError, ValueError, KeyError, RuntimeError) as err:
                logger.warning("%s attempt %d failed: %s", task.key, attempt + 1, _one_line(err))
                task = state_file.update_task(task.key, status=TaskStatus.FAILED, error=_one_line(err), retry_count=task.retry_count + 1)
        state = state_file.read()
        if progress:
            progress("end", task, state)
    state = state_file.read()
    path = None
    if report:
        from bistlab.report import render_report

        path = render_report(ws, state.cycle)
    return CycleResult(cycle=state.cycle, tasks={t.key: t for t in state.cycle_tasks()}, report=path)
