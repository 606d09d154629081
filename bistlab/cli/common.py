"""What every ``bistlab`` command shares: the consoles, the workspace the root options chose, and
the one red line a :class:`~bistlab.errors.BistlabError` ends a command with (never a traceback)."""

from __future__ import annotations

import typer
from rich.console import Console

from bistlab.errors import BistlabError
from bistlab.lazy import lazy

Workspace = lazy("bistlab.core.workspace", "Workspace")  # imported on first use: `bistlab --help` stays fast

__all__ = ["console", "err_console", "fail", "current_workspace", "set_workspace"]

console = Console()
err_console = Console(stderr=True)

_chosen: list[Workspace] = []


def set_workspace(ws: Workspace) -> None:
    """Record the workspace the root options named (``bistlab --workspace ...``)."""
    _chosen[:] = [ws]


def current_workspace() -> Workspace:
    """The command's workspace (the current folder when no root option ran, e.g. in tests)."""
    return _chosen[0] if _chosen else Workspace.from_env()


def fail(err: BistlabError, *, code: int = 1) -> None:
    """End the command with one red line naming what is wrong."""
    err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code) from err
