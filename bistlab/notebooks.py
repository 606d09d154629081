"""Running the thin notebooks with papermill and exporting them to offline HTML."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bistlab.errors import BistlabError

__all__ = ["NOTEBOOKS", "notebook_dir", "execute", "NotebookError", "to_html", "setup_notebook"]

logger = logging.getLogger(__name__)

NOTEBOOKS = ("hpo", "train", "evaluate", "cycle_report")
TEMPLATES = Path(__file__).with_name("templates")


class NotebookError(BistlabError):
    """A notebook raised while papermill executed it.

    Attributes:
        notebook: the executed copy (kept, with the traceback in it).
        ename: the exception's class name inside the notebook.
        evalue: its message.
    """

    def __init__(self, notebook: Path, ename: str, evalue: str) -> None:
        self.notebook = notebook
        self.ename = ename
        self.evalue = evalue
        super().__init__(f"{ename}: {evalue} (see {notebook})")


def _exit_with_parent(poll_seconds: float = 1.0) -> None:
    """In a kernel started by bistlab (papermill), exit when the process that started it dies:
    a killed cycle must not leave a kernel running trials that nobody will collect."""
    import os
    import threading
    import time

    if not os.environ.get("BISTLAB_KERNEL_PARENT"):
        return
    parent = int(os.environ["BISTLAB_KERNEL_PARENT"])

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(70)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="bistlab-parent-watch", daemon=True).start()


def setup_notebook(*, level: int = logging.INFO) -> None:
    """Console hygiene for a notebook kernel: bistlab logs at ``level``, Optuna's per-trial lines
    off, and no warning about the missing Jupyter widgets (progress bars fall back to text).
    A kernel started by a bistlab cycle also exits when the cycle's process dies."""
    import warnings

    _exit_with_parent()
    import optuna
    from tqdm import TqdmExperimentalWarning, TqdmWarning

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("bistlab").setLevel(level)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=TqdmWarning)
    warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)


def notebook_dir() -> Path:
    """The ``notebooks/`` folder beside the ``bistlab`` package (an editable or source install)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "notebooks", here / "notebooks"):
        if (candidate / "hpo.ipynb").exists():
            return candidate
    raise BistlabError(f"`notebooks/` must sit beside the bistlab package but was not found near {here}")


def execute(name: str, output: Path, *, parameters: dict[str, Any], cwd: Path | None = None) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with papermill into ``output``.

    Raises:
        NotebookError: the notebook raised; the executed copy with the traceback is kept.
    """
    import os

    import papermill as pm

    os.environ["BISTLAB_KERNEL_PARENT"] = str(os.getpid())  # kernels inherit it: see _exit_with_parent
    output.parent.mkdir(parents=True, exist_ok=True)
    source = notebook_dir() / f"{name}.ipynb"
    try:
        pm.execute_notebook(
            str(source),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            cwd=str(cwd) if cwd else None,
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except pm.PapermillExecutionError as err:
        raise NotebookError(output, err.ename, str(err.evalue).splitlines()[0] if err.evalue else "") from err
    return output


def to_html(notebook: Path, output: Path, *, exclude_input: bool = True) -> Path:
    """Export an executed notebook to a self-contained HTML file that needs no network."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input = exclude_input
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(body, encoding="utf-8")
    return output
