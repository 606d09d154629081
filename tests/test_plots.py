"""The report's figures: every task accounted for, intervals where a difference is shown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bistlab.report.plots import edge_heatmap, holdout_dirhit_by_task


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": ["AAA_1d", "AAA_7d", "BBB_1d", "SHORT_1d"],
            "symbol": ["AAA", "AAA", "BBB", "SHORT"],
            "horizon": [1, 7, 1, 1],
            "status": ["completed", "completed", "completed", "skipped"],
            "holdout_dirhit": [55.0, np.nan, 48.0, np.nan],
            "holdout_count": [90, 0, 80, np.nan],
            "ci_low": [44.0, np.nan, 36.0, np.nan],
            "ci_high": [65.0, np.nan, 59.0, np.nan],
            "best_baseline_dirhit": [51.0, np.nan, 52.0, np.nan],
            "edge_low": [-8.0, np.nan, -15.0, np.nan],
            "edge_high": [16.0, np.nan, 7.0, np.nan],
            "usable": [False, False, False, None],
            "hover": ["", "", "", ""],
        }
    )


def test_every_task_appears_in_the_holdout_chart_even_without_a_dirhit():
    fig = holdout_dirhit_by_task(_table())
    shown = {x for trace in fig.data for x in trace.x}
    assert shown == {"AAA_1d", "AAA_7d", "BBB_1d", "SHORT_1d"}
    missing = next(t for t in fig.data if t.name == "no holdout DirHit")
    assert list(missing.x) == ["AAA_7d", "SHORT_1d"] and "no masked holdout row (n=0)" in missing.hovertext[0]
    assert "not evaluated (skipped)" in missing.hovertext[1]


def test_the_edge_heatmap_shows_each_difference_with_its_interval():
    fig = edge_heatmap(_table())
    text = [cell for row in fig.data[0].text for cell in row]
    assert "+4.0<br>[-8.0, +16.0]<br>n=90" in text and "-4.0<br>[-15.0, +7.0]<br>n=80" in text
    assert "undefined<br>n=0" in text
