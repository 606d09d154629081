"""The thin notebook runs under papermill on a tiny configuration and shows each group with plotly."""

from __future__ import annotations

import json

import pytest

from bistlab.runs.notebooks import execute
from bistlab.report.plots import PLOTLY_MIMETYPE

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
    from bistlab.runs.notebooks import notebook_dir

    nb = json.loads((notebook_dir() / "lstm_hyperopt.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code[0]["metadata"].get("tags") == ["parameters"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert all(len("".join(c["source"]).splitlines()) <= 20 for c in code)


def test_papermill_reads_an_existing_job_given_as_the_integer_papermill_makes_of_it(workspace, tmp_path):
    from bistlab.lstm.config import OptimizationConfig
    from bistlab.lstm.jobs import start_job

    job = start_job(workspace, OptimizationConfig(mode="quick", symbols=("AAA",), epochs_per_trial=1, max_trials_per_group=1, num_threads=1,
                                                  hidden_size=8, sequence_length=10, seed_repeats=0), detach=False)
    assert "_" in job.job_id
    as_int = int(job.job_id.replace("_", ""))  # `papermill -p job_id 20261204_231718` parses Python's 20261204_231718 as an int
    out = execute("lstm_hyperopt", tmp_path / "shown.ipynb", parameters={"workspace": str(workspace.root), "job_id": as_int}, cwd=tmp_path)
    assert job.job_id in out.read_text()


@pytest.mark.parametrize(("given", "text"), [("20261204_231718", "20261204_231718"), (20261204231718, "20261204_231718"), (202612042317182, "20261204_231718_2"), (None, None)])
def test_job_id_text(given, text):
    from bistlab.lstm.files import job_id_text

    assert job_id_text(given) == text
