"""What a notebook kernel started by bistlab sets up first: quiet logs and warnings, no shutdown
noise, and an exit when the process that started it dies (a killed cycle must not leave kernels
running trials).

Notebooks call :func:`setup_notebook` in their first cell, before importing anything that imports
optuna; this module therefore imports nothing heavy at its top.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import warnings

import pandas as pd
from tqdm import TqdmExperimentalWarning, TqdmWarning

from bistlab.core.faults import KERNEL_PARENT_ENV

__all__ = ["setup_notebook", "silence_shutdown_noise", "KERNEL_PARENT_ENV", "ShutdownNoiseFilter"]

# KERNEL_PARENT_ENV (bistlab.core.faults): set by :func:`bistlab.runs.notebooks.execute` to its process id; kernels inherit it.


def _exit_with_parent(poll_seconds: float = 1.0) -> None:
    """In a kernel started by bistlab (papermill), exit when the process that started it dies:
    a killed cycle must not leave a kernel running trials that nobody will collect."""
    if not os.environ.get(KERNEL_PARENT_ENV):
        return
    parent = int(os.environ[KERNEL_PARENT_ENV])

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


class ShutdownNoiseFilter(logging.Filter):
    """Drops the one harmless record a kernel's shutdown may log, and nothing else.

    When papermill shuts a kernel down, a control message can still be answered after ipykernel
    closed its sockets and event loops: pyzmq then logs "Uncaught exception in ZMQStream callback"
    on tornado's ``tornado.general`` logger, with ``ZMQError: Socket operation on non-socket`` (or
    ``RuntimeError: Event loop is closed``); writing that record to the kernel's closed output
    stream fails in turn, and Python's logging prints both tracebacks to the console ("Event loop
    is closed"). The notebook has finished by then and its results are written, but on a cycle's
    console it reads like a crash. Only that record is dropped: any other error still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).lower().startswith("uncaught exception in zmqstream callback"):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        loop_closed = isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"
        socket_closed = type(exc).__name__ == "ZMQError" and getattr(exc, "errno", None) == errno.ENOTSOCK
        return not (loop_closed or socket_closed)


def silence_shutdown_noise() -> None:
    """Install :class:`ShutdownNoiseFilter` on ``tornado.general`` (once)."""
    logger = logging.getLogger("tornado.general")
    if not any(isinstance(f, ShutdownNoiseFilter) for f in logger.filters):
        logger.addFilter(ShutdownNoiseFilter())


def setup_notebook(*, level: int = logging.INFO) -> None:
    """Console hygiene for a notebook kernel: bistlab logs at ``level``, Optuna's per-trial lines
    off, no warning about the missing Jupyter widgets (progress bars fall back to text), and no
    shutdown traceback (:class:`ShutdownNoiseFilter`). A kernel started by a bistlab cycle also
    exits when the cycle's process dies. Call it before
    importing optuna (or bistlab modules that import it) to keep tqdm's widget warning out."""
    _exit_with_parent()
    warnings.filterwarnings("ignore", category=TqdmWarning)  # before optuna imports tqdm.auto
    warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)
    import optuna  # only now: its import of tqdm.auto must come after the filters above

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("bistlab").setLevel(level)
    silence_shutdown_noise()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pd.set_option("display.max_colwidth", None)  # summary tables hold whole sentences
