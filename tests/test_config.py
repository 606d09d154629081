"""Cycle settings: one thread per fit unless asked; OpenMP threads sleep while waiting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bistlab.config import CycleConfig
from bistlab.errors import ConfigError


@pytest.mark.parametrize("workers", [1, 2, 64])
def test_one_thread_per_fit_by_default_whatever_the_workers(workers):
    assert CycleConfig(workers=workers).n_jobs == 1


@pytest.mark.parametrize("n_jobs", [1, 3])
def test_threads_per_fit_given_are_kept(n_jobs):
    assert CycleConfig(workers=2, n_jobs=n_jobs).n_jobs == n_jobs


@pytest.mark.parametrize("n_jobs", [0, -1])
def test_threads_per_fit_below_one_are_refused_by_name(n_jobs):
    with pytest.raises(ConfigError, match="n_jobs"):
        CycleConfig(n_jobs=n_jobs)


def test_a_config_round_trips_through_its_dict():
    config = CycleConfig(horizons=(1, 7), workers=2, pruner="median")
    assert CycleConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_sleep_unless_the_user_said_otherwise(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-c", "import os, bistlab; print(os.environ['OMP_WAIT_POLICY'])"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_holdout_rows_round_trip_and_are_refused_below_one():
    assert CycleConfig.from_dict(CycleConfig(holdout_rows=250).to_dict()).holdout_rows == 250
    with pytest.raises(ConfigError) as info:
        CycleConfig(holdout_rows=0)
    assert info.value.name == "holdout_rows"


def test_default_workers_are_the_cores_bounded_by_memory(monkeypatch):
    from bistlab import config

    monkeypatch.setattr(config.os, "cpu_count", lambda: 16)
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 8 * 2**30 // 4096}  # 8 GiB
    monkeypatch.setattr(config.os, "sysconf", lambda name: pages[name])
    assert config.default_workers() == 8 * 2**30 // config.WORKER_MEMORY_BYTES == 5
    pages["SC_PHYS_PAGES"] = 128 * 2**30 // 4096
    assert config.default_workers() == 16
    monkeypatch.setattr(config.os, "cpu_count", lambda: None)
    assert config.default_workers() == 1
