"""HPO: one Optuna study per (symbol, horizon, cycle), its objective and its trial record.

Each trial draws a :class:`~bistlab.models.space.TrialConfig`, evaluates it on the task's purged
walk-forward splits and keeps its record in ONE user attribute, ``record`` (one write a trial,
where each attribute was its own write before), read with :func:`trial_attrs`: ``config``
(features_enabled, feature_params, model_choice, model_params, seed), ``spec_id``, ``model_metrics``
(an ensemble's per-family averages), ``symbol_metrics[<SYMBOL>_<h>d]`` (per-split list and averages),
and with the prediction scale on, ``prediction_scales`` (the factor each split's
model learnt on its training rows); a trial that did not complete has ``fail_reason`` (and
``prune_reason``, ``pruned_at_split``) there. The value is the score. Studies written before
keep these as separate attributes; :func:`trial_attrs` reads both, and gives every trial the parts that
follow from its record: ``features_enabled``, ``feature_params``, ``model_choice`` (from ``config``), ``avg_dirhit``
and ``avg_nrmse`` (from ``symbol_metrics``).

A trial with fewer than ``min_valid_splits`` splits with a defined DirHit (empty masks: its
predictions never went beyond the threshold on rows whose label did) is PRUNED, not failed, with
``prune_reason`` :data:`EMPTY_MASK` and the sentence in ``fail_reason``: it ran without error, and
the sampler learns from it (Optuna's TPE ranks pruned trials below every complete one), where a
failed trial teaches it nothing. Such trials, like failed ones, do not count towards the budget of
finished trials but do count towards ``max_failed``. Only an exception is FAIL.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, NoReturn

import optuna
from tqdm.auto import tqdm

from bistlab.core import faults
from bistlab.search import studies
from bistlab.evaluation.dataset import TaskData
from bistlab.evaluation.walkforward import EvaluationSpec, evaluate_splits, spec_id
from bistlab.evaluation.metrics import SplitMetrics, score, symbol_metrics
from bistlab.search.pruning import DEFAULT_PRUNER, make_pruner, split_score
from bistlab.models.space import SearchSpace, TrialConfig, suggest_config
from bistlab.search.storage import fail_orphaned_trials, fail_stale_trials, make_storage

__all__ = [
    "trial_counts",
    "make_objective",
    "open_study",
    "open_task_study",
    "run_hpo",
    "complete_trials",
    "finished_trials",
    "trial_attrs",
    "LIMIT_REASON",
    "EMPTY_MASK",
    "RECORD",
]

logger = logging.getLogger(__name__)

EMPTY_MASK = "empty_mask"
"""``prune_reason`` of a trial pruned for having fewer than ``min_valid_splits`` defined DirHits."""


RECORD = "record"
"""The user attribute holding a trial's whole record (:func:`trial_attrs`)."""


def trial_attrs(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A trial's record as one dict: ``config``, ``symbol_metrics``, ``fail_reason``, ...

    Reads the one ``record`` attribute of new trials and the separate attributes of trials
    written before it (or written apart: the ``fail_reason`` of a trial failed for its killed
    process), the latter winning where both hold a key.

    Args:
        trial: a trial of a bistlab study, in any state.

    Returns:
        A new dict (changing it changes nothing stored).
    """
    attrs = dict(trial.user_attrs)
    record = attrs.pop(RECORD, None)
    out = {**record, **attrs} if isinstance(record, dict) else attrs
    _derive(out)
    return out


def _derive(attrs: dict[str, Any]) -> None:
    """Fill what a record leaves out because it follows from the rest: the configuration's parts,
    the one task's mean DirHit and nRMSE (older trials stored them as attributes of their own)."""
    config = attrs.get("config")
    if isinstance(config, dict):
        for key in ("features_enabled", "feature_params", "model_choice"):
            if key in config:
                attrs.setdefault(key, config[key])
    metrics = attrs.get("symbol_metrics")
    if isinstance(metrics, dict) and len(metrics) == 1:
        (sm,) = metrics.values()
        for key in ("avg_dirhit", "avg_nrmse"):
            if isinstance(sm, dict) and key in sm:
                attrs.setdefault(key, sm[key])


class _Doomed(Exception):
    """So many splits had no defined DirHit that the trial cannot reach ``min_valid_splits``."""


def _split_watch(trial: optuna.Trial, record: dict[str, Any], *, n_splits: int, min_valid: int, horizon: int) -> Callable[[int, SplitMetrics], None]:
    """Called after each split: the fault point of the resilience tests; the split's score reported
    to the study's pruner, which may stop the trial (said in ``record``); and an early stop for a
    trial whose remaining splits could no longer give it ``min_valid`` defined DirHits (it would
    fail with exactly that reason after paying for them)."""
    defined = 0

    def watch(index: int, metrics: SplitMetrics) -> None:
        nonlocal defined
        if index == 0:
            faults.point("in_trial")
        defined += metrics.dirhit is not None
        left = n_splits - index - 1
        if left and defined + left < min_valid:
            raise _Doomed(f"{defined} in the first {index + 1} of {n_splits}; the other {left} were not evaluated")
        value = split_score(metrics, horizon=horizon)
        if value is None:
            return
        trial.report(value, step=index)  # the last split's too: pruners read complete trials' split scores
        if left and trial.should_prune():
            record["pruned_at_split"] = index
            record["fail_reason"] = f"pruned after split {index + 1} of {n_splits}: it could no longer reach the study's best"
            raise optuna.TrialPruned(f"pruned after split {index + 1} of {n_splits}")

    return watch


def _failed(trial: optuna.Trial, record: dict[str, Any], reason: str) -> float:
    """Record why the trial failed (an exception); the NaN it returns makes Optuna mark it FAIL."""
    record["fail_reason"] = reason
    logger.warning("trial %d failed: %s", trial.number, reason)
    return math.nan


def _prune_empty(trial: optuna.Trial, record: dict[str, Any], reason: str) -> NoReturn:
    """Record that the trial has too few defined DirHits and prune it (Optuna marks it PRUNED).

    Raises:
        optuna.TrialPruned: always.
    """
    record.update(prune_reason=EMPTY_MASK, fail_reason=reason)
    logger.debug("trial %d pruned: %s", trial.number, reason)
    raise optuna.TrialPruned(reason)


def _record_scales(record: dict[str, Any], config: TrialConfig, scales: list[float]) -> None:
    """Keep the prediction scale each evaluated split's model learnt (dimensionless factors ≥ 1),
    when the option is on."""
    if scales and config.option("prediction_scale") is not None:
        record["prediction_scales"] = scales


def make_objective(task: TaskData, spec: EvaluationSpec, space: SearchSpace, *, seed: int = 0, n_jobs: int = 1):
    """The objective of ``task``'s study: maximize the score on the spec's splits. Each trial's
    record is written once, as the trial ends whichever way (:data:`RECORD`, :func:`trial_attrs`)."""

    def objective(trial: optuna.Trial) -> float:
        config = suggest_config(trial, space, horizon=task.horizon, seed=seed)
        record: dict[str, Any] = {"config": config.to_dict(), "spec_id": spec.spec_id}  # the rest follows (trial_attrs)
        try:
            return _evaluated(trial, record, task, spec, config, n_jobs=n_jobs)
        finally:
            trial.set_user_attr(RECORD, record)

    return objective


def _evaluated(trial: optuna.Trial, record: dict[str, Any], task: TaskData, spec: EvaluationSpec, config: TrialConfig, *, n_jobs: int) -> float:
    """The trial's score on the spec's splits, its figures kept in ``record``.

    Raises:
        optuna.TrialPruned: stopped by the pruner, or too few defined DirHits.
    """
    started = time.perf_counter()
    too_few = f"fewer than {task.settings.min_valid_splits} splits with a defined DirHit"
    watch = _split_watch(trial, record, n_splits=len(spec.splits), min_valid=task.settings.min_valid_splits, horizon=task.horizon)
    skipped: dict[str, dict[str, Any]] = {}
    scales: list[float] = []
    try:
        splits = evaluate_splits(task, config, spec, n_jobs=n_jobs, on_split=watch, skipped=skipped, scales=scales)
    except optuna.TrialPruned:
        _record_scales(record, config, scales)
        raise
    except _Doomed as doomed:
        _record_scales(record, config, scales)
        _prune_empty(trial, record, f"{task.key}: {too_few} ({doomed})")
    except Exception as err:  # noqa: BLE001 - a trial's failure is recorded, the study goes on
        return _failed(trial, record, f"{task.key}: {type(err).__name__}: {' '.join(str(err).split())[:500]}")
    _record_scales(record, config, scales)
    sm = symbol_metrics(splits, symbol=task.symbol, horizon=task.horizon, min_valid_splits=task.settings.min_valid_splits)
    if skipped:
        record["options_skipped"] = skipped
    record.update(symbol_metrics={task.key: sm}, model_metrics=sm["avg_model_metrics"])
    value = score(sm["avg_dirhit"], sm["avg_nrmse"], horizon=task.horizon)
    if value is None:
        _prune_empty(trial, record, f"{task.key}: {too_few} ({sm['valid_splits']})")
    logger.debug(
        "trial %d: score %.3f, DirHit %.1f %% in %.1f s; %s with %s",
        trial.number,
        value,
        sm["avg_dirhit"],
        time.perf_counter() - started,
        config.model_choice,
        ", ".join(k for k, on in config.features_enabled.items() if on) or "core only",
    )
    return value


def open_study(storage: str | optuna.storages.BaseStorage, study_name: str, *, seed: int = 0, pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Create or load a study (maximize) with a seeded TPE sampler suited to the conditional space.

    ``storage`` may be a URL (see :func:`bistlab.search.storage.make_storage`) or a storage object;
    ``pruner`` stops trials after a split (:mod:`bistlab.search.pruning`; ``None``: never).
    """
    return studies.open_study(storage, study_name, sampler=studies.tpe_sampler(seed), pruner=pruner)


def _version(name: str, base: str) -> int | None:
    if name == base:
        return 1
    head, sep, tail = name.rpartition("_v")
    return int(tail) if sep and head == base and tail.isdigit() else None


def open_task_study(storage: str, name: str, spec: EvaluationSpec, *, seed: int = 0, pruner: str = DEFAULT_PRUNER) -> tuple[optuna.Study, str | None]:
    """Open a task's study for ``spec``, never mixing trials scored on different splits.

    The study records the evaluation_spec it was started with. When a resume finds that the prices
    (or the settings) changed since, so that the stored spec differs, the old study is kept as it is
    and a fresh one, ``<name>_v<k>``, is started for the new spec; every later resume opens the newest.
    ``pruner`` names the :mod:`bistlab.search.pruning` pruner of its trials. The caller is the study's one
    owner: in a storage without heartbeats (a journal file), trials a killed owner left RUNNING are
    failed here (:func:`bistlab.search.storage.fail_orphaned_trials`).

    Returns:
        The study, and a sentence saying why a fresh study was started (kept in the study, so a
        later resume still says it), or ``None``.
    """
    backend = make_storage(storage)
    versions = sorted((v, n) for n in optuna.get_all_study_names(backend) if (v := _version(n, name)) is not None)
    latest = versions[-1][1] if versions else name
    stopper = make_pruner(pruner, n_steps=len(spec.splits))
    study = open_study(backend, latest, seed=seed, pruner=stopper)
    fail_orphaned_trials(study)
    stored = study.user_attrs.get("evaluation_spec")
    if stored is None:
        study.set_user_attr("evaluation_spec", spec.to_dict())
        return study, study.user_attrs.get("restart_note")
    if spec_id(stored) == spec.spec_id:
        return study, study.user_attrs.get("restart_note")
    done = len(complete_trials(study))
    fresh = f"{name}_v{(versions[-1][0] if versions else 1) + 1}"
    what = "prices" if stored.get("fingerprint") != spec.fingerprint else "evaluation settings"
    note = (
        f"the {what} changed since study {latest} began (data fingerprint {stored.get('fingerprint')} with {stored.get('n_rows')} rows "
        f"→ {spec.fingerprint} with {spec.n_rows} rows): its {done} complete trials were scored on other splits and are kept apart, "
        f"never ranked with these; a fresh study {fresh} was started"
    )
    logger.warning("%s", note)
    study = open_study(backend, fresh, seed=seed, pruner=stopper)
    study.set_user_attr("evaluation_spec", spec.to_dict())
    study.set_user_attr("restart_note", note)
    return study, note


def complete_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def _finished(t: optuna.trial.FrozenTrial) -> bool:
    return t.state == optuna.trial.TrialState.COMPLETE or (t.state == optuna.trial.TrialState.PRUNED and "pruned_at_split" in trial_attrs(t))


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count towards the budget: complete ones and those a pruner stopped (not those
    refused for the trial limit)."""
    return [t for t in study.get_trials(deepcopy=False) if _finished(t)]


def _empty(t: optuna.trial.FrozenTrial) -> bool:
    return t.state == optuna.trial.TrialState.PRUNED and trial_attrs(t).get("prune_reason") == EMPTY_MASK


def trial_counts(trials: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    """How a study's trials ended, each counted once: ``complete``, ``pruned`` (stopped by the
    pruner), ``empty`` (pruned for too few defined DirHits), ``failed`` (an exception or a killed
    process) and ``other`` (running, or refused for the trial limit)."""
    counts = {"complete": 0, "pruned": 0, "empty": 0, "failed": 0, "other": 0}
    for t in trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            counts["complete"] += 1
        elif _empty(t):
            counts["empty"] += 1
        elif _finished(t):
            counts["pruned"] += 1
        elif t.state == optuna.trial.TrialState.FAIL:
            counts["failed"] += 1
        else:
            counts["other"] += 1
    return counts


@dataclass(frozen=True)
class _Tally:
    """A study's trials counted once: finished (complete or stopped by the pruner), running,
    failed (an exception) and empty (pruned for too few defined DirHits)."""

    finished: int
    running: int
    failed: int
    empty: int = 0

    @classmethod
    def of(cls, study: optuna.Study, *, besides: int | None = None) -> "_Tally":
        trials = [t for t in study.get_trials(deepcopy=False) if t.number != besides]
        running = sum(t.state == optuna.trial.TrialState.RUNNING for t in trials)
        failed = sum(t.state == optuna.trial.TrialState.FAIL for t in trials)
        return cls(sum(_finished(t) for t in trials), running, failed, sum(_empty(t) for t in trials))

    @property
    def wasted(self) -> int:
        """Trials that gave no score: failed ones and those pruned on empty masks."""
        return self.failed + self.empty


LIMIT_REASON = "trial limit reached"


def _guarded(objective, study: optuna.Study, n_trials: int):
    """The objective, refusing to start when finished + other running trials already make the limit.

    Trials are created in the storage before their objective runs, so of two trials started at
    once the later one sees the earlier: finished trials (complete or pruned) never exceed ``n_trials``.
    """

    def guarded(trial: optuna.Trial) -> float:
        tally = _Tally.of(study, besides=trial.number)
        taken = tally.finished + tally.running
        if taken >= n_trials:
            trial.set_user_attr(RECORD, {"fail_reason": f"{LIMIT_REASON}: {taken} of {n_trials} finished or running"})
            raise optuna.TrialPruned(LIMIT_REASON)
        return objective(trial)

    return guarded


def run_hpo(
    task: TaskData,
    spec: EvaluationSpec,
    *,
    study: optuna.Study,
    n_trials: int,
    space: SearchSpace | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    warm_start: dict[str, Any] | None = None,
    stop: Callable[[], bool] | None = None,
    max_failed: int | None = None,
    poll_seconds: float = 1.0,
    show_progress_bar: bool = False,
    coverage: bool = True,
) -> optuna.Study:
    """Run trials until the study has ``n_trials`` finished ones (complete, or stopped by the
    study's pruner after a split), resuming a partial study.

    Safe with several processes on one study (each calls this): finished trials never exceed
    ``n_trials``. Trials left RUNNING by a killed process are failed by the storage's heartbeat
    (SQLite, PostgreSQL; see :mod:`bistlab.search.storage`), or in a journal file as its owner reopens the
    task (:func:`open_task_study`); until then this waits for them rather than overrunning.

    Args:
        task: the task's data.
        spec: its evaluation_spec.
        study: the task's study (new or partially run).
        n_trials: finished trials wanted.
        space: the search space; defaults to everything available for the task.
        seed: model seed (fixed across trials, so a trial can be reproduced).
        n_jobs: threads per model fit.
        warm_start: parameters enqueued as the first trial of a new study.
        stop: polled between trials; when it returns True, return after the current trial.
        max_failed: give up after this many trials without a score, failed or pruned for too few
            defined DirHits (default ``max(10, 2 * n_trials)``).
        poll_seconds: wait between checks while other processes finish the last trials.
        show_progress_bar: a tqdm bar of complete trials (notebooks).
        coverage: open a new study with :meth:`SearchSpace.coverage_params` (after the warm
            start): every model choice, every flag on and off, before the sampler takes over.
    """
    space = space or SearchSpace.for_task(task.context)
    _open(study, task, space, opening=([warm_start] if warm_start else []) + (space.coverage_params(task.horizon) if coverage else []), n_trials=n_trials)
    objective = _guarded(make_objective(task, spec, space, seed=seed, n_jobs=n_jobs), study, n_trials)
    max_failed = max_failed if max_failed is not None else max(10, 2 * n_trials)
    bar = tqdm(total=n_trials, desc=f"{task.key} trials", initial=len(finished_trials(study))) if show_progress_bar else None
    try:
        while True:
            tally = _ended_or_tally(study, task.key, n_trials=n_trials, max_failed=max_failed, stop=stop, bar=bar)
            if tally is None:
                break
            if tally.finished + tally.running >= n_trials:
                time.sleep(poll_seconds)  # others are finishing the last trials (or their heartbeats are going stale)
                continue
            study.optimize(objective, n_trials=1, gc_after_trial=False)
    finally:
        if bar is not None:
            bar.close()
    return study


def _open(study: optuna.Study, task: TaskData, space: SearchSpace, *, opening: list[dict[str, Any]], n_trials: int) -> None:
    """Record what the study is about; a new study starts with the opening trials enqueued."""
    study.set_user_attr("symbol", task.symbol)
    study.set_user_attr("horizon", task.horizon)
    study.set_user_attr("space_removed", space.removed)
    if not study.trials:
        for params in opening[:n_trials]:
            study.enqueue_trial(params, skip_if_exists=True)


def _ended_or_tally(study: optuna.Study, key: str, *, n_trials: int, max_failed: int, stop: Callable[[], bool] | None, bar: Any) -> _Tally | None:
    """``None`` when the study is done (enough finished trials, too many without a score, or a stop
    request), else its trials counted. Fails trials left running by dead processes first (heartbeats)."""
    if stop is not None and stop():
        logger.info("%s: stop requested; %d of %d trials finished", key, len(finished_trials(study)), n_trials)
        return None
    fail_stale_trials(study)
    tally = _Tally.of(study)
    if bar is not None:
        bar.n = tally.finished
        bar.refresh()
    if tally.wasted >= max_failed and tally.finished < n_trials:
        logger.warning(
            "%s: %d trials without a score (%d failed, %d pruned for too few defined DirHits); giving up with %d of %d finished",
            key, tally.wasted, tally.failed, tally.empty, tally.finished, n_trials,
        )
    return None if tally.finished >= n_trials or tally.wasted >= max_failed else tally


