"""Deterministic fault injection for the crash tests: ``BISTLAB_FAULT=<point>:<n>`` makes the
process SIGKILL itself the n-th time it reaches ``<point>`` (counted per process).

In a notebook kernel the cycle's driver process is killed too, as a crash of the machine would.
Points: ``state_write`` (temp file written, not yet renamed), ``after_hpo`` (HPO notebook done,
training not started), ``in_trial`` (inside an HPO trial, after its first split), ``lstm_epoch``
(after an epoch of an LSTM hyperopt trial). Unset in
normal use: then :func:`point` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

from bistlab.kernel import KERNEL_PARENT_ENV

__all__ = ["point"]

_counts: dict[str, int] = {}


def point(name: str) -> None:
    """Die here (SIGKILL, no cleanup) if ``BISTLAB_FAULT`` says so."""
    spec = os.environ.get("BISTLAB_FAULT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(nth or 1):
        parent = os.environ.get(KERNEL_PARENT_ENV)
        if parent and int(parent) != os.getpid():  # in a notebook kernel: the whole cycle dies
            os.kill(int(parent), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
