"""The command line, as a user runs it: clear lines, no tracebacks."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bistlab.cli.main import app
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


def test_import_of_a_path_that_does_not_exist_says_so(tmp_path):
    result = _run(tmp_path, "data", "import", "/nonexistent")
    assert result.exit_code == 1
    assert "nonexistent: `path` must be an existing .csv or .parquet file or a folder of them but got '/nonexistent', which does not exist" in result.output
    assert "file type" not in result.output


def test_a_short_password_is_masked_without_eating_the_message(tmp_path):
    result = _run(tmp_path, "--db-url", "postgresql+psycopg2://bist:p@127.0.0.1:1/bist?connect_timeout=2", "data", "list")
    assert result.exit_code == 1
    assert "port 1 failed" in result.output and "bist:***@127.0.0.1" in result.output
    assert "***ort" not in result.output and ":p@" not in result.output


@pytest.fixture
def ready_ws(tmp_path):
    """A workspace with one long and one short symbol, and no cycle yet."""
    from tests.conftest import market_workspace

    return market_workspace(tmp_path / "ws", {"AAA": 300, "SHORT": 90})


BAD_PARAMETERS = {
    "zero-horizon": (["--horizons", "0"], "`horizons` must be one or more positive whole numbers"),
    "negative-horizon": (["--horizons", "1,-3"], "`horizons` must be one or more positive whole numbers"),
    "horizon-beyond-the-data": (["--horizons", "1,250"], "`horizons` must be at most 200 trading days, so that the longest series (AAA, 300 rows) keeps 100 labelled rows but got '250'"),
    "zero-trials": (["--trials", "0"], "`n_trials` must be at least 1 but got 0"),
    "negative-trials": (["--trials", "-5"], "`n_trials` must be at least 1 but got -5"),
    "unknown-model": (["--models", "lgbm,forest"], "`models` must be model families from cat, lgbm, xgb (or 'all', their ensemble) but got 'forest'"),
    "unknown-symbol": (["--symbols", "AAA,NOPE"], "`symbols` must be symbols of the price store"),
    "hostile-symbol": (["--symbols", "../../etc"], "`symbol` must match"),
    "no-symbol": (["--symbols", " , "], "`--symbols` must be one or more comma-separated symbols"),
    "zero-workers": (["--workers", "0"], "`workers` must be at least 1 but got 0"),
    "unreachable-optuna": (["--optuna-url-root", "postgresql+psycopg2://u:secret@127.0.0.1:1/optuna"], "`Optuna storage` must be reachable (OperationalError: connection to server at \"127.0.0.1\", port 1 failed"),
    "unknown-calendar": (["--env", "BISTLAB_CALENDAR=NOPE"], "`BISTLAB_CALENDAR` must be 'auto', 'none' or an exchange_calendars code such as 'XIST' but got 'NOPE'"),
}


@pytest.mark.parametrize("case", BAD_PARAMETERS, ids=list(BAD_PARAMETERS))
def test_bad_parameters_are_one_clear_line_before_any_work_starts(ready_ws, case, monkeypatch):
    args, expected = BAD_PARAMETERS[case]
    root: list[str] = []
    if args[0] == "--optuna-url-root":
        root, args = ["--optuna-url", args[1]], []
        monkeypatch.setattr("bistlab.search.storage.time.sleep", lambda seconds: None)  # (the retries' back-off)
    if args[:1] == ["--env"]:
        name, _, value = args[1].partition("=")
        monkeypatch.setenv(name, value)
        args = []
    result = runner.invoke(app, ["--workspace", str(ready_ws.root), *root, "cycle", "run", "--horizons", "1", "--trials", "1", *args])
    assert result.exit_code == 1, result.output
    assert expected in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output and "secret" not in result.output
    assert not ready_ws.state_file.exists()  # no state, not even a half-written one
    assert not list(ready_ws.runs.glob("cycle_*")) and not list(ready_ws.studies.iterdir())


@pytest.mark.parametrize(("fault", "expected"), [
    ("workspace_probe:1+:erofs", "must be a writable folder but got OSError: [Errno 30] Read-only file system"),
    ("workspace_probe:1+:enospc", "must be a writable folder but got OSError: [Errno 28] No space left on device"),
    ("state_write:1+:enospc", "runs/state.json` must be writable but got OSError: [Errno 28] No space left on device"),
], ids=["read-only", "full-before-start", "full-at-the-first-state-write"])
def test_a_read_only_or_full_workspace_fails_cleanly_and_writes_no_state(ready_ws, monkeypatch, fault, expected):
    monkeypatch.setenv("BISTLAB_FAULT", fault)
    result = _run(ready_ws.root, "cycle", "run", "--horizons", "1", "--trials", "1")
    assert result.exit_code == 1
    assert expected in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    assert not ready_ws.state_file.exists()
    assert not list(ready_ws.runs.glob("**/*.tmp")) and not list(ready_ws.runs.glob("**/.bistlab-probe-*"))


@pytest.mark.parametrize("args", [["status"], ["report"], ["cycle", "resume"], ["cycle", "run", "--horizons", "1", "--trials", "1"]])
def test_a_truncated_state_file_is_named_with_its_recovery_never_reset(ready_ws, args):
    from bistlab.runs.cycle import open_cycle
    from bistlab.core.state import StateFile

    sf = StateFile(ready_ws.state_file)
    open_cycle(sf, [("AAA", 1)])
    sf.update_task("AAA_1d", status="failed", error="boom")
    text = sf.path.read_text()
    sf.path.write_text(text[: len(text) // 2])
    result = _run(ready_ws.root, *args)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "state.json` must be the cycle state as JSON but got an unreadable file" in out and "nothing was reset" in out
    assert "state.json.bak" in out and "Traceback" not in out
    assert sf.path.read_text() == text[: len(text) // 2]


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("dirhit_threshold", -0.01, "a finite absolute log return >= 0"),
    ("dirhit_threshold", float("nan"), "a finite absolute log return >= 0"),
    ("min_mask_pct", 150.0, "a percentage from 0 to 100"),
    ("min_mask_count", -1, "a whole number >= 0"),
    ("min_valid_splits", 5, "from 1 to n_splits (4)"),
    ("holdout_fraction", 1.5, "a fraction above 0 and below 1"),
    ("holdout_min", 500, "from 1 to holdout_max (120)"),
])
def test_evaluation_thresholds_out_of_range_are_refused(field, value, rule):
    from bistlab.config import EvalSettings
    from bistlab.errors import ConfigError

    with pytest.raises(ConfigError, match=f"`{field}` must be {re.escape(rule)} but got"):
        EvalSettings(**{field: value})


@pytest.mark.parametrize(("args", "expected"), [
    (["--features", "nosuch"], "`feature_groups` must be one of"),
    (["--convergence-threshold", "-1"], "`convergence_threshold` must be a number >= 0 but got -1.0"),
    (["--horizon", "0"], "`horizon` must be a whole number >= 1 and <= 1000000 but got 0"),
    (["--max-trials-per-group", "0"], "`max_trials_per_group` must be"),
    (["--symbols", "../../etc"], "must"),
], ids=["unknown-feature", "negative-threshold", "zero-horizon", "zero-trials", "hostile-symbol"])
def test_bad_hyperopt_parameters_are_one_line_and_start_no_job(ready_ws, args, expected):
    result = _run(ready_ws.root, "hyperopt", "start", "--mode", "quick", *args)
    assert result.exit_code == 1, result.output
    assert expected in " ".join(result.output.split()) and "Traceback" not in result.output
    jobs = [p for p in ready_ws.hyperopt_dir.glob("*") if p.name != ".lock"]  # (the lock of one job at a time may stay)
    assert jobs == []


def test_status_fits_80_columns_and_says_what_its_trial_count_means(tmp_path):
    from bistlab.core.state import TaskStatus
    from tests.conftest import _market
    from tests.crafted import Crafted, craft_cycle
    from bistlab.core.workspace import Workspace

    dirhits = [[55.0, 54.0, 56.0, 53.0], [45.0, 47.0, 46.0, 44.0]]
    tasks = [
        Crafted("AAA", 1, trial_dirhits=dirhits, holdout=(27, 50, 50.0, 52.0)),
        Crafted("AAA", 7, trial_dirhits=dirhits, holdout=(60, 60, 50.0, 55.0)),
        Crafted("SHORT", 1, status=TaskStatus.SKIPPED, error="SHORT has 90 rows; a task needs 100 labelled rows"),
    ]
    ws = craft_cycle(Workspace(root=tmp_path / "ws"), tasks, prices={"AAA": _market(700, seed=1), "SHORT": _market(90, seed=2)})
    narrow = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["--workspace", str(ws.root), "status"])
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.output.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    assert "finished trials (complete or pruned) of those requested" in narrow.output
    assert "SHORT_1d: SHORT has 90 rows" in narrow.output  # a note on its own line, not folded into letters
    wide = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["--workspace", str(ws.root), "status", "--wide"])
    assert "best trial" in wide.output and "HPO %" in wide.output


def test_a_report_of_a_cycle_that_does_not_exist_is_refused(tmp_path):
    from bistlab.core.state import TaskStatus
    from bistlab.core.workspace import Workspace
    from tests.conftest import _market
    from tests.crafted import Crafted, craft_cycle

    ws = craft_cycle(Workspace(root=tmp_path / "ws"), [Crafted("SHORT", 1, status=TaskStatus.SKIPPED, error="too short")], prices={"SHORT": _market(90, seed=2)})
    result = _run(ws.root, "report", "--cycle", "9")
    assert result.exit_code == 1 and "`--cycle` must be a cycle of this workspace (1 to 1" in result.output and "9" in result.output
    assert not (ws.reports / "cycle_9.html").exists()


def test_an_unknown_base_job_is_refused_before_any_progress_bar(ready_ws):
    result = _run(ready_ws.root, "hyperopt", "start", "--mode", "group", "--target-group", "regularization", "--base-job", "19990101_000000", "--symbols", "AAA")
    assert result.exit_code == 1 and "19990101_000000" in result.output
    assert "━" not in result.output and "Traceback" not in result.output


def test_the_command_line_starts_without_the_heavy_libraries():
    import subprocess
    import sys

    code = "import sys, bistlab.cli.main; print(','.join(m for m in ('pandas', 'optuna', 'sklearn', 'lightgbm', 'torch', 'scipy') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"`bistlab --help` imports {loaded}: import them where they are used (bistlab.lazy)"
