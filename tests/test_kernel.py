"""A notebook kernel's setup: the harmless shutdown traceback of a kernel never reaches the console,
and every other error still does."""

from __future__ import annotations

import subprocess
import sys
import textwrap

NOISE = "Uncaught exception in ZMQStream callback"

_KERNEL = textwrap.dedent(
    """
    import errno
    import logging

    import zmq

    from bistlab.runs.kernel import setup_notebook

    setup_notebook()
    log = logging.getLogger("tornado.general")  # where pyzmq's ZMQStream logs its callbacks' errors
    for message, error in [
        # what a kernel's shutdown logs (seen on a cycle's console), in the two forms it takes:
        ("Uncaught exception in ZMQStream callback", zmq.error.ZMQError(errno.ENOTSOCK)),
        ("Uncaught exception in zmqstream callback", RuntimeError("Event loop is closed")),
        # near misses, which must still show:
        ("Uncaught exception in ZMQStream callback", RuntimeError("a real failure")),
        ("Uncaught exception in ZMQStream callback", zmq.error.ZMQError(errno.EAGAIN)),
        ("Uncaught exception in ZMQStream callback", ValueError("Event loop is closed")),
    ]:
        try:
            raise error
        except Exception:
            log.error(message, exc_info=True)
    """
)


def test_the_kernel_shutdown_traceback_is_silenced_and_nothing_else():
    done = subprocess.run([sys.executable, "-c", _KERNEL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "Socket operation on non-socket" not in err and "RuntimeError: Event loop is closed" not in err
    assert "zmqstream callback" not in err
    assert err.count(NOISE) == 3  # the near misses still show
    assert "RuntimeError: a real failure" in err and "ValueError: Event loop is closed" in err and "Resource temporarily unavailable" in err
