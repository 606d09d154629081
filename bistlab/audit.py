"""What the cycle report knows about each task: results, study, honesty, previous cycle.

:func:`collect_cycle` gathers, for every task of a cycle, the JSON results the pipeline wrote
(``best_params.json``, ``model.json``, ``evaluation.json``), a compact record of its Optuna study
(trials with their split DirHits, parameter importances), the multiple-testing figures of
:mod:`bistlab.honesty` and the comparison with the previous cycle.

It also keeps **copies** of these small files in the report's folder
``reports/cycle_<N>/<SYMBOL>_<h>d/`` (plus ``study.json`` and the cycle's ``tasks.json``):
reports are never cleaned up, so a later cycle can still compare with this one, and the report
can be re-rendered, after ``runs/cycle_<N>/`` and the studies were removed. Results are read
from ``runs/`` first and from these copies when ``runs/`` no longer has them.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bistlab.config import Workspace
from bistlab.dataset import task_key
from bistlab.honesty import CycleControl, StudyHonesty, fdr_control, study_honesty
from bistlab.jsonio import read_json, write_json_atomic
from bistlab.metrics import DirHit, baseline_figures, split_figures, usable_verdict
from bistlab.selection import SupportFilter, filtered_dirhit
from bistlab.state import StateFile, TaskStatus

__all__ = [
    "RESULT_FILES",
    "MIN_TRIALS_FOR_IMPORTANCE",
    "TaskRecord",
    "CycleRecords",
    "collect_cycle",
    "cycle_tasks",
    "report_dir",
    "task_report_dir",
    "study_record",
    "flag_effects",
    "compare_previous",
]

logger = logging.getLogger(__name__)

RESULT_FILES = ("best_params.json", "model.json", "evaluation.json")
MIN_TRIALS_FOR_IMPORTANCE = 5
UNUSED_IN_HPO_PREFIXES = ("ml_adaptive_k_", "ml_pattern_weight_scale_")
"""Parameters drawn and recorded but not used while HPO scores a trial (adaptive learning is off
in HPO): left out of the importances, whose values for them would be noise."""


def report_dir(ws: Workspace, cycle: int) -> Path:
    """``reports/cycle_<N>/``: the per-task pages, copies of the results, shared assets."""
    return ws.reports / f"cycle_{cycle}"


def task_report_dir(ws: Workspace, cycle: int, key: str) -> Path:
    """``reports/cycle_<N>/<SYMBOL>_<h>d/``."""
    return report_dir(ws, cycle) / key


def _read(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        return read_json(path)
    except (OSError, ValueError) as err:
        logger.warning("unreadable result %s: %s", path, err)
        return None


@dataclass
class TaskRecord:
    """Everything the report shows about one task.

    Attributes:
        key: ``"<SYMBOL>_<h>d"``.
        symbol: the symbol.
        horizon: h, trading days.
        cycle: the cycle.
        status: the task's status (from the state file or the copies).
        error: the reason a task failed or was skipped.
        timestamps: started / hpo_completed / training_completed / completed (UTC ISO).
        best: ``best_params.json``; ``None`` when HPO did not finish.
        meta: ``model.json``.
        ev: ``evaluation.json``.
        study: compact study record (:func:`study_record`), ``None`` when the study is gone.
        honesty: multiple-testing figures, when the study record is there.
        previous: comparison with the previous cycle (:func:`compare_previous`).
        source: where the results were read (``"runs"`` or ``"reports copy"``).
        fdr_kept: whether the cycle-wide false-discovery control kept this task's usable test
            (``None``: the task has no holdout test).
        fdr_q_value: its Benjamini–Hochberg adjusted p-value over the cycle.
    """

    key: str
    symbol: str
    horizon: int
    cycle: int
    status: str
    error: str | None = None
    timestamps: dict[str, str | None] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    ev: dict[str, Any] | None = None
    study: dict[str, Any] | None = None
    honesty: StudyHonesty | None = None
    previous: dict[str, Any] = field(default_factory=dict)
    source: str = "runs"
    fdr_kept: bool | None = None
    fdr_q_value: float | None = None

    @property
    def low_support(self) -> bool:
        return bool(self.best and self.best.get("low_support"))

    @property
    def verdict(self) -> dict[str, Any]:
        """The usable rule on the holdout numbers (recomputed, so older records get today's rule)."""
        return usable_verdict(self.holdout, horizon=self.horizon) if self.ev else {}

    @property
    def passes_rule(self) -> bool | None:
        """The task's own usable test, before the cycle-wide false-discovery control."""
        return None if not self.ev else bool(self.verdict["passes_rule"])

    @property
    def usable(self) -> bool | None:
        """Usable after the cycle-wide control (:attr:`fdr_kept`), or the task's own test without it."""
        if not self.ev:
            return None
        return bool(self.verdict["passes_rule"] and (self.fdr_kept is not False))

    @property
    def holdout(self) -> dict[str, Any]:
        return (self.ev or {}).get("holdout") or {}

    def holdout_figure(self) -> DirHit:
        """The holdout DirHit with its interval at the effective count."""
        return split_figures(self.holdout, horizon=self.horizon)["model"]

    def call_figure(self) -> DirHit:
        """The holdout call DirHit (rows with |prediction| > threshold)."""
        return split_figures(self.holdout, horizon=self.horizon)["call"]

    def baseline_figures(self) -> dict[str, DirHit]:
        """Persistence and majority on the holdout's masked rows."""
        return baseline_figures(self.holdout, horizon=self.horizon) if self.ev else {}

    def hpo_figure(self) -> DirHit:
        """The HPO DirHit: the mean over the selected trial's counted splits, with its own interval."""
        counted = [i for i in (self.best or {}).get("counted_splits") or [] if i < len(self.hpo_splits())]
        splits = [self.hpo_splits()[i] for i in counted]
        return DirHit.mean_of_splits(splits, value=(self.best or {}).get("hpo_dirhit"), horizon=self.horizon)

    def wfv_figure(self) -> DirHit:
        """The WFV DirHit after training: the mean over the splits the selection's filter counts."""
        splits = [self.wfv_splits()[i] for i in self.wfv_counted()]
        return DirHit.mean_of_splits(splits, value=(self.ev or {}).get("wfv_dirhit"), horizon=self.horizon)

    @property
    def support_filter(self) -> SupportFilter | None:
        if not self.best:
            return None
        return SupportFilter(**self.best["evaluation_spec"]["filter"])

    def hpo_splits(self) -> list[dict[str, Any]]:
        if not self.best:
            return []
        return ((self.best.get("symbol_metrics") or {}).get(self.key) or {}).get("split_metrics") or []

    def wfv_splits(self) -> list[dict[str, Any]]:
        return ((self.ev or {}).get("wfv") or {}).get("split_metrics") or []

    def wfv_counted(self) -> list[int]:
        """Splits counted in the WFV DirHit (the filter selection used)."""
        if not self.best or not self.ev:
            return []
        res = filtered_dirhit(self.wfv_splits(), SupportFilter(**self.best["filter_used"]))
        return list(res[1]) if res else []

    def wall_seconds(self) -> dict[str, float | None]:
        return {
            "hpo": (self.best or {}).get("hpo_wall_seconds"),
            "train": (self.meta or {}).get("train_wall_seconds"),
            "evaluate": (self.ev or {}).get("eval_wall_seconds"),
        }


@dataclass
class CycleRecords:
    """The report's view of one cycle.

    Attributes:
        cycle: the cycle number.
        tasks: one record per task, horizon-first.
        config: the cycle's configuration (``CycleConfig.to_dict()``), as the state file recorded it.
        ended: every task has ended.
        previous_cycle: the cycle compared with (``None`` for the first).
        control: the cycle-wide false-discovery control of the usable flags.
    """

    cycle: int
    tasks: list[TaskRecord]
    config: dict[str, Any]
    ended: bool
    previous_cycle: int | None
    control: CycleControl | None = None


def cycle_tasks(ws: Workspace, cycle: int) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    """The tasks of ``cycle`` with status, error and timestamps, the cycle's config, and whether it ended.

    From the state file while it holds the cycle; else from the report's ``tasks.json`` copy;
    else from the run folders.
    """
    state = StateFile(ws.state_file).read()
    tasks = state.cycle_tasks(cycle)
    if tasks:
        rows = [
            {
                "symbol": t.symbol,
                "horizon": t.horizon,
                "status": t.status,
                "error": t.error,
                "timestamps": {
                    "started": t.started_at,
                    "hpo_completed": t.hpo_completed_at,
                    "training_completed": t.training_completed_at,
                    "completed": t.completed_at,
                },
                "retry_count": t.retry_count,
            }
            for t in tasks
        ]
        ended = all(t.status in TaskStatus.ENDED for t in tasks)
        return sorted(rows, key=lambda t: (t["horizon"], t["symbol"])), dict(state.config), ended
    snapshot = _read(report_dir(ws, cycle) / "tasks.json")
    if snapshot:
        rows = snapshot["tasks"]
        for t in rows:  # a copy taken mid-cycle: the state has moved on, so the cycle ended since
            key = task_key(t["symbol"], t["horizon"])
            if t["status"] not in TaskStatus.ENDED and any((f / "evaluation.json").exists() for f in (ws.task_dir(cycle, key), task_report_dir(ws, cycle, key))):
                t["status"] = TaskStatus.COMPLETED
        return rows, snapshot.get("config") or {}, True
    rows = []
    for folder in sorted(ws.cycle_dir(cycle).glob("*/best_params.json")):
        best = _read(folder) or {}
        if "symbol" in best:
            done = (folder.parent / "evaluation.json").exists()
            rows.append({"symbol": best["symbol"], "horizon": int(best["horizon"]), "status": TaskStatus.COMPLETED if done else "unknown", "error": None, "timestamps": {}})
    return sorted(rows, key=lambda t: (t["horizon"], t["symbol"])), {}, True


def _archive(src_folder: Path, dst_folder: Path, names: tuple[str, ...]) -> None:
    for name in names:
        src = src_folder / name
        if not src.exists():
            continue
        dst = dst_folder / name
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime and dst.stat().st_size == src.stat().st_size:
            continue
        dst_folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def _study_storages(ws: Workspace, cycle: int, key: str, best: dict[str, Any]) -> list[str]:
    urls = [ws.study_storage(cycle, key)]
    if best.get("storage") and best["storage"] not in urls:
        urls.append(best["storage"])
    out = []
    for url in urls:
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            continue  # loading would create an empty file
        out.append(url)
    return out


def _importances(study: Any, n_complete: int) -> tuple[dict[str, float], str]:
    import optuna

    if n_complete < MIN_TRIALS_FOR_IMPORTANCE:
        return {}, f"too few complete trials ({n_complete}) for parameter importances (need at least {MIN_TRIALS_FOR_IMPORTANCE})"
    names = sorted({p for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) for p in t.params})
    params = [p for p in names if not p.startswith(UNUSED_IN_HPO_PREFIXES)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = optuna.importance.get_param_importances(study, params=params)
    except Exception as err:  # noqa: BLE001 - importances are a nicety; say why they are missing
        return {}, f"parameter importances unavailable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    note = (
        f"PED-ANOVA (Optuna's default) over {n_complete} complete trials, conditional parameters included; "
        "adaptive-learning parameters, unused while HPO scores a trial, left out"
    )
    if n_complete < 20:
        note += f"; with only {n_complete} trials these are rough"
    return {k: float(v) for k, v in values.items()}, note


def study_record(ws: Workspace, cycle: int, *, key: str, best: dict[str, Any]) -> dict[str, Any] | None:
    """A compact, JSON-ready record of the task's study, or ``None`` when the study is gone.

    Holds ``n_trials``, per complete trial ``number``, ``value``, ``avg_dirhit`` and its splits
    (``dirhit``, ``dirhit_hits``, ``mask_count``, ``mask_pct``), the failed / pruned counts with
    reasons, and the parameter importances (or why there are none).
    """
    import optuna

    name = best["study_name"]
    for url in _study_storages(ws, cycle, key, best):
        try:
            study = optuna.load_study(study_name=name, storage=url)
        except Exception as err:  # noqa: BLE001 - a missing, unreachable or unreadable study

            logger.info("%s: study %s not loadable from %s: %s", key, name, url, err)
            continue
        trials = study.get_trials(deepcopy=False)
        complete, other = [], {}
        for t in trials:
            if t.state != optuna.trial.TrialState.COMPLETE:
                state = t.state.name
                reason = t.user_attrs.get("fail_reason") or ""
                entry = other.setdefault(state, {"count": 0, "reasons": {}})
                entry["count"] += 1
                if reason:
                    entry["reasons"][reason[:160]] = entry["reasons"].get(reason[:160], 0) + 1
                continue
            sm = (t.user_attrs.get("symbol_metrics") or {}).get(key) or {}
            complete.append(
                {
                    "number": t.number,
                    "state": "COMPLETE",
                    "value": t.value,
                    "avg_dirhit": sm.get("avg_dirhit"),
                    "model_choice": t.user_attrs.get("model_choice"),
                    "features_enabled": t.user_attrs.get("features_enabled") or {},
                    "splits": [
                        {k: s.get(k) for k in ("dirhit", "dirhit_hits", "mask_count", "mask_pct")} for s in sm.get("split_metrics") or []
                    ],
                    "duration_seconds": t.duration.total_seconds() if t.duration else None,
                }
            )
        importances, note = _importances(study, len(complete))
        return {
            "study_name": name,
            "storage": url,
            "n_trials": len(trials),
            "n_complete": len(complete),
            "best_trial_number": best.get("best_trial_number"),
            "trials": complete,
            "other_states": other,
            "importances": importances,
            "importance_note": note,
        }
    return None


def flag_effects(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each feature group or model-side option went with in the search: the complete trials
    with it on against those with it off.

    Args:
        trials: a study record's complete trials (:func:`study_record`), each with
            ``features_enabled``, ``avg_dirhit`` (percent) and ``value`` (the score).

    Returns:
        One row per flag seen both on and off: ``flag``, ``n_on``, ``n_off``, the mean DirHit
        (percent) and mean score of each side, and ``dirhit_on_minus_off`` (points). An
        association within the search (the sampler chose what to try), not a causal effect.
    """
    import math

    def mean(values: list[float]) -> float | None:
        finite = [v for v in values if v is not None and math.isfinite(v)]
        return sum(finite) / len(finite) if finite else None

    flags = sorted({f for t in trials for f in (t.get("features_enabled") or {})})
    rows = []
    for flag in flags:
        sides = {on: [t for t in trials if (t.get("features_enabled") or {}).get(flag) is on] for on in (True, False)}
        if not sides[True] or not sides[False]:
            continue
        dirhit = {on: mean([t.get("avg_dirhit") for t in side]) for on, side in sides.items()}
        score = {on: mean([t.get("value") for t in side]) for on, side in sides.items()}
        diff = dirhit[True] - dirhit[False] if dirhit[True] is not None and dirhit[False] is not None else None
        rows.append(
            {
                "flag": flag,
                "n_on": len(sides[True]),
                "n_off": len(sides[False]),
                "dirhit_on": dirhit[True],
                "dirhit_off": dirhit[False],
                "score_on": score[True],
                "score_off": score[False],
                "dirhit_on_minus_off": diff,
            }
        )
    return rows


def _study_cached(ws: Workspace, cycle: int, key: str, best: dict[str, Any], *, archive: bool) -> dict[str, Any] | None:
    cache = task_report_dir(ws, cycle, key) / "study.json"
    cached = _read(cache)
    if cached and cached.get("n_trials") == best.get("n_trials") and cached.get("best_trial_number") == best.get("best_trial_number"):
        return cached
    record = study_record(ws, cycle, key=key, best=best)
    if record is None:
        return cached  # the study is gone: an older copy is better than nothing
    if archive:
        write_json_atomic(cache, record)
    return record


def compare_previous(ws: Workspace, cycle: int, *, key: str, best: dict[str, Any] | None, ev: dict[str, Any] | None) -> dict[str, Any]:
    """This cycle's task against the previous cycle's: DirHits, parameters changed, usable flip.

    Returns:
        ``available`` (bool) and either ``reason`` (why there is nothing to compare) or the
        previous ``hpo_dirhit`` and ``hpo_figure``, holdout ``dirhit`` and ``holdout_figure``
        (:class:`~bistlab.metrics.DirHit`), ``usable`` (the previous task's own rule), the
        parameters ``changed`` (name -> [before, after]), ``added``, ``removed``,
        ``model_choice`` before and after, ``data_changed``, and ``source``.
    """
    prev = cycle - 1
    if prev < 1:
        return {"available": False, "reason": "first cycle: nothing to compare with"}
    runs_folder, copy_folder = ws.task_dir(prev, key), task_report_dir(ws, prev, key)
    folder = runs_folder if (runs_folder / "best_params.json").exists() else copy_folder
    p_best = _read(folder / "best_params.json")
    if not p_best:
        listed = _read(report_dir(ws, prev) / "tasks.json")
        if listed and all(task_key(t["symbol"], t["horizon"]) != key for t in listed.get("tasks", [])):
            return {"available": False, "reason": f"not a task of cycle {prev}"}
        gone = "was cleaned up" if not ws.cycle_dir(prev).exists() else "holds no result for it"
        return {
            "available": False,
            "reason": f"cycle {prev}'s results for {key} are not available: runs/cycle_{prev}/ {gone} and reports/cycle_{prev}/{key}/ holds no copy",
        }
    p_ev = _read(folder / "evaluation.json")
    prev_rec = TaskRecord(key=key, symbol=str(p_best.get("symbol")), horizon=int(p_best.get("horizon") or 1), cycle=prev, status="", best=p_best, ev=p_ev)
    before, after = p_best.get("best_params") or {}, (best or {}).get("best_params") or {}
    changed = {k: [before[k], after[k]] for k in sorted(set(before) & set(after)) if before[k] != after[k]}
    out: dict[str, Any] = {
        "available": True,
        "cycle": prev,
        "source": "runs" if folder == runs_folder else "reports copy",
        "hpo_dirhit": p_best.get("hpo_dirhit"),
        "hpo_figure": prev_rec.hpo_figure(),
        "low_support": p_best.get("low_support"),
        "changed": changed,
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "model_choice": [p_best.get("model_choice"), (best or {}).get("model_choice")],
        "data_changed": p_best.get("data_fingerprint") != (best or {}).get("data_fingerprint") if best else None,
        "evaluated": p_ev is not None,
    }
    if p_ev:
        h = p_ev["holdout"]
        out.update(dirhit=h.get("dirhit"), holdout_figure=prev_rec.holdout_figure(), usable=prev_rec.passes_rule)
    now = (ev or {}).get("holdout") or {}
    if p_ev and ev and h.get("dirhit") is not None and now.get("dirhit") is not None:
        out["holdout_delta"] = now["dirhit"] - h["dirhit"]
    if p_ev and ev:
        current = TaskRecord(key=key, symbol=prev_rec.symbol, horizon=prev_rec.horizon, cycle=cycle, status="", ev=ev)
        flip_from, flip_to = bool(prev_rec.passes_rule), bool(current.passes_rule)
        out["usable_flip"] = None if flip_from == flip_to else f"{'usable' if flip_from else 'not usable'} → {'usable' if flip_to else 'not usable'}"
    return out


def collect_cycle(ws: Workspace, cycle: int, *, archive: bool = True) -> CycleRecords:
    """Gather every task of ``cycle`` for the report.

    Args:
        ws: the workspace.
        cycle: the cycle number.
        archive: copy the task's small result files, the study record and the task list into
            ``reports/cycle_<N>/`` (see the module docstring).
    """
    tasks, config, ended = cycle_tasks(ws, cycle)
    records = []
    for t in tasks:
        key = task_key(t["symbol"], t["horizon"])
        runs_folder, copy_folder = ws.task_dir(cycle, key), task_report_dir(ws, cycle, key)
        if archive and runs_folder.exists():
            _archive(runs_folder, copy_folder, RESULT_FILES)
        found = {}
        source = "runs"
        for name in RESULT_FILES:
            data = _read(runs_folder / name)
            if data is None:
                data = _read(copy_folder / name)
                if data is not None:
                    source = "reports copy"
            found[name] = data
        rec = TaskRecord(
            key=key,
            symbol=t["symbol"],
            horizon=int(t["horizon"]),
            cycle=cycle,
            status=t["status"],
            error=t.get("error"),
            timestamps=t.get("timestamps") or {},
            best=found["best_params.json"],
            meta=found["model.json"],
            ev=found["evaluation.json"],
            source=source,
        )
        if rec.best:
            rec.study = _study_cached(ws, cycle, key, rec.best, archive=archive)
            if rec.study:
                rec.honesty = study_honesty(
                    rec.study["trials"], n_trials=rec.study["n_trials"], selected=rec.best, holdout_dirhit=rec.holdout.get("dirhit")
                )
        rec.previous = compare_previous(ws, cycle, key=key, best=rec.best, ev=rec.ev)
        records.append(rec)
    control = fdr_control({r.key: r.verdict for r in records if r.ev})
    for r in records:
        r.fdr_kept = control.kept.get(r.key)
        r.fdr_q_value = control.q_values.get(r.key)
    if archive:
        write_json_atomic(report_dir(ws, cycle) / "tasks.json", {"cycle": cycle, "ended": ended, "config": config, "tasks": tasks})
    return CycleRecords(cycle=cycle, tasks=records, config=config, ended=ended, previous_cycle=cycle - 1 if cycle > 1 else None, control=control)
