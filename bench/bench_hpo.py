"""HPO cost on the demo data: seconds per trial by model choice, feature-cache hits, and how much
of the search space a study visits.

Usage: python bench/bench_hpo.py [--trials 20] [--symbol SP500] [--horizons 1,7] [--models lgbm,xgb,cat]
       python bench/bench_hpo.py --data ../shared/data/bist --symbol THYAO --trials 30
Prints figures side by side for one run; never asserts on time.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from bistlab.core.db_urls import storage_url
from bistlab.core.workspace import Workspace
from bistlab.evaluation.walkforward import make_evaluation_spec
from bistlab.search.hpo import open_study, run_hpo, trial_attrs
from bistlab.data.importers import import_paths, load_demo
from bistlab.evaluation.universe import load_task
from bistlab.models.space import SearchSpace
from bistlab.data.store import PriceStore


def _reason(text: str) -> str:
    """A fail_reason without its task key (``AAA_1d: <reason>: <detail>`` -> ``<reason>``)."""
    return text.split(":")[1].strip() if ":" in text else text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--symbol", default="SP500")
    ap.add_argument("--horizons", default="1,7")
    ap.add_argument("--models", default=None)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--data", default=None, help="folder of price files to import instead of the demo data")
    ap.add_argument("--verbose", action="store_true", help="a line per finished trial (time, model choice, flags on)")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
        logging.getLogger("bistlab.search.hpo").setLevel(logging.DEBUG)
    ws = Workspace(root=Path(tempfile.mkdtemp(prefix="bistlab-bench-"))).ensure()
    if args.data:
        import_paths(PriceStore(ws.price_url), [Path(args.data)])
    else:
        load_demo(PriceStore(ws.price_url))
    models = args.models.split(",") if args.models else None
    for h in (int(v) for v in args.horizons.split(",")):
        task = load_task(ws, args.symbol, h)
        spec = make_evaluation_spec(task)
        study = open_study(storage_url(ws.root / f"bench_{h}.log"), f"bench_{h}")  # a journal file, as a cycle keeps its studies
        started = time.perf_counter()
        run_hpo(task, spec, study=study, n_trials=args.trials, space=SearchSpace.for_task(task.context, models=models), n_jobs=args.jobs)
        total = time.perf_counter() - started
        by_choice: dict[str, list[float]] = collections.defaultdict(list)
        flags: dict[str, set] = collections.defaultdict(set)
        for t in study.trials:
            if t.datetime_complete and t.datetime_start:
                by_choice[t.params.get("model_choice", "?")].append((t.datetime_complete - t.datetime_start).total_seconds())
            for k, v in t.params.items():
                if k.startswith("enable_"):
                    flags[k].add(v)
        states = collections.Counter(t.state.name for t in study.trials)
        print(f"{args.symbol} h={h}: {len(study.trials)} trials in {total:.1f} s ({total / max(1, len(study.trials)):.2f} s/trial), states {dict(states)}")
        for choice, secs in sorted(by_choice.items()):
            print(f"  {choice:5s} n={len(secs):3d} median {statistics.median(secs):6.2f} s  max {max(secs):6.2f} s")
        print(f"  feature cache: {task.cache.misses} computed, {task.cache.hits} reused")
        print("  flags visited: " + ", ".join(f"{k[7:]}={'/'.join(sorted(map(str, v)))}" for k, v in sorted(flags.items())))
        unexplained = [t.number for t in study.trials if t.state.name == "FAIL" and "fail_reason" not in trial_attrs(t)]
        print(f"  failed trials without fail_reason: {unexplained or 'none'}")
        reasons = collections.Counter(_reason(trial_attrs(t).get("fail_reason", "?")) for t in study.trials if t.state.name != "COMPLETE")
        print(f"  not complete, by reason: {dict(reasons) or 'none'}")
        failed_by = collections.Counter(t.params.get("model_choice", "?") for t in study.trials if t.state.name == "FAIL")
        tried_by = collections.Counter(t.params.get("model_choice", "?") for t in study.trials)
        print("  failed / tried by model choice: " + ", ".join(f"{c} {failed_by[c]}/{n}" for c, n in sorted(tried_by.items())))
        for flag in sorted(flags):
            on = [t for t in study.trials if t.params.get(flag) is True]
            if on:
                print(f"    {flag[7:]:15s} on: {sum(t.state.name == 'FAIL' for t in on)}/{len(on)} failed")
        print(f"  space removed: {study.user_attrs.get('space_removed')}")


if __name__ == "__main__":
    main()
