"""The background worker of a hyperopt job: ``python -m bistlab.lstm.worker <job_dir> --lock-fd N [--resume]``.

Started by :func:`bistlab.lstm.jobs.start_job` / :func:`~bistlab.lstm.jobs.resume_job` with
``detach=True`` in a new session; it inherits the workspace's job lock (file descriptor N) and the
workspace settings through the environment (``BISTLAB_WORKSPACE``, ``BISTLAB_DB_URL``, ...). It logs
to stderr (the job's ``worker.log``). SIGTERM asks for a graceful stop, like ``bistlab hyperopt stop``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import optuna

from bistlab.core.workspace import Workspace
from bistlab.errors import BistlabError
from bistlab.core.clock import utcnow
from bistlab.lstm.files import JobLock
from bistlab.lstm.runner import run_job

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bistlab.lstm.worker", description="Run one bistlab hyperopt job.")
    parser.add_argument("job_dir", type=Path, help="runs/hyperopt/<job_id> of the workspace")
    parser.add_argument("--lock-fd", type=int, default=None, help="inherited file descriptor of the held job lock")
    parser.add_argument("--resume", action="store_true", help="continue a paused or crashed job")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the job; 0 when it completed or paused, 1 when it failed."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    job_dir = args.job_dir.resolve()
    ws = Workspace.from_env(job_dir.parents[2])
    job_id = job_dir.name
    signal.signal(signal.SIGTERM, lambda signum, frame: ws.job(job_id).stop.write_text(utcnow()))
    lock = JobLock(ws, fd=args.lock_fd) if args.lock_fd is not None else None
    try:
        state = run_job(ws, job_id, resume=args.resume, lock=lock)
    except BistlabError as err:
        logger.error("job %s failed: %s", job_id, err)
        return 1
    except Exception:
        logger.exception("job %s failed", job_id)
        return 1
    logger.info("job %s ended: %s", job_id, state.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
