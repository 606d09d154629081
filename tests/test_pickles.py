"""Pickles of the flat layout (model files, price snapshots of older cycles) read back where the classes live now."""

from __future__ import annotations

import importlib
import pickle

import pytest

from bistlab.core.pickles import MOVED_MODULES, load_pickle
from bistlab.data.splits import PurgedWalkForward


def test_a_model_file_of_the_flat_layout_loads(tmp_path):
    splitter = PurgedWalkForward(4, horizon=7)
    old = pickle.dumps(splitter, protocol=2).replace(b"bistlab.data.splits", b"bistlab.splits")  # as an older bistlab wrote it
    assert b"bistlab.data.splits" not in old
    path = tmp_path / "model.pkl"
    path.write_bytes(old)
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(old)
    loaded = load_pickle(path)
    assert type(loaded) is PurgedWalkForward and list(loaded.boundaries(1000)) == list(splitter.boundaries(1000))


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_MODULES.items()))
def test_every_moved_module_exists_where_the_map_says(old, new):
    importlib.import_module(new)
    try:
        module = importlib.import_module(old)
    except ModuleNotFoundError:
        return
    assert hasattr(module, "__path__"), f"{old} must be gone or a folder now but is a module"  # cli, evaluation: folders now
