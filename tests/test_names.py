"""Hostile names: one symbol rule at every entry point (import, store, CLI, workspace paths, job
ids), and nothing is ever created outside the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bistlab.cli.main import app
from bistlab.errors import BistlabError, ConfigError, DataError
from bistlab.data.importers import import_paths
from bistlab.data.store import PriceStore
from bistlab.core.names import check_symbol, normalize_symbol
from bistlab.core.workspace import Workspace, task_key
from bistlab.core.names import check_job_id
from tests.conftest import _market

HOSTILE = [
    "../../etc", "..", ".", "A/B", "A\\B", "/etc/passwd", "CON", "con", "NUL.IS", "LPT1", "COM9", "my sym", "A B",
    "ÇİMSA", "ŞEKER", "Ä", "X;rm -rf ~", "$(reboot)", "`id`", "A|B", "A&B", "A>B", "*", "?", "A\nB", "A\x00B", "-rf", ".hidden",
    "TRAILING.", "A" * 33, "",
]
NORMALIZED = {" thyao ": "THYAO", "akbnk": "AKBNK", "brk-b": "BRK-B", "xu100.is": "XU100.IS", "a_b": "A_B"}

runner = CliRunner(env={"COLUMNS": "220"})


@pytest.mark.parametrize("name", HOSTILE)
def test_the_one_rule_refuses_hostile_names(name):
    with pytest.raises(DataError, match="`symbol` must match"):
        normalize_symbol(name)
    with pytest.raises(DataError):
        check_symbol(name)


@pytest.mark.parametrize(("typed", "symbol"), NORMALIZED.items())
def test_the_one_rule_normalizes_what_a_user_types(typed, symbol):
    assert normalize_symbol(typed) == symbol
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize("name", ["../../etc", "A/B", "CON", "my sym"])
def test_task_paths_and_study_files_refuse_a_hostile_symbol(tmp_path, name):
    ws = Workspace(root=tmp_path)
    with pytest.raises(BistlabError):
        task_key(name, 1)
    with pytest.raises(ConfigError, match="`task` must be"):
        ws.task_dir(1, f"{name}_1d")
    with pytest.raises(ConfigError, match="`task` must be"):
        ws.study_storage(1, f"{name}_1d")


@pytest.mark.parametrize("job_id", ["../../etc", "a/b", ".hidden", "", "x" * 65, "a b"])
def test_a_hyperopt_job_id_cannot_leave_its_folder(tmp_path, job_id):
    ws = Workspace(root=tmp_path)
    with pytest.raises(ConfigError, match="`job_id` must be"):
        ws.hyperopt_job_dir(job_id)
    with pytest.raises(ConfigError):
        ws.hyperopt_report(job_id)
    assert check_job_id("20261123_163139_2") == "20261123_163139_2"


def _tree(root: Path) -> set[Path]:
    return {Path(dirpath) / name for dirpath, dirs, files in os.walk(root) for name in (*dirs, *files)}


def test_no_entry_point_creates_anything_outside_the_workspace(tmp_path, monkeypatch):
    """Every entry point fed hostile names, from a workspace two folders deep: afterwards, the
    folders around it hold exactly what they held before."""
    root = tmp_path / "outer" / "inner" / "ws"
    ws = Workspace(root=root).ensure()
    source = tmp_path / "outer" / "inner" / "ws" / "incoming"
    source.mkdir()
    for name in ["CON", "my sym", "$(reboot)", "a;b", "ÇİMSA", "..", "-rf", "NUL.IS"]:
        (source / f"{name}.csv").write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n")
    store = PriceStore(ws.price_url)
    store.write("AAA", _market(300, seed=1))
    monkeypatch.chdir(root)
    before = _tree(tmp_path)

    report = import_paths(store, [source])
    assert report.imported == () and len(report.failed) == 8
    for name in HOSTILE:
        with pytest.raises(BistlabError):
            store.write(name, _market(5, seed=2))
        result = runner.invoke(app, ["--workspace", str(root), "cycle", "run", "--symbols", name or ",", "--trials", "1", "--horizons", "1"])
        assert result.exit_code != 0 and "Traceback" not in result.output
    store.close()

    created = _tree(tmp_path) - before
    outside = sorted(p for p in created if root not in p.parents)
    assert outside == [], outside
    assert not (ws.runs / "state.json").exists()  # every cycle was refused before it started


def test_the_rest_api_refuses_hostile_job_ids_without_touching_a_file(workspace):
    from fastapi.testclient import TestClient

    from bistlab.api.app import create_app

    client = TestClient(create_app(workspace), base_url="http://127.0.0.1:8765")
    before = _tree(workspace.root.parent)
    for job_id in ["../../etc", "..%2F..%2Fetc", ".hidden", "a b", "x" * 65]:
        for method, path, kwargs in [("get", "/api/hyperopt/status", {"params": {"job_id": job_id}}),
                                     ("get", "/api/hyperopt/results", {"params": {"job_id": job_id}}),
                                     ("post", "/api/hyperopt/resume", {"json": {"job_id": job_id}})]:
            answer = getattr(client, method)(path, **kwargs)
            assert answer.status_code == 422 and "`job_id` must be" in answer.text, (job_id, path, answer.status_code, answer.text)
    assert _tree(workspace.root.parent) - before <= {workspace.runs / "hyperopt", workspace.runs / "hyperopt" / ".lock"}
