"""The same cycle on two local workers and on a Dask cluster with PostgreSQL storages."""

from __future__ import annotations

import pytest

from bistlab.core.workspace import Workspace
from bistlab.config import CycleConfig
from bistlab.runs.cycle import run_cycle
from bistlab.data.store import PriceStore
from tests.conftest import _market

pytestmark = pytest.mark.slow

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
CONFIG = dict(horizons=(1, 7), n_trials=2, n_jobs=1, models=("lgbm",))


def _fill(store: PriceStore) -> None:
    for i, s in enumerate(SYMBOLS):
        store.write(s, _market(480, seed=10 + i))


def _summary(result) -> dict[str, str]:
    return {k: t.status for k, t in result.tasks.items()}


def test_two_local_workers_complete_every_task_and_report(tmp_path):
    ws = Workspace(root=tmp_path / "ws").ensure()
    _fill(PriceStore(ws.price_url))
    result = run_cycle(ws, CycleConfig(**CONFIG, workers=2))
    assert _summary(result) == {f"{s}_{h}d": "completed" for s in SYMBOLS for h in (1, 7)}
    assert result.report is not None and result.report.exists()
    for key in _summary(result):
        assert (ws.task_dir(1, key) / "evaluate.ipynb").exists()


def test_dask_local_cluster_with_postgresql_gives_the_same_tasks_and_a_report(tmp_path, pg_database):
    from distributed import LocalCluster

    ws = Workspace(root=tmp_path / "ws", db_url=pg_database, optuna_url=pg_database).ensure()
    _fill(PriceStore(ws.price_url))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_cycle(ws, CycleConfig(**CONFIG, dask_address=cluster.scheduler_address))
    assert _summary(result) == {f"{s}_{h}d": "completed" for s in SYMBOLS for h in (1, 7)}
    assert result.report is not None and result.report.exists()
    for key in _summary(result):
        folder = ws.task_dir(1, key)
        assert {"hpo.ipynb", "train.ipynb", "evaluate.ipynb", "best_params.json", "evaluation.json", "model.pkl"} <= {p.name for p in folder.iterdir()}
