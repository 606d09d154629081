"""Shared fixtures: small OHLCV frames and a price store (SQLite in tmp_path, and PostgreSQL: a
fresh database on the throwaway server the tests start on 127.0.0.1, or the disposable database
``BISTLAB_TEST_PG_URL`` names)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete

from bistlab.data.store import PriceStore, imports_table, prices_table

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


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PriceStore]:
    """An empty price store, on SQLite and on PostgreSQL (skipped, or failed under
    ``BISTLAB_REQUIRE_SERVICES``, where PostgreSQL is not installed)."""
    if request.param == "postgresql":
        url = _PG_URL or request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{tmp_path / 'prices.sqlite'}"
    price_store = PriceStore(url)
    with price_store.engine.begin() as conn:
        conn.execute(delete(prices_table))
        conn.execute(delete(imports_table))
    yield price_store
    if request.param == "postgresql" and _PG_URL:  # a shared database: leave it empty
        with price_store.engine.begin() as conn:
            conn.execute(delete(prices_table))
            conn.execute(delete(imports_table))
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


def market_workspace(root: Path, rows: dict[str, int], **settings: object):
    """A workspace at ``root`` whose price store holds a synthetic series per symbol: ``rows`` maps
    each symbol to its row count; the i-th symbol's series has seed i + 1. ``settings``: more
    :class:`~bistlab.core.workspace.Workspace` fields (``optuna_url``...)."""
    from bistlab.core.workspace import Workspace

    ws = Workspace(root=root, **settings).ensure()
    store = PriceStore(ws.price_url)
    for i, (symbol, n) in enumerate(rows.items()):
        store.write(symbol, _market(n, seed=i + 1))
    store.close()
    return ws


@pytest.fixture
def workspace(tmp_path: Path):
    """An empty workspace in ``tmp_path`` with a SQLite price store holding ``AAA`` (700 rows) and ``SHORT`` (90)."""
    return market_workspace(tmp_path / "ws", {"AAA": 700, "SHORT": 90})


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is absent, or fail it where the services are required (CI)."""
    if os.environ.get("BISTLAB_REQUIRE_SERVICES"):
        pytest.fail(f"required service missing under BISTLAB_REQUIRE_SERVICES: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (Debian's ``postgresql`` binaries); yields a base URL
    ``postgresql+psycopg2://postgres@127.0.0.1:<port>``. Skips when the binaries are absent."""
    import glob
    import shutil
    import subprocess
    import time

    if os.environ.get("BISTLAB_TEST_PG_SERVER"):
        yield os.environ["BISTLAB_TEST_PG_SERVER"]
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        skip_or_fail("PostgreSQL server binaries not installed (Debian: apt-get install -y postgresql); CI installs them")
    import tempfile

    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="bistlab-pg-"))  # not under pytest's 0700 root-owned tmp tree
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        if shutil.which("runuser") is None:
            skip_or_fail("running as root without runuser: cannot start PostgreSQL as the postgres user")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    port = _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    log = root / "pg.log"
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(pg_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the throwaway server; yields its SQLAlchemy URL."""
    import re
    import uuid

    from sqlalchemy import create_engine, text

    name = "t_" + re.sub(r"[^a-z0-9]", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:6]
    engine = create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{pg_server}/{name}"
