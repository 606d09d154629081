"""Safe by default: where the API may listen, and who may call it.

- :func:`check_bind`: a loopback address (127.0.0.1, ::1, localhost) may serve without a token;
  any other address refuses to start without one (at least :data:`MIN_TOKEN_LENGTH` characters).
- :class:`Guard` (ASGI middleware), for every request, the page, static files and the OpenAPI
  document included:
  - with a token: ``Authorization: Bearer <token>``, or the cookie the page got, or ``?token=``
    (which sets that cookie; the page's own requests then carry it); else 401. Tokens are compared
    with :func:`secrets.compare_digest`.
  - without a token (loopback only): the ``Host`` header must name a loopback host, so a web page
    of another site cannot reach the API by DNS rebinding (400 otherwise).
  - always: a request that changes something (POST) from a browser page of another origin is
    refused (403), so a page elsewhere cannot start or stop jobs through the user's browser.
  - always: a body larger than :data:`MAX_BODY_BYTES` (declared, or streamed in chunks) is refused
    (413) before any route reads it: the API's requests are a few hundred bytes.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from bistlab.errors import ConfigError

__all__ = ["MAX_BODY_BYTES", "MIN_TOKEN_LENGTH", "TOKEN_ENV", "TOKEN_RE", "is_loopback", "check_token", "check_bind", "cookie_name", "Guard"]

logger = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
TOKEN_ENV = "BISTLAB_API_TOKEN"
TOKEN_RE = re.compile(rf"[A-Za-z0-9._~+/=-]{{{MIN_TOKEN_LENGTH},}}")
"""What a token may be made of: characters safe in a header, a cookie and a query."""
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_BODY_BYTES = 64 * 1024
"""The largest request body the API reads, in bytes (a start request is under 2 KiB)."""
PAGES = ("/", "/docs")
"""Pages a person opens with ``?token=``: they are redirected to themselves without it, the cookie set."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, IPv6 with or without brackets) is this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_token(token: str | None) -> None:
    """Refuse a weak token (``None``, no token, passes).

    Raises:
        ConfigError: shorter than :data:`MIN_TOKEN_LENGTH` or with a character outside :data:`TOKEN_RE`.
    """
    if token is not None and not TOKEN_RE.fullmatch(token):
        rule = f"at least {MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 . _ ~ + / = - (e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        raise ConfigError("--token", rule, f"<hidden, {len(token)} characters>")


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token, or with a weak token anywhere.

    Raises:
        ConfigError: no token for a host other than loopback, or a weak token.
    """
    check_token(token)
    if token is None and not is_loopback(host):
        raise ConfigError("--token", f"given (or ${TOKEN_ENV}) to listen on {host}, which is not loopback (127.0.0.1, ::1, localhost)", None)


def cookie_name(port: int | None) -> str:
    """The token cookie of the server on ``port`` (cookies ignore ports: two servers on one host must not share one)."""
    return f"bistlab_token_{port or 0}"


def _host_of(value: str) -> str:
    """The host of a ``Host`` header value (``127.0.0.1:8765``, ``[::1]:8765``, ``localhost``)."""
    value = value.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware of the token, Host and Origin rules (module docstring).

    Args:
        app: the wrapped ASGI app.
        token: the token every request must present; ``None``: none (loopback only).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], *, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the API serves none: refuse before any route sees it
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _send_error(send, *refusal)
            return
        if scope["method"] not in SAFE_METHODS:
            receive = await _bounded_body(scope, receive, send, headers)
            if receive is None:
                return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if self.token is not None and "token" in query and _matches(query["token"], self.token):
            await self._with_cookie(scope, receive, send, query)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        host = headers.get("host", "")
        if self.token is None and not is_loopback(_host_of(host)):
            return 400, "HostRefused", f"`Host` must be a loopback host (127.0.0.1, localhost, ::1) on a server without a token but got {host!r}"
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin and origin != "null" and urlsplit(origin).netloc.lower() != host.lower():
            return 403, "CrossOriginRefused", f"`Origin` must be this server ({host}) for a request that changes something but got {origin!r}"
        if self.token is None:
            return None
        if not any(_matches(t, self.token) for t in _presented(scope, headers)):
            return 401, "Unauthorized", "this server needs its token: send `Authorization: Bearer <token>`, or open the page as /?token=<token>"
        return None

    async def _with_cookie(self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]) -> None:
        """Answer with the token's cookie set; a page opened with ``?token=`` is redirected to itself without it."""
        server = scope.get("server") or (None, None)
        cookie = f"{cookie_name(server[1])}={query['token']}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")
        if scope["method"] == "GET" and scope["path"] in PAGES:
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            location = scope["path"] + (f"?{rest}" if rest else "")
            await send({"type": "http.response.start", "status": 303, "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cookie(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _bounded_body(scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> Receive | None:
    """The request's body read whole (at most :data:`MAX_BODY_BYTES`) and replayed to the app; ``None``
    when it was too large or malformed and the answer (413 or 400) is already sent."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            await _send_error(send, 400, "BadRequest", f"`Content-Length` must be a whole number of bytes but got {declared[:40]!r}")
            return None
        if int(declared) > MAX_BODY_BYTES:
            await _send_error(send, 413, "BodyTooLarge", f"the request body must be at most {MAX_BODY_BYTES} bytes but got {int(declared)} (declared)")
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            await _send_error(send, 413, "BodyTooLarge", f"the request body must be at most {MAX_BODY_BYTES} bytes but got more ({size} read so far)")
            return None
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay


def _matches(presented: str, token: bytes) -> bool:
    return secrets.compare_digest(presented.encode("utf-8", "replace"), token)


def _presented(scope: Scope, headers: dict[str, str]) -> list[str]:
    """Every token the request carries: the bearer header, the cookie of this server, the ``token`` query."""
    found = []
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        found.append(value.strip())
    server = scope.get("server") or (None, None)
    wanted = cookie_name(server[1])
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == wanted and value:
            found.append(value)
    found.extend(v for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k == "token")
    return found


async def _send_error(send: Send, status: int, kind: str, message: str) -> None:
    body = json.dumps({"success": False, "job_id": None, "error": kind, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="bistlab"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    logger.info("refused %s: %s", kind, message)
