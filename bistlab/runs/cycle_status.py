"""A cycle at a glance, for the control page (``GET /api/cycle/status``): its number and status, and
per task its status, holdout DirHit (masked rows, 95 % interval) and verdict.

Everything is read, nothing is written: the tasks from the state file (or the report's snapshot of
an older cycle, :func:`bistlab.core.state.tasks_of_cycle`), each task's ``evaluation.json`` (or the
report's copy), whether a cycle runs from ``runs/cycle.lock`` (the holder's pid, alive on this
host), and the earlier looks at the same holdouts from the ledger (:func:`bistlab.evaluation.looks.holdout_looks`,
which records nothing; the report records the cycle's own looks).

A task's verdict is the report's: ``usable`` (it passes the usable rule on its holdout and the
cycle-wide false-discovery control keeps it), ``passes alone`` (it passes the rule on its own, not
after the control), ``not usable``; ``None`` before its holdout evaluation. While the cycle runs
the control counts the tasks evaluated so far, so the flags are final only when it has ended.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from typing import Any

from bistlab.errors import BistlabError, ConfigError
from bistlab.evaluation.honesty import CycleControl, fdr_control
from bistlab.evaluation.looks import holdout_looks
from bistlab.evaluation.dirhit import DirHit, split_figures
from bistlab.core.state import StateFile, TaskState, tasks_of_cycle
from bistlab.report.summary import panel_figures
from bistlab.core.db_urls import storage_path
from bistlab.core.workspace import Workspace
from bistlab.core.records import Evaluation

__all__ = ["VERDICTS", "cycle_holder", "cycle_status"]

logger = logging.getLogger(__name__)

VERDICTS = {"usable": "usable", "alone": "passes alone", "not": "not usable"}
"""The verdict words (module docstring)."""

_CACHE: dict[tuple[str, int], tuple[tuple[Any, ...], dict[str, Any]]] = {}
_CACHE_LOCK = threading.Lock()


def cycle_holder(ws: Workspace) -> dict[str, Any] | None:
    """The process that runs a cycle now (``pid``, ``host``, ``since`` from ``runs/cycle.lock``), or
    ``None``. A holder on another host is taken at its word (it cannot be checked from here)."""
    try:
        holder = json.loads(ws.cycle_lock.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return None
    pid = holder.get("pid") if isinstance(holder, dict) else None
    if not isinstance(pid, int) or pid <= 0:
        return None
    if holder.get("host") not in (None, socket.gethostname()):
        return holder
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a cycle killed without releasing: its file names a dead process
    except PermissionError:
        pass
    return holder


def _figure(ev: Evaluation) -> DirHit:
    """The holdout DirHit with its interval (a universe task's pooled figure), as the report shows it."""
    metrics = (ev.universe or {}).get("metrics") if ev.is_universe else None
    if metrics:
        return panel_figures(dict(metrics))["model"]
    return split_figures(ev.holdout, horizon=ev.horizon)["model"]


def _task_row(t: TaskState, ev: Evaluation | None) -> dict[str, Any]:
    fig = _figure(ev) if ev else None
    return {
        "key": t.key,
        "symbol": t.symbol,
        "horizon": int(t.horizon),
        "status": t.status,
        "holdout_dirhit": fig.value if fig and fig.defined else None,
        "holdout_count": fig.count if fig else t.holdout_count,
        "holdout_low": fig.low if fig and fig.defined else None,
        "holdout_high": fig.high if fig and fig.defined else None,
        "holdout_text": fig.text() if fig else None,
        "target": ev.target if ev else None,
        "low_support": bool(ev.low_support) if ev else t.low_support,
        "passes_rule": None,
        "usable": None,
        "verdict": None,
        "error": t.error,
        "note": t.note,
    }


def _ledger_exists(ws: Workspace) -> bool:
    path = storage_path(ws.ledger_url)
    return path is None or path.exists()


def _control(ws: Workspace, cycle: int, evaluations: dict[str, Evaluation]) -> CycleControl:
    """The cycle-wide control over the verdicts so far and the earlier looks at the same holdouts
    (none when the ledger cannot be read: logged)."""
    verdicts = {k: ev.rule_verdict() for k, ev in evaluations.items()}
    earlier: dict[str, list[float]] = {}
    if evaluations and _ledger_exists(ws):
        try:
            earlier = holdout_looks(ws, cycle, evaluations).earlier()
        except BistlabError as err:
            logger.warning("earlier looks at cycle %d's holdouts not readable: %s", cycle, err)
    return fdr_control(verdicts, earlier=earlier)


def _signature(ws: Workspace, cycle: int, keys: list[str]) -> tuple[Any, ...]:
    """What the tasks' answer depends on: the files' modification times."""
    paths = [ws.state_file, *(ws.task(cycle, k).find(Evaluation.FILE) for k in keys)]
    if (ledger := storage_path(ws.ledger_url)) is not None:
        paths.append(ledger)
    return tuple((str(p), p.stat().st_mtime_ns) if p is not None and p.exists() else (str(p), None) for p in paths)


def _tasks(ws: Workspace, cycle: int, tasks: list[TaskState]) -> dict[str, Any]:
    """The per-task rows with their verdicts and the control's figures (cached until a file changes)."""
    keys = [t.key for t in tasks]
    signature = _signature(ws, cycle, keys)
    with _CACHE_LOCK:
        hit = _CACHE.get((str(ws.root), cycle))
    if hit and hit[0] == signature:
        return hit[1]
    evaluations = {t.key: ev for t in tasks if (ev := ws.task(cycle, t.key).read(Evaluation))}
    rows = [_task_row(t, evaluations.get(t.key)) for t in tasks]
    control = _control(ws, cycle, evaluations)
    for row in rows:
        ev = evaluations.get(row["key"])
        if ev is None:
            continue
        passes = bool(ev.rule_verdict()["passes_rule"])
        row["passes_rule"], row["usable"] = passes, bool(passes and control.kept.get(row["key"]))
        row["verdict"] = VERDICTS["usable"] if row["usable"] else (VERDICTS["alone"] if passes else VERDICTS["not"])
    out = {"tasks": rows, "control": {"q": control.q, "tested": control.n_tested, "pass_alone": control.n_pass_individual,
                                      "kept": control.n_kept, "earlier_looks": control.n_earlier}}
    with _CACHE_LOCK:
        _CACHE[(str(ws.root), cycle)] = (signature, out)
    return out


def _status(ws: Workspace, cycle: int, current: int, ended: bool, paused: bool) -> tuple[str, str]:
    """The cycle's status and a sentence for people."""
    if ended:
        return "completed", "every task has ended"
    if cycle != current:
        return "ended", "an earlier cycle of this workspace"
    holder = cycle_holder(ws)
    if holder:
        return "running", f"run by process {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
    if paused:
        return "paused", "paused by a stop request: `bistlab cycle resume` continues it"
    return "interrupted", "no process runs it and some tasks have not ended: `bistlab cycle resume` continues it"


def cycle_status(ws: Workspace, cycle: int | None = None) -> dict[str, Any]:
    """The cycle's status and tasks (module docstring).

    Args:
        ws: the workspace.
        cycle: the cycle (default: the current one, i.e. the latest).

    Returns:
        ``cycle`` (``None`` before the first), ``status`` (``idle``, ``running``, ``paused``,
        ``interrupted``, ``completed``), ``message``, ``final`` (every task has ended, so the
        verdicts are final), ``counts`` (tasks per status), ``usable`` (how many), ``control``
        (the false-discovery control's figures) and ``tasks`` (one dict per task, horizon-first).

    Raises:
        ConfigError: ``cycle`` is not a cycle of the workspace.
        StateFileError: the state file cannot be read.
    """
    state = StateFile(ws.state_file).read()
    number = state.cycle if cycle is None else int(cycle)
    if number < 1 and cycle is None:
        return {"cycle": None, "status": "idle", "message": "no cycle in this workspace yet: `bistlab cycle run` starts one",
                "final": False, "counts": {}, "usable": 0, "control": None, "tasks": []}
    listed = tasks_of_cycle(ws, number) if 1 <= number <= max(state.cycle, 1) else None
    if listed is None or (cycle is not None and not listed.tasks):
        raise ConfigError("cycle", f"a cycle of this workspace (1 to {state.cycle})" if state.cycle else "a cycle of this workspace (it has none yet)", cycle)
    status, message = _status(ws, number, state.cycle, listed.ended, state.paused)
    tasks = _tasks(ws, number, listed.tasks)
    counts: dict[str, int] = {}
    for t in listed.tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    return {"cycle": number, "status": status, "message": message, "final": listed.ended, "counts": counts,
            "usable": sum(bool(r["usable"]) for r in tasks["tasks"]), **tasks}
