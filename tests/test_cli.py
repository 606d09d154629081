"""The command line, as a user runs it: clear lines, no tracebacks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bistlab.cli import app
from tests.conftest import SHARED_BIST

runner = CliRunner(env={"COLUMNS": "220"})


def _run(ws, *args):
    return runner.invoke(app, ["--workspace", str(ws), *args])


@pytest.mark.shared_data
def test_import_of_the_bist_folder_names_the_bad_files_and_keeps_the_rest(tmp_path):
    if not SHARED_BIST.is_dir():
        pytest.skip(f"../shared/data/bist is absent ({SHARED_BIST}); it is only in the project's development checkout")
    result = _run(tmp_path, "data", "import", str(SHARED_BIST))
    out = result.output
    assert result.exit_code == 0, out
    assert "Traceback" not in out
    assert "21 symbols stored (20 ready for HPO; too short for HPO: BALSU)" in out
    assert "1 files failed: KARYE.csv" in out
    assert [line for line in out.splitlines() if line.startswith("failed ")][0].startswith("failed KARYE.csv:")
    listing = _run(tmp_path, "data", "list").output
    assert "BALSU" in listing and "too short" in listing and "placeholder_sessions" in listing


def test_import_of_a_missing_path_is_one_line_not_a_traceback(tmp_path):
    result = _run(tmp_path, "data", "import", str(tmp_path / "nope.csv"))
    assert "Traceback" not in result.output
    assert "nope.csv" in result.output
    assert result.exit_code == 1


@pytest.mark.parametrize("args", [["status"], ["report"]])
def test_commands_before_any_cycle_say_so(tmp_path, args):
    result = _run(tmp_path, *args)
    assert "no cycle has run" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["cycle", "run"], "bistlab data demo"), (["cycle", "resume"], "no unfinished cycle to resume")],
)
def test_a_cycle_with_nothing_to_run_says_what_to_do_before_any_progress_bar(tmp_path, args, expected):
    result = _run(tmp_path, *args, "--horizons", "1", "--trials", "1")
    assert result.exit_code == 1
    assert expected in result.output
    assert "━" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("bad", ["1,x", ",", "0"])
def test_bad_horizons_are_rejected_with_the_rule(tmp_path, bad):
    result = _run(tmp_path, "cycle", "run", "--horizons", bad, "--trials", "1")
    assert result.exit_code == 1
    assert "must be" in result.output
