"""What a cycle is doing, from the state file and the studies: the progress view of the
specification (per task: trials, best trial, HPO DirHit, WFV and online DirHit, LOW_SUPPORT,
retries, errors)."""

from __future__ import annotations

import logging
from typing import Any

import optuna
from sqlalchemy.exc import SQLAlchemyError

from bistlab.errors import BistlabError
from bistlab.core.db_urls import storage_path
from bistlab.core.workspace import TaskPaths, Workspace, task_key
from bistlab.core.names import study_name
from bistlab.core.records import BestParams
from bistlab.core.state import CycleState, StateFile, TaskStatus
from bistlab.search.studies import read_study

__all__ = ["study_progress", "task_rows"]

logger = logging.getLogger(__name__)


def study_progress(ws: Workspace, cycle: int, symbol: str, horizon: int) -> dict[str, Any]:
    """Complete / running / failed trial counts of a task's study; zeros when it does not exist yet."""
    key = task_key(symbol, horizon)
    url = ws.study_storage(cycle, key)
    out = {"complete": 0, "running": 0, "failed": 0, "pruned": 0}
    if (path := storage_path(url)) is not None and not path.exists():
        return out
    try:
        study = read_study(url, study_name(symbol, horizon, cycle))
        trials = study.get_trials(deepcopy=False)
    except (KeyError, optuna.exceptions.OptunaError) as err:
        logger.debug("no study for %s: %s", key, err)
        return out
    except (BistlabError, SQLAlchemyError) as err:  # locked by another process, a server gone: a view never fails
        logger.warning("study of %s unavailable just now: %s", key, " ".join(str(err).split())[:300])
        return out
    for t in trials:
        name = t.state.name.lower()
        if name == "fail":
            name = "failed"
        if name in out:
            out[name] += 1
    return out


def task_rows(ws: Workspace, state: CycleState | None = None) -> list[dict[str, Any]]:
    """One dict per task of the current cycle, horizon-first."""
    state = state or StateFile(ws.state_file).read()
    requested = state.config.get("n_trials")
    rows = []
    for t in sorted(state.cycle_tasks(), key=lambda t: (t.horizon, t.symbol)):
        trials = study_progress(ws, t.cycle, t.symbol, t.horizon) if t.status != TaskStatus.SKIPPED else {}
        best = TaskPaths.of(ws, t.cycle, t.symbol, t.horizon).read(BestParams)
        best_trial = best.best_trial_number if best else None
        rows.append(
            {
                "task": t.key,
                "status": t.status,
                "trials_complete": trials.get("complete", 0),
                "trials_running": trials.get("running", 0),
                "trials_failed": trials.get("failed", 0),
                "trials_pruned": trials.get("pruned", 0),
                "trials_total": sum(trials.values()),
                "trials_requested": requested,
                "best_trial": best_trial,
                "hpo_dirhit": t.hpo_dirhit,
                "wfv_dirhit": t.training_dirhit_wfv,
                "online_dirhit": t.training_dirhit_online,
                "holdout_count": t.holdout_count,
                "low_support": t.low_support,
                "usable": t.usable,
                "note": t.note,
                "retries": t.retry_count,
                "error": t.error,
            }
        )
    return rows
