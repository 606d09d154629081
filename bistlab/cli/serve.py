"""``bistlab serve``: the REST API and control page of the LSTM hyperopt and the cycle (FastAPI + uvicorn).

Safe by default: it listens on 127.0.0.1; any other address refuses to start without a token
(``--token`` or ``$BISTLAB_API_TOKEN``), and with a token every request needs it. FastAPI and
uvicorn are imported only when the command runs.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from bistlab.cli.common import console, current_workspace, fail
from bistlab.errors import BistlabError

__all__ = ["serve_command"]


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on. Anything but loopback (127.0.0.1, ::1, localhost) needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    token: Annotated[Optional[str], typer.Option(help="Token every request must carry (Authorization: Bearer <token>, or /?token=<token> for the page); default: $BISTLAB_API_TOKEN.", show_default=False)] = None,
    dashboard_port: Annotated[Optional[int], typer.Option(help="Also start optuna-dashboard on 127.0.0.1 at this port (every study of every cycle and hyperopt job, read-only).")] = None,
    dashboard_url: Annotated[Optional[str], typer.Option(help="Where the control page links to optuna-dashboard (default: the one --dashboard-port starts, else http://127.0.0.1:8080/ of `bistlab dashboard`).")] = None,
) -> None:
    """Serve the REST API, the control page (/: the cycle and the hyperopt jobs) and the interactive docs (/docs) until Ctrl-C."""
    from bistlab.api.security import TOKEN_ENV, check_bind  # FastAPI only when the command runs

    token = token or os.environ.get(TOKEN_ENV) or None
    try:
        check_bind(host, token)
    except BistlabError as err:
        fail(err, code=2)
    from bistlab.api.server import serve  # uvicorn only when the command runs

    ws = current_workspace().ensure()
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"bistlab API on http://{shown}:{port}/ (interactive docs /docs) for workspace {ws.root}" + ("; every request needs the token" if token else "; loopback only, no token"),
        highlight=False, soft_wrap=True,
    )
    try:
        serve(ws, host=host, port=port, token=token, dashboard_url=dashboard_url, dashboard_port=dashboard_port)
    except BistlabError as err:
        fail(err)
