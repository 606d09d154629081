"""Grouped optimization: one Optuna study per parameter group, the objective, pruning, convergence,
the time budget and the mode-collapse penalty.

Each group's study is ``<study_name>_<group>`` in its own SQLite file in the job folder
(:func:`bistlab.search.storage.make_storage`, heartbeats on), maximized by TPE seeded per trial
(:class:`~bistlab.lstm.sampler.TrialSeededSampler`: ``n_startup_trials`` random trials first; a
resumed group draws what an uninterrupted one would, never the same parameters again) and pruned by an
:class:`~optuna.pruners.PercentilePruner` on the mean validation metric reported after every epoch
(``n_warmup_steps`` epochs first). A trial trains the walk-forward splits in lock-step
(:func:`bistlab.lstm.training.train_splits`); its value is the mean over splits of the best epoch's
primary metric, halved when the mean macro precision is below 0.35 (the specification's guard
against mode collapse; the reason says what it is: low precision, which near-chance models show
too). Its ``user_attrs`` keep ``params`` (every training parameter), ``seed``, ``raw_value``,
``penalized_value``, ``low_precision_penalty`` and ``penalty_reason``, ``mode_collapse`` (an epoch
with more than 90 % of its predictions in one class) with ``mode_collapse_reason`` and
``mode_collapse_warnings`` (the per-epoch warnings), ``epoch_values``, ``history``, ``splits``, the
F1 baselines and the call DirHit.

**Selection above noise.** After a group's trials, its incumbent is trained again with
``seed_repeats`` other seeds (:func:`seed_spread`): re-running one configuration measures the
noise of a value at this data size directly, at two trainings per group, where averaging seeds in
every trial would multiply the whole search's cost. A group's best replaces the incumbent only
when it beats the incumbent's value by more than that spread (max − min of the incumbent's
values); the convergence threshold is reported beside the spread.

The first trial of every group is the incumbent: the values the group's parameters have when it
starts (defaults, a base job's best, or the centre of fine_tune's ranges), so a group's best is
never a step back from what it started with, up to training noise. A group ends after ``max_trials_per_group`` finished (complete or pruned) trials, when its best value
has not improved by more than ``convergence_threshold`` for ``convergence_patience`` finished
trials, or when the job's time budget is spent. A stop request ends the running trial at the next
epoch boundary: it is recorded FAIL with ``interrupted=True`` and its parameters (and seed) are
queued first when the group resumes, so no trial is lost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from bistlab.core import faults
from bistlab.errors import StopRequested
from bistlab.core.jsonio import to_jsonable
from bistlab.lstm.config import OptimizationConfig
from bistlab.lstm.groups import GROUP_ORDER, GROUPS, suggest_fine_tune, suggest_group
from bistlab.lstm.sampler import TrialSeededSampler, trial_ordinal
from bistlab.lstm.samples import LstmData
from bistlab.lstm.tracking import Tracker
from bistlab.lstm.metrics import collapse_warning
from bistlab.lstm.training import COLLAPSE_SHARE, TrainSettings, TrialOutcome, train_splits
from bistlab.core.db_urls import storage_url
from bistlab.core.names import group_study_name
from bistlab.search.objectives import lstm_metric_name
from bistlab.search.pruning import percentile_pruner
from bistlab.search.studies import open_study
from bistlab.core.workspace import JobPaths

__all__ = [
    "PRECISION_FLOOR",
    "PENALTY_FACTOR",
    "SearchContext",
    "apply_penalty",
    "open_group_study",
    "make_objective",
    "finished_trials",
    "converged",
    "prepare_resume",
    "run_group",
    "group_result",
]

logger = logging.getLogger(__name__)

PRECISION_FLOOR = 0.35
PENALTY_FACTOR = 0.5


class _QuietStops(logging.Filter):
    """Drops Optuna's two warnings (one with a traceback) for a trial that a stop request ended at
    an epoch boundary: a graceful pause, recorded as interrupted and run again on resume, not a
    failure for the worker log."""

    def __init__(self) -> None:
        super().__init__()
        self._stopped: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and isinstance(record.exc_info[1], StopRequested):
            self._stopped.add(message.split(" failed", 1)[0])
            return False
        head = message.split(" failed with value", 1)[0]
        if head in self._stopped:
            self._stopped.discard(head)
            return False
        return True


logging.getLogger("optuna.study._optimize").addFilter(_QuietStops())


@dataclass
class SearchContext:
    """What every group of a job shares.

    Attributes:
        data: the job's samples.
        config: the job's configuration.
        job_dir: the job folder (studies live there).
        settings: fixed training settings.
        tracker: MLflow or no-op tracking.
        stop_requested: true once a stop was asked for.
        budget_left: seconds of the job's time budget left.
        on_event: progress events (``{"event": "trial_start" | "epoch" | "trial_end", ...}``).
    """

    data: LstmData
    config: OptimizationConfig
    job_dir: Path
    settings: TrainSettings
    tracker: Tracker = field(default_factory=Tracker)
    stop_requested: Callable[[], bool] = lambda: False
    budget_left: Callable[[], float] = lambda: math.inf
    on_event: Callable[[dict[str, Any]], None] = lambda event: None


def apply_penalty(value: float, precision: float, *, metric: str = "val_f1") -> tuple[float, bool, str | None]:
    """The specification's guard after a trial: a mean macro precision below 0.35 halves the value.

    Returns:
        ``(penalized_value, penalized, reason)``; the reason names what was seen (low precision),
        not a collapse, which only the per-epoch warnings show.
    """
    if precision < PRECISION_FLOOR:
        reason = f"low precision: mean macro precision {precision:.3f} < {PRECISION_FLOOR}, so {metric} {value:.4f} × {PENALTY_FACTOR}"
        return value * PENALTY_FACTOR, True, reason
    return value, False, None


def open_group_study(job_dir: Path, config: OptimizationConfig, group: str) -> optuna.Study:
    """Create or load the study of ``group`` with its seeded sampler and percentile pruner; its
    metric is named (:func:`bistlab.search.objectives.lstm_metric_name`, e.g. ``val_f1 (penalized)``)."""
    index = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    return open_study(
        storage_url(JobPaths(job_dir).study(config.study_name, group)),
        group_study_name(config.study_name, group),
        sampler=TrialSeededSampler(config.seed + 1000 * index, n_startup_trials=config.n_startup_trials),
        pruner=percentile_pruner(config.pruning_percentile, n_startup_trials=config.n_startup_trials, n_warmup_steps=config.n_warmup_steps),
        metric_name=lstm_metric_name(config.primary_metric),
    )


def _record(trial: optuna.Trial, outcome: TrialOutcome, config: OptimizationConfig) -> float:
    penalized, low, reason = apply_penalty(outcome.value, outcome.summary["precision_mean"], metric=config.primary_metric)
    collapsed = bool(outcome.warnings)
    attrs = {
        "raw_value": outcome.value,
        "penalized_value": penalized,
        "low_precision_penalty": low,
        "penalty_reason": reason,
        "mode_collapse": collapsed,
        "mode_collapse_reason": f"{len(outcome.warnings)} epoch(s) with more than {100 * COLLAPSE_SHARE:.0f} % of the predictions in one class" if collapsed else None,
        "mode_collapse_warnings": outcome.warnings,
        "epoch_values": outcome.epoch_values,
        "history": outcome.history,
        "splits": outcome.splits,
        **outcome.summary,
    }
    for key, value in attrs.items():
        trial.set_user_attr(key, to_jsonable(value))
    if low:
        logger.info("trial %d: %s", trial.number, reason)
    return penalized


def _epoch_hook(trial: optuna.Trial, ctx: SearchContext, group: str) -> Callable[[int, float, list[dict[str, Any]]], None]:
    values: list[float] = []
    warnings: list[dict[str, Any]] = []
    last = ctx.settings.epochs - 1

    def on_epoch(epoch: int, value: float, records: list[dict[str, Any]]) -> None:
        faults.point("lstm_epoch")  # the crash tests' SIGKILL at the n-th epoch boundary
        values.append(value)
        found = [{**w, "epoch": r["epoch"], "split": r["split"]} for r in records if (w := collapse_warning(r["pred_dist"], share=COLLAPSE_SHARE))]
        if found:
            warnings.extend(found)
            trial.set_user_attr("mode_collapse_warnings", to_jsonable(warnings))
        trial.set_user_attr("epoch_values", values)
        trial.report(value, epoch)
        metrics = {k: sum(r[k] for r in records) / len(records) for k in ("val_f1", "val_precision", "val_recall", "val_accuracy", "train_loss")} if records else {}
        ctx.tracker.log_epoch(epoch, {**metrics, f"mean_{ctx.config.primary_metric}": value})
        ctx.on_event({"event": "epoch", "group": group, "trial": trial.number, "epoch": epoch, "value": value})
        if epoch < last and trial.should_prune():  # a trial that trained every epoch is judged on its value, not pruned
            trial.set_user_attr("pruned_at_epoch", epoch)
            raise optuna.TrialPruned(f"mean {ctx.config.primary_metric} {value:.4f} at epoch {epoch} below the {ctx.config.pruning_percentile:g}th percentile")
        if epoch < last and ctx.budget_left() <= 0:  # the time budget holds within a trial, not only between trials
            trial.set_user_attr("pruned_reason", f"the job's time budget ran out after epoch {epoch}")
            raise optuna.TrialPruned(f"time budget spent after epoch {epoch}")
        if epoch < last and ctx.stop_requested():
            raise StopRequested(f"stop requested: trial {trial.number} of {group} interrupted after epoch {epoch}")

    return on_epoch


def make_objective(ctx: SearchContext, group: str, fixed: Mapping[str, Any]) -> Callable[[optuna.Trial], float]:
    """The objective of ``group``'s study; ``fixed`` holds every parameter it does not search
    (for fine_tune: the centre of the narrow ranges)."""
    index = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_fine_tune(trial, fixed) if group == "fine_tune" else suggest_group(trial, group, fixed, epochs=ctx.settings.epochs)
        # by the trial's place among the group's uninterrupted trials: a resumed group trains what an uninterrupted one would
        seed = int(trial.user_attrs.get("seed", ctx.config.seed + 100_000 * (index + 1) + trial_ordinal(trial.study, trial.number)))
        for key, value in (("seed", seed), ("params", params), ("group", group)):
            trial.set_user_attr(key, to_jsonable(value))
        ctx.tracker.start_trial(group=group, number=trial.number, params=params)
        ctx.on_event({"event": "trial_start", "group": group, "trial": trial.number})
        try:
            outcome = train_splits(ctx.data, params, ctx.settings, seed=seed, on_epoch=_epoch_hook(trial, ctx, group))
        except optuna.TrialPruned:
            ctx.tracker.end_trial(state="PRUNED")
            raise
        except StopRequested as err:
            logger.info("%s: trial %d interrupted (%s); it runs again on resume", group, trial.number, err)
            trial.set_user_attr("interrupted", True)
            ctx.tracker.end_trial(state="INTERRUPTED")
            raise
        except Exception:
            ctx.tracker.end_trial(state="FAIL")
            raise
        value = _record(trial, outcome, ctx.config)
        ctx.tracker.end_trial(state="COMPLETE", value=value, tags={"mode_collapse": str(trial.user_attrs["mode_collapse"])})
        return value

    return objective


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Complete and pruned trials: the ones that count towards ``max_trials_per_group``."""
    return [t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def converged(trials: list[FrozenTrial], *, patience: int, threshold: float) -> bool:
    """The best value has not improved by more than ``threshold`` for the last ``patience``
    finished trials (a pruned trial counts as not improving)."""
    best, since = -math.inf, 0
    for t in sorted(trials, key=lambda t: t.number):
        if t.state == TrialState.COMPLETE and t.value is not None and t.value > best + threshold:
            best, since = t.value, 0
        else:
            since += 1
    return best > -math.inf and since >= patience


def prepare_resume(study: optuna.Study) -> list[int]:
    """Fail trials a dead worker left RUNNING (the caller holds the job lock, so none is alive),
    and queue the parameters and seed of every interrupted trial not yet re-run.

    Returns:
        The numbers of the trials queued again.
    """
    storage = study._storage  # the RDB storage; Optuna has no public call to fail a foreign trial
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        storage.set_trial_user_attr(t._trial_id, "interrupted_reason", "its worker process died (killed?) while it ran")
        storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        logger.warning("%s: trial %d was left running by a dead worker; marked failed and queued again", study.study_name, t.number)
    trials = study.get_trials(deepcopy=False)
    covered = {t.user_attrs.get("rerun_of") for t in trials}
    queued = []
    for t in trials:
        if t.state == TrialState.FAIL and t.user_attrs.get("interrupted") and t.number not in covered and t.params:
            study.enqueue_trial(t.params, user_attrs={"rerun_of": t.number, "seed": t.user_attrs.get("seed")}, skip_if_exists=False)
            queued.append(t.number)
    return queued


def _stop_reason(study: optuna.Study, ctx: SearchContext) -> str | None:
    cfg = ctx.config
    done = finished_trials(study)
    if len(done) >= cfg.max_trials_per_group:
        return "max_trials"
    if converged(done, patience=cfg.convergence_patience, threshold=cfg.convergence_threshold):
        return "converged"
    if ctx.budget_left() <= 0:
        return "time_budget"
    return None


def run_group(ctx: SearchContext, group: str, fixed: Mapping[str, Any]) -> dict[str, Any]:
    """Run (or continue) ``group``'s study until it ends; returns :func:`group_result`.

    Raises:
        StopRequested: a stop was asked for; the running trial (if any) is recorded as interrupted.
    """
    study = open_group_study(ctx.job_dir, ctx.config, group)
    if not study.get_trials(deepcopy=False):
        own = GROUPS[group].params if group in GROUPS else tuple(fixed)
        study.enqueue_trial({k: fixed[k] for k in own if k in fixed}, user_attrs={"incumbent": True})
    queued = prepare_resume(study)
    if queued:
        logger.info("%s: re-running interrupted trials %s first", study.study_name, queued)
    objective = make_objective(ctx, group, fixed)
    while (reason := _stop_reason(study, ctx)) is None:
        if ctx.stop_requested():
            raise StopRequested(f"stop requested: {group} paused after {len(finished_trials(study))} finished trials")
        study.optimize(objective, n_trials=1, catch=())
        last = max((t for t in study.get_trials(deepcopy=False) if t.datetime_complete), key=lambda t: t.datetime_complete)
        ctx.on_event({"event": "trial_end", "group": group, "trial": last.number, "state": last.state.name, "value": last.value,
                      "finished": len(finished_trials(study)), "max_trials": ctx.config.max_trials_per_group, "study": study})
    logger.info("%s ended: %s", study.study_name, reason)
    return group_result(study, group, fixed, reason=reason, spread=seed_spread(ctx, study), threshold=ctx.config.convergence_threshold)


def _counts(trials: list[FrozenTrial]) -> dict[str, int]:
    return {
        "n_trials": len(trials),
        "n_complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "n_interrupted": sum(t.state == TrialState.FAIL and bool(t.user_attrs.get("interrupted")) for t in trials),
        "n_failed": sum(t.state == TrialState.FAIL and not t.user_attrs.get("interrupted") for t in trials),
        "n_mode_collapse": sum(bool(t.user_attrs.get("mode_collapse")) for t in trials),
        "n_low_precision": sum(bool(t.user_attrs.get("low_precision_penalty")) for t in trials),
    }


def _incumbent(trials: list[FrozenTrial]) -> FrozenTrial | None:
    return next((t for t in trials if t.user_attrs.get("incumbent") and t.state == TrialState.COMPLETE and t.value is not None), None)


def seed_spread(ctx: SearchContext, study: optuna.Study) -> dict[str, Any]:
    """Train the group's incumbent again with ``config.seed_repeats`` other seeds.

    Returns:
        ``measured``; when measured, ``seeds``, ``values`` (the incumbent's own value first, each
        penalized as a trial's is), ``spread`` (max − min) and ``incumbent_trial``; else ``reason``.

    Raises:
        StopRequested: a stop was asked for (the group resumes here and repeats the same seeds).
    """
    cfg = ctx.config
    inc = _incumbent(study.get_trials(deepcopy=False))
    why = "seed_repeats is 0" if cfg.seed_repeats == 0 else "the incumbent trial did not complete" if inc is None else "the time budget was spent" if ctx.budget_left() <= 0 else None
    if why or inc is None:
        return {"measured": False, "reason": why}

    def on_epoch(epoch: int, value: float, records: list[dict[str, Any]]) -> None:
        if ctx.stop_requested():
            raise StopRequested(f"stop requested while the incumbent of {study.study_name} was trained again (epoch {epoch})")

    seeds, values = [int(inc.user_attrs["seed"])], [float(inc.value)]  # type: ignore[arg-type]
    for j in range(1, cfg.seed_repeats + 1):
        seeds.append(seeds[0] + 7919 * j)
        outcome = train_splits(ctx.data, inc.user_attrs["params"], ctx.settings, seed=seeds[-1], on_epoch=on_epoch)
        values.append(apply_penalty(outcome.value, outcome.summary["precision_mean"], metric=cfg.primary_metric)[0])
    return {"measured": True, "seeds": seeds, "values": values, "spread": max(values) - min(values), "incumbent_trial": inc.number}


def _selection(best: FrozenTrial | None, inc: FrozenTrial | None, spread: Mapping[str, Any], threshold: float) -> tuple[FrozenTrial | None, str]:
    """The trial whose parameters the group keeps, and why in words."""
    if best is None or inc is None or best.number == inc.number:
        return best, "the incumbent is the best trial" if best is not None and inc is not None else "no incumbent to compare with"
    gain = float(best.value) - float(inc.value)  # type: ignore[arg-type]
    note = f" (the convergence threshold {threshold:g} is {'below' if threshold < spread['spread'] else 'not below'} it)" if spread.get("measured") else ""
    if not spread.get("measured"):
        return best, f"trial {best.number} beats the incumbent by {gain:+.4f}; the seed spread was not measured ({spread.get('reason')})"
    if gain <= spread["spread"]:
        return inc, f"kept the incumbent: trial {best.number}'s gain {gain:+.4f} is within the incumbent's seed spread {spread['spread']:.4f}{note}"
    return best, f"trial {best.number} replaces the incumbent: its gain {gain:+.4f} exceeds the incumbent's seed spread {spread['spread']:.4f}{note}"


def group_result(
    study: optuna.Study, group: str, fixed: Mapping[str, Any], *, reason: str, spread: Mapping[str, Any] | None = None, threshold: float = 0.0
) -> dict[str, Any]:
    """A group's summary for results.json: the kept trial's value and parameters (the search's
    best unless it is within the incumbent's seed spread), counts, the spread (beside the
    convergence ``threshold``) and why it ended."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    top = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
    spread = dict(spread or {"measured": False, "reason": "not measured"})
    inc = _incumbent(trials)
    best, selection = _selection(top, inc, spread, threshold)
    own = GROUPS[group].params if group in GROUPS else tuple(fixed)
    best_params = {k: best.user_attrs["params"][k] for k in own} if best else {}
    keep = ("raw_value", "penalized_value", "low_precision_penalty", "penalty_reason", "mode_collapse", "mode_collapse_reason", "precision_mean", "f1_mean", "majority_f1_mean", "random_f1_mean", "call_dirhit")
    return to_jsonable({
        "group": group,
        "study_name": study.study_name,
        "storage": JobPaths.study_file(study.study_name),
        "best_value": best.value if best else None,
        "best_trial_number": best.number if best else None,
        "search_best_value": top.value if top else None,
        "search_best_trial": top.number if top else None,
        "incumbent_value": inc.value if inc else None,
        "improvement": (top.value - inc.value) if top and inc else None,
        "seed_spread": spread,
        "convergence_threshold": threshold,
        "selection": selection,
        "best_params": best_params,
        "params": {**fixed, **best_params},
        "fixed_params": dict(fixed),
        "stopped_reason": reason,
        "best_attrs": {k: best.user_attrs.get(k) for k in keep} if best else {},
        "best_epochs": [s["best_epoch"] for s in best.user_attrs.get("splits", [])] if best else [],
        **_counts(trials),
    })
