"""The exception hierarchy: every error pickles with its fields (a worker's error reaches the driver)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from bistlab import errors

EXAMPLES = [
    errors.ConfigError("workers", "at least 1", 0),
    errors.DataError("bad file", symbol="AAA", path="/x/AAA.csv"),
    errors.InsufficientDataError(symbol="AAA", horizon=7, n_rows=80, need=100, detail="labelled rows"),
    errors.TaskError("boom", symbol="AAA", horizon=1, stage="training"),
    errors.SelectionError("no trial", study_name="AAA_1d_c1"),
    errors.StopRequested("stop", task="AAA_1d"),
    errors.JobStateError("completed", job_id="20260101_000000", status="completed"),
    errors.CycleLockedError("locked", pid=12, host="h", since="t"),
    errors.StateFileError("bad state", path=Path("/ws/runs/state.json")),
    errors.WorkspaceError("`runs/state.json` must be writable but got OSError: [Errno 28] No space left on device", path=Path("/ws/runs")),
    errors.StorageLockedError("locked", storage="sqlite:///x.db"),
    errors.NotebookError(Path("/ws/runs/hpo.ipynb"), "ValueError", "bad", cell=3, source="x = 1"),
    errors.JobConflictError("running", job_id="20260101_000000", pid=7),
    errors.JobNotFoundError("no job", job_id="19990101_000000"),
]


@pytest.mark.parametrize("err", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_error_pickles_with_its_message_and_fields(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.__dict__ == err.__dict__


def test_every_error_class_is_covered():
    covered = {type(e) for e in EXAMPLES}
    declared = {getattr(errors, name) for name in errors.__all__} - {errors.BistlabError}
    simple = {c for c in declared if c.__init__ is Exception.__init__ or c.__init__ is errors.DataError.__init__}
    assert declared - covered - simple == set()
