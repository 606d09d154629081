"""The thin notebook runs under papermill on a tiny configuration and shows each group with plotly."""

from __future__ import annotations

import json

import pytest

from bistlab.notebooks import execute
from bistlab.plots import PLOTLY_MIMETYPE

pytestmark = pytest.mark.slow


def test_papermill_runs_the_lstm_hyperopt_notebook(workspace, tmp_path):
    out = execute(
        "lstm_hyperopt",
        tmp_path / "lstm_hyperopt.ipynb",
        parameters={"workspace": str(workspace.root), "symbols": ["AAA"], "mode": "quick", "epochs_per_trial": 2, "max_trials_per_group": 2},
        cwd=tmp_path,
    )
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert sum(PLOTLY_MIMETYPE in (o.get("data") or {}) for o in outputs) == 2
    assert any("hyperopt_" in "".join(o.get("text", "")) for o in outputs)
    assert list(workspace.hyperopt_dir.glob("*/results.json"))


def test_the_committed_notebook_is_thin_and_has_no_outputs():
    from bistlab.notebooks import notebook_dir

    nb = json.loads((notebook_dir() / "lstm_hyperopt.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code[0]["metadata"].get("tags") == ["parameters"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert all(len("".join(c["source"]).splitlines()) <= 20 for c in code)
