"""Running the API: uvicorn on one address, optionally optuna-dashboard beside it.

:func:`serve` checks the loopback-or-token rule before anything binds, so a refused start
leaves no port open. optuna-dashboard started with ``dashboard_port`` listens on 127.0.0.1 only
(it has no token of its own) and shows every study of every cycle and hyperopt job, read-only
(:func:`bistlab.api.dashboard.combined_storage`, :func:`bistlab.api.dashboard.dashboard_server`).
"""

from __future__ import annotations

import logging
import threading

import uvicorn

from bistlab.api.app import DEFAULT_DASHBOARD_URL, create_app
from bistlab.api.security import check_bind
from bistlab.api.dashboard import combined_storage, dashboard_server
from bistlab.errors import ConfigError
from bistlab.core.workspace import Workspace

__all__ = ["serve", "start_dashboard_thread"]

logger = logging.getLogger(__name__)


def start_dashboard_thread(ws: Workspace, *, port: int, host: str = "127.0.0.1") -> threading.Thread:
    """optuna-dashboard over the workspace's combined studies (read-only), in a daemon thread.

    Raises:
        ConfigError: the port is taken.
    """
    storage, names = combined_storage(ws)
    try:
        server = dashboard_server(storage, host=host, port=port)
    except OSError as err:
        raise ConfigError("--dashboard-port", f"a free port on {host} ({err.strerror or err})", port) from err
    logger.info("optuna-dashboard on http://%s:%d/ with %d studies", host, port, len(names))
    thread = threading.Thread(target=server.serve_forever, name="optuna-dashboard", daemon=True)
    thread.start()
    return thread


def serve(
    ws: Workspace,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    dashboard_url: str | None = None,
    dashboard_port: int | None = None,
) -> None:
    """Serve the API and control page until interrupted.

    Args:
        ws: the workspace.
        host: the address to listen on; anything but loopback needs ``token``.
        port: the port.
        token: the token every request needs (``None``: none, loopback only).
        dashboard_url: where the page links to optuna-dashboard (default: the one started here,
            else ``bistlab dashboard``'s default address).
        dashboard_port: start optuna-dashboard on 127.0.0.1 at this port beside the API.

    Raises:
        ConfigError: a non-loopback ``host`` without a token, or a weak token.
    """
    check_bind(host, token)
    if dashboard_port is not None:
        start_dashboard_thread(ws, port=dashboard_port)
        dashboard_url = dashboard_url or f"http://127.0.0.1:{dashboard_port}/"
    app = create_app(ws, token=token, dashboard_url=dashboard_url or DEFAULT_DASHBOARD_URL)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
