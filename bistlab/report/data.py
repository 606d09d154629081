"""The report's data layer: what it knows about each task of a cycle.

:func:`collect_cycle` gathers, for every task, the result records the pipeline wrote
(:class:`~bistlab.core.records.BestParams`, :class:`~bistlab.core.records.ModelMeta`,
:class:`~bistlab.core.records.Evaluation`), a compact record of its Optuna study
(:mod:`bistlab.report.studies`), the multiple-testing figures of :mod:`bistlab.evaluation.honesty`, the
comparison with the previous cycle, and the cycle-wide false-discovery control of the usable
flags over every look at the same holdouts (:mod:`bistlab.evaluation.looks`; reading a cycle records its
looks). (:mod:`bistlab.report.assemble` adds the table, the forecasts and the forward record.)

It also keeps **copies** of the small result files in ``reports/cycle_<N>/<SYMBOL>_<h>d/`` (plus
``study.json`` and the cycle's task snapshot): reports are never cleaned up, so a later cycle can
still compare with this one, and the report can be re-rendered after ``runs/cycle_<N>/`` and the
studies were removed.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from typing import Any


from bistlab.evaluation.honesty import CycleControl, StudyHonesty, study_honesty
from bistlab.evaluation.looks import HoldoutLooks, control_cycle
from bistlab.evaluation.metrics import SplitMetrics
from bistlab.evaluation.dirhit import DirHit, Edge, baseline_figures, difference_interval, split_figures
from bistlab.report.studies import cached_study_record
from bistlab.search.selection import SupportFilter, filtered_dirhit
from bistlab.core.state import CycleTasks, TaskState, tasks_of_cycle, write_tasks_snapshot
from bistlab.report.summary import edge_of, panel_figures
from bistlab.core.names import UNIVERSE_SYMBOL
from bistlab.core.workspace import TaskPaths, Workspace
from bistlab.core.records import BestParams, Evaluation, ModelMeta, Record

__all__ = ["RESULT_RECORDS", "TaskRecord", "CycleRecords", "collect_cycle", "compare_previous"]

logger = logging.getLogger(__name__)

RESULT_RECORDS: tuple[type[Record], ...] = (BestParams, ModelMeta, Evaluation)
"""The result files copied into the report folder."""


@dataclass
class TaskRecord:
    """Everything the report shows about one task.

    Attributes:
        key: ``"<SYMBOL>_<h>d"``.
        symbol: the symbol.
        horizon: h, trading days.
        cycle: the cycle.
        status: the task's status (from the state file or the snapshot).
        error: the reason a task failed or was skipped.
        timestamps: started / hpo_completed / training_completed / completed (UTC ISO).
        best: the selection; ``None`` when HPO did not finish.
        meta: the trained model's metadata.
        ev: the evaluation.
        study: compact study record (:mod:`bistlab.report.studies`), ``None`` when the study is gone.
        honesty: multiple-testing figures, when the study record is there.
        previous: comparison with the previous cycle (:func:`compare_previous`).
        source: where the results were read (``"runs"`` or ``"reports copy"``).
        fdr_kept: whether the cycle-wide false-discovery control kept this task's usable test
            (``None``: the task has no holdout test).
        fdr_q_value: its Benjamini–Hochberg adjusted p-value over the cycle and the earlier looks
            at the same holdout.
        looks: how often its holdout has been judged in the workspace (same dates and prices,
            this cycle included); ``None``: no holdout test, or its dates are unknown.
    """

    key: str
    symbol: str
    horizon: int
    cycle: int
    status: str
    error: str | None = None
    timestamps: dict[str, str | None] = field(default_factory=dict)
    best: BestParams | None = None
    meta: ModelMeta | None = None
    ev: Evaluation | None = None
    study: dict[str, Any] | None = None
    honesty: StudyHonesty | None = None
    previous: dict[str, Any] = field(default_factory=dict)
    source: str = "runs"
    fdr_kept: bool | None = None
    fdr_q_value: float | None = None
    looks: int | None = None

    @property
    def low_support(self) -> bool:
        return bool(self.best and self.best.low_support)

    @property
    def holdout(self) -> SplitMetrics | None:
        return self.ev.holdout if self.ev else None

    @property
    def is_universe(self) -> bool:
        """A universe task (``UNIVERSE_<h>d``): one model over every symbol, judged on its panel."""
        return self.symbol == UNIVERSE_SYMBOL or bool(self.ev and self.ev.is_universe)

    @property
    def panel(self) -> dict[str, Any]:
        """A universe task's pooled holdout metrics (``PanelMetrics.to_dict()``); empty otherwise."""
        return dict((self.ev.universe or {}).get("metrics") or {}) if self.ev and self.ev.is_universe else {}

    @property
    def target(self) -> str:
        """What the DirHits are measured on: ``raw`` or ``excess`` (universe tasks)."""
        return (self.ev.target if self.ev else None) or ("excess" if self.is_universe else "raw")

    @property
    def best_baseline_dirhit(self) -> float | None:
        """The better baseline's holdout DirHit on the masked rows (the verdict's, or the panel's)."""
        if self.panel:
            return self.panel.get("best_baseline_dirhit")
        return self.verdict.get("best_baseline_dirhit")

    @property
    def verdict(self) -> dict[str, Any]:
        """The usable rule on the holdout numbers (recomputed, so older records get today's rule)."""
        return self.ev.rule_verdict() if self.ev else {}

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
    def support_filter(self) -> SupportFilter | None:
        return SupportFilter(**self.best.evaluation_spec["filter"]) if self.best else None

    def holdout_figure(self) -> DirHit:
        """The holdout DirHit with its interval at the effective count; a universe task's pooled
        masked DirHit with its date-block bootstrap interval."""
        if self.panel:
            return panel_figures(self.panel)["model"]
        return split_figures(self.ev.holdout, horizon=self.horizon)["model"] if self.ev else DirHit(None, 0, 0.0)

    def call_figure(self) -> DirHit | None:
        """The holdout call DirHit (rows with |prediction| > threshold); ``None`` for a universe
        task, whose call DirHit has no interval fit for a panel."""
        if self.panel:
            return None
        return split_figures(self.ev.holdout, horizon=self.horizon)["call"] if self.ev else DirHit(None, 0, 0.0)

    def baseline_figures(self) -> dict[str, DirHit]:
        """Persistence and majority on the holdout's masked rows (a universe task's with their
        date-block bootstrap intervals)."""
        if self.panel:
            figs = panel_figures(self.panel)
            return {k: figs[k] for k in ("persistence", "majority") if figs[k].defined}
        return baseline_figures(self.ev.holdout, horizon=self.horizon) if self.ev else {}

    def edge_figure(self) -> Edge | None:
        """The holdout DirHit minus the best baseline on the same rows, with its interval and the
        paired test (a universe task's from its date-block bootstrap)."""
        if not self.ev:
            return None
        return edge_of(self.panel or self.ev.holdout.to_dict(), horizon=self.horizon)

    def gap_text(self, *, unit: str = "") -> str:
        """The holdout − HPO DirHit gap in points with its 95 % interval (the two rest on disjoint
        rows: :func:`~bistlab.evaluation.metrics.difference_interval`); ``"–"`` when undefined."""
        gap = self.honesty.holdout_minus_hpo if self.honesty else None
        if gap is None:
            return "–"
        ci = difference_interval(self.holdout_figure(), self.hpo_figure())
        return f"{gap:+.1f}{unit}" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "")

    def hpo_splits(self) -> list[dict[str, Any]]:
        return self.best.splits if self.best else []

    def wfv_splits(self) -> list[dict[str, Any]]:
        return list((self.ev.wfv if self.ev else {}).get("split_metrics") or [])

    def hpo_figure(self) -> DirHit:
        """The HPO DirHit: the mean over the selected trial's counted splits, with its own interval."""
        if not self.best:
            return DirHit(None, 0, 0.0)
        splits = self.hpo_splits()
        counted = [splits[i] for i in self.best.counted_splits if i < len(splits)]
        return DirHit.mean_of_splits(counted, value=self.best.hpo_dirhit, horizon=self.horizon)

    def wfv_counted(self) -> list[int]:
        """Splits counted in the WFV DirHit (the filter selection used)."""
        if not self.best or not self.ev:
            return []
        res = filtered_dirhit(self.wfv_splits(), SupportFilter(**self.best.filter_used))
        return list(res[1]) if res else []

    def wfv_figure(self) -> DirHit:
        """The WFV DirHit after training: the mean over the splits the selection's filter counts."""
        splits = [self.wfv_splits()[i] for i in self.wfv_counted()]
        return DirHit.mean_of_splits(splits, value=self.ev.wfv_dirhit if self.ev else None, horizon=self.horizon)

    def wall_seconds(self) -> dict[str, float | None]:
        return {
            "hpo": self.best.hpo_wall_seconds if self.best else None,
            "train": self.meta.train_wall_seconds if self.meta else None,
            "evaluate": self.ev.eval_wall_seconds if self.ev else None,
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
        looks: how often the cycle's holdouts have been judged (:mod:`bistlab.evaluation.looks`).
    """

    cycle: int
    tasks: list[TaskRecord]
    config: dict[str, Any]
    ended: bool
    previous_cycle: int | None
    control: CycleControl | None = None
    looks: HoldoutLooks | None = None


def _archive(paths: TaskPaths) -> None:
    """Copy the task's result files into the report folder (when newer or changed)."""
    for record in RESULT_RECORDS:
        src, dst = paths.path(record), paths.report_folder / record.FILE
        if not src.exists():
            continue
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime and dst.stat().st_size == src.stat().st_size:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def _previous_record(ws: Workspace, cycle: int, key: str) -> tuple[TaskRecord | None, str]:
    """The previous cycle's record of a task, or why there is none."""
    prev = cycle - 1
    if prev < 1:
        return None, "first cycle: nothing to compare with"
    paths = ws.task(prev, key)
    best, source = paths.read_from(BestParams)
    if best is None:
        listed = tasks_of_cycle(ws, prev) if ws.tasks_snapshot(prev).exists() else None
        if listed and all(t.key != key for t in listed.tasks):
            return None, f"not a task of cycle {prev}"
        gone = "was cleaned up" if not ws.cycle_dir(prev).exists() else "holds no result for it"
        return None, f"cycle {prev}'s results for {key} are not available: runs/ of cycle {prev} {gone} and its report folder holds no copy"
    rec = TaskRecord(key=key, symbol=best.symbol, horizon=best.horizon, cycle=prev, status="", best=best, ev=paths.read(Evaluation), source=source)
    return rec, ""


def compare_previous(ws: Workspace, cycle: int, *, key: str, best: BestParams | None, ev: Evaluation | None) -> dict[str, Any]:
    """This cycle's task against the previous cycle's: DirHits, parameters changed, usable flip.

    Returns:
        ``available`` (bool) and either ``reason`` (why there is nothing to compare) or the
        previous ``hpo_dirhit`` and ``hpo_figure``, holdout ``dirhit`` and ``holdout_figure``
        (:class:`~bistlab.evaluation.metrics.DirHit`), ``usable`` (the previous task's own rule), the
        parameters ``changed`` (name -> [before, after]), ``added``, ``removed``, ``model_choice``
        before and after, ``data_changed``, ``holdout_delta``, ``usable_flip`` and ``source``.
    """
    prev, reason = _previous_record(ws, cycle, key)
    if prev is None:
        return {"available": False, "reason": reason}
    before, after = prev.best.best_params, (best.best_params if best else {})
    out: dict[str, Any] = {
        "available": True,
        "cycle": prev.cycle,
        "source": prev.source,
        "hpo_dirhit": prev.best.hpo_dirhit,
        "hpo_figure": prev.hpo_figure(),
        "low_support": prev.best.low_support,
        "changed": {k: [before[k], after[k]] for k in sorted(set(before) & set(after)) if before[k] != after[k]},
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "model_choice": [prev.best.model_choice, best.model_choice if best else None],
        "data_changed": prev.best.data_fingerprint != best.data_fingerprint if best else None,
        "evaluated": prev.ev is not None,
    }
    if prev.ev:
        out.update(dirhit=prev.ev.holdout.dirhit, holdout_figure=prev.holdout_figure(), usable=prev.passes_rule)
    if prev.ev and ev:
        if prev.ev.holdout.dirhit is not None and ev.holdout.dirhit is not None:
            out["holdout_delta"] = ev.holdout.dirhit - prev.ev.holdout.dirhit
        now = TaskRecord(key=key, symbol=prev.symbol, horizon=prev.horizon, cycle=cycle, status="", ev=ev)
        flip_from, flip_to = bool(prev.passes_rule), bool(now.passes_rule)
        out["usable_flip"] = None if flip_from == flip_to else f"{'usable' if flip_from else 'not usable'} → {'usable' if flip_to else 'not usable'}"
    return out


def _task_record(ws: Workspace, t: TaskState, cycle: int, *, archive: bool) -> TaskRecord:
    paths = ws.task(cycle, t.key)
    if archive and paths.folder.exists():
        _archive(paths)
    best, source = paths.read_from(BestParams)
    rec = TaskRecord(
        key=t.key,
        symbol=t.symbol,
        horizon=int(t.horizon),
        cycle=cycle,
        status=t.status,
        error=t.error,
        timestamps=t.timestamps,
        best=best,
        meta=paths.read(ModelMeta),
        ev=paths.read(Evaluation),
        source=source,
    )
    if rec.best:
        rec.study = cached_study_record(ws, cycle, best=rec.best, archive=archive)
        if rec.study:
            counted = [rec.best.splits[i] for i in rec.best.counted_splits if i < len(rec.best.splits)]
            rec.honesty = study_honesty(
                rec.study["trials"], n_trials=rec.study["n_trials"], hpo_dirhit=rec.best.hpo_dirhit, counted_splits=counted,
                holdout_dirhit=rec.holdout.dirhit if rec.holdout else None,
            )
    rec.previous = compare_previous(ws, cycle, key=t.key, best=rec.best, ev=rec.ev)
    return rec


def collect_cycle(ws: Workspace, cycle: int, *, archive: bool = True) -> CycleRecords:
    """Gather every task of ``cycle`` for the report.

    The cycle's looks at its holdouts are recorded (idempotent) and every other look at the same
    holdouts joins the false-discovery family (:func:`bistlab.evaluation.looks.control_cycle`).

    Args:
        ws: the workspace.
        cycle: the cycle number.
        archive: copy the task's small result files, the study record and the task list into
            ``reports/cycle_<N>/`` (see the module docstring).
    """
    listed: CycleTasks = tasks_of_cycle(ws, cycle)
    records = [_task_record(ws, t, cycle, archive=archive) for t in listed.tasks]
    control, looks = control_cycle(ws, cycle, {r.key: r.ev for r in records if r.ev})
    counts = looks.counts()
    for r in records:
        r.fdr_kept = control.kept.get(r.key)
        r.fdr_q_value = control.q_values.get(r.key)
        r.looks = counts.get(r.key)
    if archive:
        write_tasks_snapshot(ws, cycle, listed)
    return CycleRecords(cycle=cycle, tasks=records, config=listed.config, ended=listed.ended, previous_cycle=cycle - 1 if cycle > 1 else None, control=control, looks=looks)
