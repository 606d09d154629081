"""bistlab: a research workbench for forecasting the direction of Borsa Istanbul stock returns.

Module map, one line per module, in the order data flows (store → task → search → model →
evaluation → cycle → report → forecasts); each module owns what its line says.

Foundations
    errors            the exception root ``BistlabError`` and its subclasses (fields: symbol, horizon, stage, job)
    config            shared settings: default horizons, ``EvalSettings``, ``CycleConfig``, the score's k, price-column mapping
    names             the symbol rule, task keys, job ids, a task's study name, an LSTM group's study name
    workspace         where every file lives (``Workspace``, ``TaskPaths``, ``JobPaths``)
    records           the typed result records (``BestParams``, ``ModelMeta``, ``Evaluation``, ``FinalModelMeta``,
                      ``ForwardScore``) and the forecasts' columns
    jsonio            atomic files (temp file + rename) and JSON reading
    clock             the one clock of every record: UTC now as ISO 8601
    locks             the one exclusive file lock (a cycle, a hyperopt job, a state file's read-modify-write)
    faults            fault points for the crash and fault tests (``BISTLAB_FAULT``, ``BISTLAB_STEP_FAULT``)

Prices
    price_frames      raw OHLCV frames: standard columns, wall-clock dates, numbers, the data fingerprint
    validate          defects of a raw frame repaired and listed: the clean frame
    sessions          exchange calendars (XIST by default): missing sessions, rows on non-trading days, long gaps
    price_tables      a CSV / Parquet price file read into one table per symbol
    importers         those tables and the embedded demo data into the store, validated on the way
    store             the price store: bistlab's own ``prices`` table (SQLite or PostgreSQL)
    store_mapped      a price table of one's own, read in place, read-only
    stores            which store a URL and table get (``open_store``, ``workspace_store``)
    db_urls           database URLs in messages: the SQLite file, passwords masked
    sentiment_table   the optional ``sentiment`` table
    universe          every stored symbol read and validated once; a task prepared with its peers

One (symbol, horizon) task
    labels            forward and past h-day log returns
    splits            the holdout and the purged walk-forward splits
    dataset           ``TaskData``: a task's prices, labels, holdout plan and feature cache
    features/         feature groups behind flags (core, external, candles, chart patterns, regime, sentiment)
    models/           model families (LightGBM, XGBoost, CatBoost) and the directional objective
    options           model-side options (directional loss, seed bagging, smart ensemble, meta stacking, stacked short horizons)
    space             the search space and a trial's ``TrialConfig``
    estimator         ``TaskModel``: families composed with the options, out-of-fold inputs
    metrics           split and symbol metrics, the score, effective counts of overlapping labels
    intervals         intervals and exact tests of a hit rate (Wilson, Clopper-Pearson), the smallest certifiable DirHit
    dirhit            DirHit figures with count and interval, the baselines, the edge, the usable rule
    evaluation        the ``EvaluationSpec``, walk-forward evaluation, the online holdout
    storage           Optuna storages with heartbeats
    hpo               a task's Optuna study, its objective, resumes that never mix specs
    selection         the best trial under the support filter (LOW_SUPPORT fallback)
    pipeline          a task's steps: HPO + selection, training, evaluation (records in, records out)

Universe tasks (one model per horizon over every symbol)
    panel_calendar    the panel's settings, members cut at corporate actions, the union calendar, the excess target
    panel             ``PanelTask``: the panel of every symbol, its features and splits by date
    panel_metrics     pooled DirHit, rank IC, quintile spread of a universe holdout
    date_bootstrap    the circular block bootstrap over dates behind those intervals
    universe_rule     the universe verdict (``USABLE_RULE_UNIVERSE``)
    universe_simulation  simulated panels: the universe rule's yardstick

Cycles
    state             ``runs/state.json``: the cycle and its tasks, locked and atomic; the one-cycle-per-workspace lock
    stages            a task's stages (notebooks, parameters, done tests) and how one attempt ends
    executors         where tasks run: serially, on a local process pool, on Dask
    cycle             a cycle: open or resume, clean up old cycles, run the tasks, render the report
    notebooks         papermill execution and offline HTML export of the thin notebooks
    kernel            what a notebook kernel started by bistlab sets up first
    monitor           the progress view of a running cycle

Judging and reporting
    honesty           multiple testing: PBO, best-of-N noise, cycle-wide false-discovery control
    looks             every verdict taken on a holdout, so the false-discovery family counts every look
    calibration       the usable rule on simulated no-skill and skilled holdouts
    htmlfmt           HTML building blocks; every DirHit printed with its count and interval
    plots             plotly figures, offline
    repro             versions and source revision
    summary           the small tables the task notebooks show
    report/           the cycle report in layers: data, studies, table, words, sections, task_page, render
    predict           the latest forecast per task from its configuration refit on every labelled row
    ledger            the forecast ledger and the forward record
    forward           an as-of cycle's frozen models scored on every later session

The LSTM hyperopt module (second specification)
    lstm/             triple-barrier labels, windows, the LSTM, grouped Optuna search, the job runner and its report

Command line
    cli_common        the consoles, the chosen workspace, the one-line error
    cli               ``bistlab``: data, cycle, status, dashboard, report
    cli_forecasts     ``bistlab predict`` and ``bistlab forward``
    cli_hyperopt      ``bistlab hyperopt``: start, stop, resume, status, results
"""

from __future__ import annotations

import os

# OpenMP threads (LightGBM, XGBoost, torch) sleep instead of spinning while they wait for each
# other. Spinning is a little faster on idle cores but catastrophic on shared ones: on this
# project's 2-core machine with two other busy processes, 10 LightGBM fits on 2 threads took
# 135 s spinning against 2.5 s sleeping (bench/bench_parallel.py measures it in a cycle). Set
# here, before any of those libraries is loaded; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
