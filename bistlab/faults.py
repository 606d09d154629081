"""Deterministic fault injection for the crash and fault tests: ``BISTLAB_FAULT=<point>:<n>[:<action>]``
makes the process fail the n-th time it reaches ``<point>`` (counted per process; ``<n>+``: the
n-th time and every time after).

Actions: ``kill`` (the default) SIGKILLs the process, no cleanup; in a notebook kernel the
cycle's driver process is killed too, as a crash of the machine would. ``enospc`` and ``erofs``
raise the ``OSError`` of a full or read-only disk; ``raise`` raises a ``RuntimeError``.

Points: ``state_write`` (temp file written, not yet renamed), ``after_hpo`` (HPO notebook done,
training not started), ``in_trial`` (inside an HPO trial, after its first split), ``lstm_epoch``
(after an epoch of an LSTM hyperopt trial), ``workspace_probe`` (the write test of a workspace
folder before a cycle). Unset in normal use: then :func:`point` costs one dictionary lookup.

``BISTLAB_STEP_FAULT=<step>:<SYMBOL>_<h>d`` (:func:`arm_step_fault`, called by a notebook kernel's
setup) makes that pipeline step raise inside the task's notebook, as a bug in a step would.
"""

from __future__ import annotations

import errno
import os
import signal

from bistlab.kernel import KERNEL_PARENT_ENV

__all__ = ["point", "arm_step_fault", "FAULT_ENV", "STEP_FAULT_ENV"]

FAULT_ENV = "BISTLAB_FAULT"
STEP_FAULT_ENV = "BISTLAB_STEP_FAULT"

_counts: dict[str, int] = {}
_ERRNO = {"enospc": errno.ENOSPC, "erofs": errno.EROFS}


def point(name: str) -> None:
    """Fail here (see the module docstring) if ``BISTLAB_FAULT`` says so.

    Raises:
        OSError: action ``enospc`` or ``erofs``.
        RuntimeError: action ``raise``.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    target, _, rest = spec.partition(":")
    if target != name:
        return
    nth, _, action = rest.partition(":")
    _counts[name] = _counts.get(name, 0) + 1
    first = int(nth.rstrip("+") or 1)
    if _counts[name] == first or (nth.endswith("+") and _counts[name] > first):
        _act(name, action or "kill")


def _act(name: str, action: str) -> None:
    if action in _ERRNO:
        code = _ERRNO[action]
        raise OSError(code, f"{os.strerror(code)} (injected at {name})")
    if action == "raise":
        raise RuntimeError(f"injected fault at {name}")
    parent = os.environ.get(KERNEL_PARENT_ENV)
    if parent and int(parent) != os.getpid():  # in a notebook kernel: the whole cycle dies
        os.kill(int(parent), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def arm_step_fault() -> None:
    """In a notebook kernel: make the step ``BISTLAB_STEP_FAULT`` names raise for its task.

    ``"train_step:BBB_1d"`` wraps :func:`bistlab.pipeline.train_step` so that its call for BBB at
    h = 1 raises ``RuntimeError`` (other tasks and steps run as usual). Unset: does nothing.
    """
    spec = os.environ.get(STEP_FAULT_ENV)
    if not spec:
        return
    step, _, key = spec.partition(":")
    # Imported here: only an armed kernel needs the pipeline at this point (its notebook imports it next).
    from bistlab import pipeline

    original = getattr(pipeline, step)

    def failing(ws, symbol, horizon, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - the step's own signature
        if f"{symbol}_{horizon}d" == key:
            raise RuntimeError(f"injected fault in {step} for {key} ({STEP_FAULT_ENV})")
        return original(ws, symbol, horizon, *args, **kwargs)

    setattr(pipeline, step, failing)
