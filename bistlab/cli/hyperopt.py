"""``bistlab hyperopt``: start, stop, resume, status and results of LSTM hyperopt jobs.

The options of ``start`` are the specification's request fields (``--mode``, ``--target-group``,
``--epochs-per-trial``, ``--max-trials-per-group``, ``--max-total-hours``, ``--primary-metric``,
``--study-name``, ``--use-mlflow/--no-mlflow``, ``--seed``) plus the data and model settings. A job
runs in the foreground with a progress bar (Ctrl-C asks for a graceful stop), or in the background
with ``--detach``. The job runner (:mod:`bistlab.lstm.jobs`, which imports torch, about 2 s) is
imported inside the commands, so that the rest of ``bistlab`` starts without torch.
"""

from __future__ import annotations

import json
import signal
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bistlab.cli.common import console, current_workspace, err_console, fail
from bistlab.errors import BistlabError, JobStateError
from bistlab.lazy import lazy

OptimizationConfig, default_threads = lazy("bistlab.lstm.config", "OptimizationConfig"), lazy("bistlab.lstm.config", "default_threads")
Workspace = lazy("bistlab.core.workspace", "Workspace")

__all__ = ["hyperopt_app"]

hyperopt_app = typer.Typer(no_args_is_help=True, help="LSTM hyperopt jobs: grouped Optuna search over the training of an LSTM classifier of triple-barrier labels.")



def _ws() -> Workspace:
    return current_workspace().ensure()


JobOpt = Annotated[Optional[str], typer.Option("--job", help="Job id (default: the latest job).")]
DetachOpt = Annotated[bool, typer.Option("--detach", help="Run in a background worker and return at once.")]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "–" if v is None else str(v)


def _progress_runner(max_trials: int):
    """A rich progress bar of finished trials in the current group, and its event callback."""
    progress = Progress(
        TextColumn("[bold]{task.fields[group]}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("trials  {task.description}"),
        TimeElapsedColumn(), console=console,
    )
    bar = progress.add_task("", total=max_trials, group="starting")

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "trial_start":
            progress.update(bar, group=event["group"], description=f"trial {event['trial']} running")
        elif event["event"] == "epoch":
            progress.update(bar, description=f"trial {event['trial']} epoch {event['epoch']}: {event['value']:.4f}")
        elif event["event"] == "trial_end":
            value = "–" if event["value"] is None else f"{event['value']:.4f}"
            progress.update(bar, completed=event["finished"], group=event["group"], description=f"trial {event['trial']} {event['state'].lower()} {value}")

    return progress, on_event


def _on_ctrl_c(ws, job_id_getter) -> None:
    """First Ctrl-C: a graceful stop request; a second one interrupts as usual."""
    from bistlab.lstm.jobs import stop_job

    def handler(signum, frame) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop_job(ws, job_id_getter())
        err_console.print("[yellow]stop requested[/]: the job pauses at the next epoch boundary (Ctrl-C again to abort)")

    signal.signal(signal.SIGINT, handler)


@hyperopt_app.command("start")
def start(
    mode: Annotated[str, typer.Option(help="full (six groups), quick (learning_rate), group (--target-group), fine_tune (narrow joint search around the latest completed job's best).")] = "full",
    target_group: Annotated[Optional[str], typer.Option(help="The group of --mode group: learning_rate, regularization, class_balance, augmentation, scheduler, triple_barrier.")] = None,
    epochs_per_trial: Annotated[int, typer.Option(help="Epochs per trial (most a split trains).")] = 4,
    max_trials_per_group: Annotated[int, typer.Option(help="Finished (complete or pruned) trials per group study.")] = 15,
    max_total_hours: Annotated[float, typer.Option(help="Time budget of the job's running time, across resumes.")] = 24.0,
    primary_metric: Annotated[str, typer.Option(help="val_f1, val_precision, val_recall or val_accuracy (macro over SELL/HOLD/BUY).")] = "val_f1",
    study_name: Annotated[str, typer.Option(help="Prefix of the group studies (<study_name>_<group>).")] = "ml_hyperopt",
    use_mlflow: Annotated[bool, typer.Option("--use-mlflow/--no-mlflow", help="Track runs in a local MLflow store in the job folder.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of samplers, models and batches.")] = 42,
    symbols: Annotated[Optional[str], typer.Option(help="Comma-separated symbols (default: every symbol in the store).")] = None,
    horizon: Annotated[int, typer.Option(help="h, trading days: the vertical barrier and the purge.")] = 7,
    features: Annotated[Optional[str], typer.Option(help="Extra feature groups beside core, comma-separated (e.g. regime,candles).")] = None,
    n_splits: Annotated[int, typer.Option(help="Purged walk-forward splits.")] = 3,
    sequence_length: Annotated[int, typer.Option(help="Feature rows per window.")] = 20,
    hidden_size: Annotated[int, typer.Option(help="LSTM units.")] = 32,
    num_layers: Annotated[int, typer.Option(help="LSTM layers.")] = 1,
    n_startup_trials: Annotated[int, typer.Option(help="Random trials before TPE (and before the pruner prunes).")] = 3,
    n_warmup_steps: Annotated[int, typer.Option(help="Epochs before a trial may be pruned.")] = 2,
    pruning_percentile: Annotated[float, typer.Option(help="Prune trials below this percentile of earlier trials at the same epoch.")] = 50.0,
    convergence_patience: Annotated[int, typer.Option(help="Finished trials without improvement that end a group.")] = 5,
    convergence_threshold: Annotated[float, typer.Option(help="Improvement of the best value that counts.")] = 0.005,
    threads: Annotated[int, typer.Option(help="Torch threads (0: cores, at most 4).")] = 0,
    seed_repeats: Annotated[int, typer.Option(help="Extra seeds each group's incumbent is trained with; a group's best must beat the incumbent by more than their spread (0: not measured).")] = 2,
    base_job: Annotated[Optional[str], typer.Option(help="Job whose best parameters fix the groups not searched (fine_tune default: the latest completed job).")] = None,
    detach: DetachOpt = False,
) -> None:
    """Start a job; prints the measured time estimate, then runs it (or detaches)."""
    from bistlab.lstm.jobs import check_start, start_job

    ws = _ws()
    try:
        config = OptimizationConfig(
            mode=mode, target_group=target_group, epochs_per_trial=epochs_per_trial, max_trials_per_group=max_trials_per_group,
            max_total_hours=max_total_hours, primary_metric=primary_metric, study_name=study_name, use_mlflow=use_mlflow, seed=seed,
            symbols=tuple(s.strip() for s in (symbols or "").split(",") if s.strip()), horizon=horizon,
            feature_groups=tuple(s.strip() for s in (features or "").split(",") if s.strip()), n_splits=n_splits,
            sequence_length=sequence_length, hidden_size=hidden_size, num_layers=num_layers, n_startup_trials=n_startup_trials,
            n_warmup_steps=n_warmup_steps, pruning_percentile=pruning_percentile, convergence_patience=convergence_patience,
            convergence_threshold=convergence_threshold, num_threads=threads or default_threads(), base_job=base_job, seed_repeats=seed_repeats,
        )
        check_start(ws, config)  # errors before the progress bar appears
        if detach:
            response = start_job(ws, config, detach=True)
            _print_start(response.to_dict())
            return
        progress, on_event = _progress_runner(max_trials_per_group)
        _on_ctrl_c(ws, lambda: None)
        with progress:
            response = start_job(ws, config, detach=False, progress=on_event)
    except BistlabError as err:
        fail(err)
    _print_start(response.to_dict())
    _print_results(ws, response.job_id)


def _print_start(r: dict[str, Any]) -> None:
    est = r["time_estimate"]
    console.print(
        f"job {r['job_id']}: {r['status']} — estimate {est['estimated_hours']:.3f} h for at most {est['total_trials']} trials "
        f"({est['seconds_per_epoch']:.2f} s per measured epoch)" + (f"; worker pid {r['pid']}" if r["status"] == "starting" else ""),
        highlight=False, soft_wrap=True,
    )


@hyperopt_app.command("stop")
def stop(job: JobOpt = None) -> None:
    """Ask the running job to stop at its next epoch boundary (it pauses; `resume` continues)."""
    from bistlab.lstm.jobs import stop_job

    try:
        r = stop_job(_ws(), job)
    except BistlabError as err:
        fail(err)
    console.print(("[green]" if r.success else "[yellow]") + r.message + "[/]", highlight=False, soft_wrap=True)
    if not r.success:
        raise typer.Exit(code=1)


@hyperopt_app.command("resume")
def resume(job: JobOpt = None, detach: DetachOpt = False) -> None:
    """Continue a paused job or one whose worker died: completed groups skipped, interrupted trials run again."""
    from bistlab.lstm.jobs import job_snapshot, resume_job

    ws = _ws()
    try:
        state = job_snapshot(ws, job).state
        if state.status == "completed":
            raise JobStateError(f"job {state.job_id} is completed: nothing to resume", job_id=state.job_id, status="completed")
        if detach:
            r = resume_job(ws, state.job_id, detach=True)
        else:
            progress, on_event = _progress_runner(state.config["max_trials_per_group"])
            _on_ctrl_c(ws, lambda: state.job_id)
            with progress:
                r = resume_job(ws, state.job_id, detach=False, progress=on_event)
    except BistlabError as err:
        fail(err)
    p = r.progress
    console.print(f"job {r.job_id}: {r.status} (was at {p['current_group'] or 'start'}, groups completed: {', '.join(p['groups_completed']) or 'none'})", highlight=False, soft_wrap=True)
    if not detach:
        _print_results(ws, r.job_id)


@hyperopt_app.command("status")
def status(job: JobOpt = None, all_jobs: Annotated[bool, typer.Option("--all", help="List every job of the workspace.")] = False) -> None:
    """A job's status and progress (or every job with --all)."""
    from bistlab.lstm.jobs import job_snapshot, list_jobs

    ws = _ws()
    try:
        if all_jobs:
            table = Table(title="hyperopt jobs")
            for col in ("job", "status", "mode", "created", "groups completed", "best values", "error"):
                table.add_column(col, overflow="fold")
            for j in list_jobs(ws):
                best = ", ".join(f"{g} {_fmt(v)}" for g, v in j["best_values"].items())
                table.add_row(j["job_id"], j["status"], j["mode"], str(j["created_at"]), ", ".join(j["groups_completed"]), best, j["error"] or "")
            console.print(table)
            return
        seen = job_snapshot(ws, job)
    except BistlabError as err:
        fail(err)
    _print_status(seen)


def _print_status(seen: Any) -> None:
    """A :class:`~bistlab.lstm.files.JobSnapshot` as a table of its groups and lines of its timings."""
    s = seen.state
    p, est, ref = s.progress, s.time_estimate or {}, s.time_estimate_refined or {}
    table = Table(title=f"job {s.job_id}: {s.status}" + (" (stop requested)" if seen.stop_requested else ""))
    table.add_column("group")
    table.add_column("trials finished")
    table.add_column("best value")
    table.add_column("state")
    for g in p.groups_planned:
        state = "completed" if g in p.groups_completed else ("running" if g == p.current_group and s.status == "running" else "")
        table.add_row(g, f"{p.trials_done.get(g, 0)}/{s.config['max_trials_per_group']}", _fmt(p.best_values.get(g)), state)
    console.print(table)
    console.print(
        f"mode {s.mode}, device {s.device or '–'}, pid {s.pid or '–'}; current trial {_fmt(p.current_trial)}, epoch {_fmt(p.current_epoch)}\n"
        f"estimate {_fmt(est.get('estimated_hours'))} h before the start; now {_fmt(ref.get('estimated_total_hours'))} h in all, {_fmt(ref.get('remaining_hours'))} h left",
        highlight=False, soft_wrap=True,
    )
    if s.error:
        err_console.print(f"[red]{s.error}[/]", highlight=False, soft_wrap=True)


def _print_results(ws, job_id: str) -> None:
    from bistlab.lstm.jobs import results_of
    from bistlab.lstm.metrics import verdict_text
    from bistlab.lstm.report import dirhit_text

    r, report = results_of(ws, job_id)
    table = Table(title=f"job {job_id}: best parameters ({r.status})")
    table.add_column("parameter")
    table.add_column("value")
    for k, v in r.best_params.items():
        table.add_row(k, _fmt(v))
    console.print(table)
    for g, gr in r.group_results.items():
        spread = (gr.get("seed_spread") or {}).get("spread")
        noise = f", improvement {_fmt(gr.get('improvement'))} vs seed spread {_fmt(spread)}" if spread is not None else ""
        console.print(f"{g}: best {_fmt(gr['best_value'])} (trial {gr['best_trial_number']}), {gr['n_complete']} complete, {gr['n_pruned']} pruned, ended: {gr['stopped_reason']}{noise}", highlight=False)
    h = r.holdout
    if h:
        console.print(
            f"holdout: macro F1 {h['val_f1']:.3f} (majority {h['majority_f1']:.3f}, random {h['random_f1']:.3f}), call DirHit {dirhit_text(h['call_dirhit'])}",
            highlight=False, soft_wrap=True,
        )
        words = verdict_text(h)
        console.print(f"verdict: {words}" if words else "verdict: not recorded (evaluated before verdicts were kept)", highlight=False, soft_wrap=True)
    if report:
        console.print(f"report: {report}", highlight=False, soft_wrap=True)


@hyperopt_app.command("results")
def results(job: JobOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print results.json as JSON.")] = False) -> None:
    """A job's best parameters, group results and holdout evaluation."""
    from bistlab.lstm.jobs import job_results

    ws = _ws()
    try:
        if as_json:
            console.print_json(json.dumps(job_results(ws, job)))
            return
        from bistlab.lstm.jobs import job_snapshot

        _print_results(ws, job_snapshot(ws, job).state.job_id)
    except BistlabError as err:
        fail(err)
