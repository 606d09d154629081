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

``BISTLAB_STEP_FAULT=<step>:<SYMBOL>_<h>d`` makes that pipeline step (``hpo_step``, ``train_step``,
``evaluate_step``: :func:`step`, called at each step's start) raise for that task, as a bug in a
step would.
"""

from __future__ import annotations

import errno
import os
import signal

__all__ = ["point", "step", "FAULT_ENV", "STEP_FAULT_ENV", "KERNEL_PARENT_ENV"]

FAULT_ENV = "BISTLAB_FAULT"
STEP_FAULT_ENV = "BISTLAB_STEP_FAULT"
KERNEL_PARENT_ENV = "BISTLAB_KERNEL_PARENT"
"""Set by the cycle's driver for its notebook kernels: its pid (:mod:`bistlab.runs.kernel`); a
``kill`` fault in a kernel kills the driver too, as a crash of the machine would."""

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


def step(name: str, key: str) -> None:
    """Fail this pipeline step for this task if ``BISTLAB_STEP_FAULT`` is ``<name>:<key>``, as a
    bug in the step would (the reliability tests aim it at one task of a cycle).

    Raises:
        RuntimeError: the step and task are the ones named.
    """
    if os.environ.get(STEP_FAULT_ENV) == f"{name}:{key}":
        raise RuntimeError(f"injected fault in {name} for {key} ({STEP_FAULT_ENV})")
