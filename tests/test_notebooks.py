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


def test_kernels_talk_over_socket_files_in_a_folder_of_their_own() -> None:
    from bistlab.runs.notebooks import ipc_kernel_manager

    managers = [ipc_kernel_manager()(kernel_name="python3") for _ in range(2)]
    folders = [Path(km.ip).parent for km in managers]
    assert all(km.transport == "ipc" for km in managers)  # no TCP port to lose to another connection
    assert folders[0] != folders[1] and all(f.is_dir() for f in folders)
    assert all(len(f"{km.ip}-65535") < 107 for km in managers)  # a Unix socket path's limit
    managers[0].cleanup_connection_file()  # what a kernel's shutdown calls
    assert not folders[0].exists() and folders[1].is_dir()
    managers[1].cleanup_connection_file()
