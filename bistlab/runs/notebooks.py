"""Running the thin notebooks with papermill and exporting them to offline HTML.

papermill, nbformat and nbconvert are imported where they are used: importing them costs about
2 s (jsonschema's format checkers compile a grammar on import), which every ``bistlab``
command would otherwise pay, ``bistlab status`` included.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any


from bistlab.errors import BistlabError, NotebookError
from bistlab.core.faults import KERNEL_PARENT_ENV
from bistlab.runs.kernel import silence_shutdown_noise
from bistlab.report.plots import PLOTLY_MIMETYPE, spec_html

__all__ = ["NOTEBOOKS", "notebook_dir", "execute", "ipc_kernel_manager", "to_html", "notebook_css"]

logger = logging.getLogger(__name__)

NOTEBOOKS = ("hpo", "train", "evaluate", "report")
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The ``bistlab`` package folder."""
TEMPLATES = PACKAGE_ROOT / "templates"


def notebook_dir() -> Path:
    """The ``notebooks/`` folder beside the ``bistlab`` package (an editable or source install)."""
    here = PACKAGE_ROOT
    for candidate in (here.parent / "notebooks", here / "notebooks"):
        if (candidate / "hpo.ipynb").exists():
            return candidate
    raise BistlabError(f"`notebooks/` must sit beside the bistlab package but was not found near {here}")


def execute(name: str, output: Path, *, parameters: dict[str, Any], cwd: Path | None = None) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with papermill into ``output``.

    Raises:
        NotebookError: the notebook raised (naming the cell); the executed copy, run up to that
            cell and with the traceback in it, is kept for inspection.
    """
    import papermill as pm

    os.environ[KERNEL_PARENT_ENV] = str(os.getpid())  # kernels inherit it: see bistlab.runs.kernel
    silence_shutdown_noise()  # the kernels' own setup silences theirs
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
            # jupyter_client interrupts every kernel before shutting it down, and the kernel logs
            # that as an ERROR; cell errors reach us through papermill, not this log.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            kernel_manager_class=ipc_kernel_manager(),
        )
    except pm.PapermillExecutionError as err:
        evalue = str(err.evalue).splitlines()[0] if err.evalue else ""
        cause = _root_cause(err.traceback)
        code = [line for line in (err.source or "").splitlines() if line.strip() and not line.lstrip().startswith("#")]
        raise NotebookError(output, err.ename, evalue + (f" (caused by {cause})" if cause else ""), cell=err.cell_index,
                            source=code[0].strip()[:120] if code else None) from err
    return output


@functools.cache
def ipc_kernel_manager() -> type:
    """The kernel manager of bistlab's notebooks: the kernel's five sockets are Unix domain socket
    files in a private folder (ZeroMQ's ``ipc`` transport) instead of TCP ports on 127.0.0.1.

    A TCP port is chosen by binding and releasing it before the kernel binds it again; meanwhile any
    other connection of the machine (a PostgreSQL client's, another kernel's) may take it, and the
    kernel then fails to start or its heartbeat thread dies with "Address already in use". Socket
    files in a folder of its own cannot collide. The folder (under the system's temporary folder,
    short enough for the 107-byte limit of a socket path) is removed when the kernel is cleaned up.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            return os.path.join(tempfile.mkdtemp(prefix="bistlab-kernel-"), "k")

        def cleanup_connection_file(self) -> None:  # when the kernel is shut down, not restarted
            super().cleanup_connection_file()
            if self.transport == "ipc" and os.path.basename(os.path.dirname(self.ip)).startswith("bistlab-kernel-"):
                shutil.rmtree(os.path.dirname(self.ip), ignore_errors=True)

    return IPCKernelManager


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*: \S.*")


def _root_cause(traceback: list[str] | None) -> str | None:
    """From a cell's traceback, the exception the raised one was raised from (``raise ... from``,
    followed back to its start), when there is one: Optuna's "exception during the commit" raised
    from a PostgreSQL connection the server cut says what happened only through its cause.
    An exception merely being handled at the time (an implicit context) is not a cause."""
    raised: list[str] = []
    caused: list[bool] = []  # caused[i]: raised[i] was the direct cause of raised[i + 1]
    direct = False
    for entry in traceback or []:
        text = _ANSI.sub("", entry).strip()
        if "The above exception was the direct cause" in text or "During handling of the above exception" in text:
            direct = "direct cause" in text
            continue
        first = text.split("\n")[0]
        if _EXCEPTION_LINE.fullmatch(first):
            if raised:
                caused.append(direct)
            raised.append(first)
            direct = False
    start = len(raised) - 1
    while start > 0 and caused[start - 1]:
        start -= 1
    return " ".join(raised[start].split())[:240] if 0 <= start < len(raised) - 1 else None


_EXPORTERS: dict[bool, Any] = {}


def _exporter(exclude_input: bool) -> Any:
    """One HTMLExporter per setting, reused: compiling the template costs more than an export."""
    if exclude_input not in _EXPORTERS:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)])
        exporter.exclude_input = exclude_input
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        _EXPORTERS[exclude_input] = exporter
    return _EXPORTERS[exclude_input]


def _add_plotly_html(nb: Any) -> None:
    """Give figures stored as plotly's mimetype only (notebooks executed before
    :func:`bistlab.report.plots.show` emitted HTML too) an HTML representation the export can show."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            if PLOTLY_MIMETYPE in data and "text/html" not in data:
                data["text/html"] = spec_html(data[PLOTLY_MIMETYPE])


def to_html(
    notebook: Path,
    output: Path,
    *,
    exclude_input: bool = True,
    plotly_src: str | None = None,
    css_href: str | None = None,
    banner: str | None = None,
) -> Path:
    """Export an executed notebook to an HTML file that needs no network.

    Args:
        notebook: the executed ``.ipynb``.
        output: the HTML file to write.
        exclude_input: hide the code cells.
        plotly_src: a relative URL of a local plotly.js the page loads in its head (for figures
            shown with :func:`bistlab.report.plots.show`); ``None``: the page loads none (figures shown
            with :func:`bistlab.report.plots.show_embedded` carry it).
        css_href: a relative URL of a shared notebook stylesheet (:func:`notebook_css`) instead of
            inlining about 270 kB of CSS in every page.
        banner: HTML of a navigation line at the top of the page (trusted: built by bistlab).
    """
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    if plotly_src:
        _add_plotly_html(nb)
    resources = {"bistlab_plotly_src": plotly_src, "bistlab_css_href": css_href, "bistlab_banner": banner}
    body, _ = _exporter(exclude_input).from_notebook_node(nb, resources=resources)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(body, encoding="utf-8")
    return output


def notebook_css() -> str:
    """The stylesheet the offline template inlines (JupyterLab's light theme), as one text."""
    import nbformat

    body, _ = _exporter(True).from_notebook_node(nbformat.v4.new_notebook(), resources={})
    head = body[: body.index("</head>")]
    return "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", head, flags=re.S))
