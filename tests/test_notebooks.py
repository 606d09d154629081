"""The committed notebooks: thin, without outputs, and never writing into the checkout by default."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bistlab.runs.notebooks import notebook_dir

NOTEBOOKS = sorted(p.name for p in notebook_dir().glob("*.ipynb"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_takes_its_workspace_from_the_environment_or_the_current_directory(name):
    nb = json.loads((notebook_dir() / name).read_text(encoding="utf-8"))
    params = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(params["source"])
    assert "workspace = None" in source and '".."' not in source, name
    assert "BISTLAB_WORKSPACE" in source


def test_jupyterlab_does_not_load_catboosts_broken_widget():
    installed = Path(sys.prefix, "share", "jupyter", "labextensions", "catboost-widget")
    if not installed.exists():
        pytest.skip("catboost's JupyterLab widget is not installed here")
    config = Path(sys.prefix, "etc", "jupyter", "labconfig", "page_config.json")
    assert config.exists(), "make setup disables catboost-widget (its module fails to load in JupyterLab 4)"
    assert json.loads(config.read_text())["disabledExtensions"].get("catboost-widget") is True
