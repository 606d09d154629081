"""Shared fixtures: small OHLCV frames and a price store (SQLite in tmp_path; also PostgreSQL when
``BISTLAB_TEST_PG_URL`` names a disposable database)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete

from bistlab.store import PriceStore, prices_table

_PG_URL = os.environ.get("BISTLAB_TEST_PG_URL")


def _make_ohlcv(n: int = 5, *, start: str = "2024-01-02", seed: int = 0) -> pd.DataFrame:
    """A clean frame of ``n`` business days: consistent prices around 10 and positive volumes."""
    rng = np.random.default_rng(seed)
    close = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.005, n))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    volume = rng.integers(1_000, 100_000, n).astype("float64")
    index = pd.bdate_range(start, periods=n, name="date").as_unit("ns")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


@pytest.fixture
def make_ohlcv() -> Callable[..., pd.DataFrame]:
    """Factory ``make_ohlcv(n=5, *, start="2024-01-02", seed=0)`` of clean daily frames."""
    return _make_ohlcv


@pytest.fixture(params=["sqlite"] + (["postgresql"] if _PG_URL else []))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PriceStore]:
    """An empty price store."""
    url = _PG_URL if request.param == "postgresql" else f"sqlite:///{tmp_path / 'prices.sqlite'}"
    price_store = PriceStore(url)
    with price_store.engine.begin() as conn:
        conn.execute(delete(prices_table))
    yield price_store
    if request.param == "postgresql":
        with price_store.engine.begin() as conn:
            conn.execute(delete(prices_table))
    price_store.close()


SHARED_BIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "bist"


def _market(n: int, *, seed: int, start: str = "2015-01-02") -> pd.DataFrame:
    """A daily series with some autocorrelation in returns, so models have something to find."""
    rng = np.random.default_rng(seed)
    eps = rng.normal(0.0, 0.012, n)
    ret = np.empty(n)
    ret[0] = eps[0]
    for i in range(1, n):
        ret[i] = 0.15 * ret[i - 1] + eps[i]
    close = 50.0 * np.exp(np.cumsum(ret))
    open_ = close * np.exp(rng.normal(0.0, 0.004, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.integers(10_000, 1_000_000, n).astype("float64")
    index = pd.bdate_range(start, periods=n, name="date").as_unit("ns")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


@pytest.fixture
def make_market() -> Callable[..., pd.DataFrame]:
    """Factory ``make_market(n, *, seed)`` of synthetic daily series with autocorrelated returns."""
    return _market


@pytest.fixture
def workspace(tmp_path: Path):
    """An empty workspace in ``tmp_path`` with a SQLite price store holding ``AAA`` (700 rows) and ``SHORT`` (90)."""
    from bistlab.config import Workspace

    ws = Workspace(root=tmp_path / "ws").ensure()
    store = PriceStore(ws.price_url)
    store.write("AAA", _market(700, seed=1))
    store.write("SHORT", _market(90, seed=2))
    store.close()
    return ws
