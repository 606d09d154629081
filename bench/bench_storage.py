"""What a trial's writes cost in each study storage, side by side in one run.

A trial of a bistlab study writes its parameters, one value per walk-forward split (for the
pruner) and its record; this times those writes alone (a random sampler, no model): 12
parameters, 4 reported values and 9 attributes of the size bistlab's are, either as 9 separate
attributes (as before) or as one record (:data:`bistlab.search.hpo.RECORD`), in a SQLite file (write-ahead
log), a journal file (bistlab's default, :mod:`bistlab.search.storage`) and in memory. Milliseconds per
trial, the median of ``--repeats`` runs:

    python bench/bench_storage.py [--trials 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import optuna

from bistlab.search.storage import make_storage
from bistlab.core.db_urls import storage_url

SPLIT = {"dirhit": 51.0, "mask_count": 40, "mask_pct": 12.5, "nrmse": 1.01, "dirhit_hits": 20, "extra": list(range(10))}
ATTRIBUTE = {"split_metrics": [SPLIT] * 4}


def _trial(study: optuna.Study, *, one_record: bool) -> None:
    """One trial's writes: 12 parameters, 4 split values, 9 attributes (or one record of them)."""
    trial = study.ask()
    for i in range(12):
        trial.suggest_float(f"p{i}", 0.0, 1.0)
    for step in range(4):
        trial.report(0.5, step=step)
    attrs = {f"a{i}": ATTRIBUTE for i in range(9)}
    if one_record:
        trial.set_user_attr("record", attrs)
    else:
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
    study.tell(trial, 1.0)


def ms_per_trial(storage: optuna.storages.BaseStorage, *, n_trials: int, one_record: bool) -> float:
    """Milliseconds per trial of ``n_trials`` trials' writes (after one to open the study)."""
    study = optuna.create_study(storage=storage, study_name=f"s{one_record}", sampler=optuna.samplers.RandomSampler(0))
    _trial(study, one_record=one_record)
    started = time.perf_counter()
    for _ in range(n_trials):
        _trial(study, one_record=one_record)
    return 1000.0 * (time.perf_counter() - started) / n_trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")  # Optuna's heartbeat warning for study.ask() on SQLite
    folder = Path(tempfile.mkdtemp(prefix="bistlab-bench-storage-"))
    results: dict[tuple[str, bool], list[float]] = {}
    for rep in range(args.repeats):  # every storage in turn, each repeat: a drifting load weighs on all alike
        for kind in ("SQLite file", "journal file", "memory"):
            for one_record in (False, True):
                path = folder / f"r{rep}_{one_record}.{'db' if kind == 'SQLite file' else 'log'}"
                storage = optuna.storages.InMemoryStorage() if kind == "memory" else make_storage(storage_url(path))
                results.setdefault((kind, one_record), []).append(ms_per_trial(storage, n_trials=args.trials, one_record=one_record))
    print(f"{args.trials} trials' writes per run, median of {args.repeats} (ms per trial; every run in brackets)")
    print("| storage | 9 attributes (before) | one record |")
    print("|---|---|---|")
    for kind in ("SQLite file", "journal file", "memory"):
        cells = [f"{statistics.median(v):.1f} ({' / '.join(f'{x:.1f}' for x in v)})" for v in (results[(kind, False)], results[(kind, True)])]
        print(f"| {kind} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
