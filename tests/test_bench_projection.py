"""bench/projection.py's arithmetic: the schedule and the universe tasks' scaling."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import projection  # noqa: E402


def test_a_few_long_tasks_on_many_cores_take_the_longest_one():
    assert projection.schedule_hours([3600.0, 1800.0, 900.0], 16, 0.5) == pytest.approx(2.0)


def test_longest_first_fills_two_cores_evenly():
    # 3, 3, 2, 2, 2 hours on 2 cores: 3+2+2 and 3+2 -> 7 hours
    tasks = [h * 3600.0 for h in (2, 3, 2, 3, 2)]
    assert projection.schedule_hours(tasks, 2, 1.0) == pytest.approx(7.0)


def test_many_equal_tasks_take_their_total_over_the_cores():
    assert projection.schedule_hours([60.0] * 1600, 16, 1.0) == pytest.approx(100 * 60 / 3600)


def test_a_universe_task_scales_with_the_symbols_from_the_nearest_measured_horizon():
    hpo, train, evaluate = projection.UNIVERSE_190[1]
    at_190 = projection.universe_seconds(3, 190)
    assert at_190 == pytest.approx(hpo + train + evaluate)  # h = 3: nearest measured is h = 1
    assert projection.universe_seconds(3, 380) == pytest.approx(2 * at_190)
    assert projection.universe_seconds(14, 190) == pytest.approx(sum(projection.UNIVERSE_190[7]))
    assert projection.universe_seconds(1, 190, trials=20) == pytest.approx(2 * hpo + train + evaluate)
