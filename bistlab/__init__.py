"""bistlab: a research workbench for forecasting the direction of Borsa Istanbul stock returns.

Module map, one folder per floor, from the ground up, in the order data flows (prices → task → search →
report → cycles); a module imports its own folder and the folders below it (``tests/test_layout.py``
holds it to that, with three named exceptions; docs/architecture.md draws it).

errors, config, lazy  the exception root ``BistlabError``; shared settings (``EvalSettings``, ``CycleConfig``);
                      heavy imports on first use
core/        the ground floor: ``workspace`` (where every file lives), ``records`` (typed result files, each
             owning its name), ``state`` (``runs/state.json``, the cycle lock), ``names`` (symbol rule, task
             keys, study names), ``clock``, ``locks``, ``jsonio`` (atomic files), ``db_urls`` (study and
             database URLs), ``textfmt``, ``faults`` (fault points of the crash tests), ``repro``
data/        prices in and out: ``price_tables`` / ``importers`` / ``dialects`` / ``price_files`` (files in),
             ``price_frames`` / ``validate`` (defects repaired and listed), ``sessions`` (exchange
             calendars), ``store`` / ``store_mapped`` / ``stores`` (the price stores), ``sentiment_table``,
             ``splits`` (the holdout and purged walk-forward splits, by row or by date)
features/    feature groups behind flags (core, external, candles, chart patterns, regime, sentiment)
models/      model families (LightGBM, XGBoost, CatBoost, the directional objective), ``options`` and
             ``space`` (a trial's ``TrialConfig``), ``estimator`` (``TaskModel``: families with the options)
evaluation/  ``labels``, ``dataset`` (``TaskData``), ``universe`` (every symbol read once; tasks),
             ``panel`` / ``panel_calendar`` (universe tasks), ``walkforward`` (the ``EvaluationSpec``, the
             online holdout), ``metrics`` / ``intervals`` / ``dirhit`` (figures with counts and intervals,
             baselines, the usable rule), ``panel_metrics`` / ``date_bootstrap`` / ``universe_rule`` /
             ``universe_simulation``, ``honesty`` / ``looks`` / ``calibration`` (multiple testing and the
             rule's yardstick), ``ledger`` (forecast ledger), ``forward_scores`` (forward records read back)
search/      ``objectives`` (metric names), ``pruning``, ``storage`` / ``studies`` (Optuna storages and
             studies), ``hpo`` (a task's study and objective), ``selection`` (support filter, LOW_SUPPORT)
report/      the cycle report in layers (data → words → table → assemble → sections → task_page →
             render), ``htmlfmt``, ``plots``, ``summary``
lstm/        triple-barrier labels, windows, the LSTM, grouped Optuna search, the job runner and its report
runs/        ``pipeline`` (a task's steps), ``stages``, ``executors`` (serial, process pool, Dask), ``cycle``,
             ``notebooks`` / ``kernel`` (papermill), ``predict``, ``forward`` (as-of cycles scored),
             ``monitor`` / ``cycle_status`` / ``cycle_tracking`` (progress, status, MLflow)
api/         the REST API and control page (``create_app``), ``dashboard`` (optuna-dashboard)
cli/         ``bistlab``: ``main`` (data, cycle, status, dashboard, report), ``forecasts`` (predict, forward),
             ``hyperopt``, ``serve``, ``common``
"""

from __future__ import annotations

import os

# OpenMP threads (LightGBM, XGBoost, torch) sleep instead of spinning while they wait for each
# other. Spinning is a little faster on idle cores but catastrophic on shared ones: on this
# project's 2-core machine with two other busy processes, 10 LightGBM fits on 2 threads took
# 135 s spinning against 2.5 s sleeping (bench/bench_parallel.py measures it in a cycle). Set
# here, before any of those libraries is loaded; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
