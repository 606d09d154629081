"""The FastAPI app of the LSTM hyperopt and the cycle's status: the REST API, the control page,
the interactive docs and their static files.

:func:`create_app` builds it for one workspace. Endpoints (every hyperopt answer carries ``job_id``,
null where there is no job):

- ``POST /api/hyperopt/start`` (:class:`~bistlab.api.models.StartRequest`): validate, then start the
  job in a background worker (:func:`bistlab.lstm.jobs.start_job` with ``detach=True``); the data
  load and the measured epoch of the time estimate run in the server's thread pool, so other
  requests are answered meanwhile.
- ``POST /api/hyperopt/stop`` / ``/resume`` (optional body ``{"job_id": ...}``).
- ``GET /api/hyperopt/status``, ``/results``, ``/epochs``, ``/jobs``, ``GET /api/health``.
- ``GET /api/cycle/status``: the current cycle's tasks, statuses and verdicts (read-only,
  :func:`bistlab.runs.cycle_status.cycle_status`).
- ``GET /`` the control page (the cycle and the LSTM jobs), ``GET /docs`` Swagger UI with
  try-it-out, offline (its files from the ``swagger-ui-bundle`` package under ``/swagger-ui/``; it
  reads ``/openapi-3.0.json``, the document as OpenAPI 3.0: :mod:`bistlab.api.openapi30`),
  ``GET /openapi.json``, ``GET /reports/hyperopt_<job_id>.html`` the job's report, ``/static/...``.

Errors: :class:`~bistlab.errors.ConfigError` and :class:`~bistlab.errors.DataError` 422,
:class:`~bistlab.errors.JobNotFoundError` 404, :class:`~bistlab.errors.JobConflictError` and
:class:`~bistlab.errors.JobStateError` 409, any other :class:`~bistlab.errors.BistlabError` 400,
a malformed request 422 (pydantic's), each as :class:`~bistlab.api.models.ErrorAnswer`; 500 only
for a bug, logged with its traceback.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from plotly.offline import get_plotlyjs
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import bistlab.api.models as m
import bistlab.api.views as views
from bistlab.api.openapi30 import as_openapi_30
from bistlab.api.security import Guard, check_token
from bistlab.core.workspace import Workspace
from bistlab.errors import BistlabError, ConfigError, DataError, JobConflictError, JobNotFoundError, JobStateError
from bistlab.lstm.jobs import resume_job, start_job, stop_job

__all__ = ["DEFAULT_DASHBOARD_URL", "STATIC_DIR", "SWAGGER_FILES", "create_app", "error_status"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8080/"
"""Where ``bistlab dashboard`` listens by default; the control page links there."""

_ERRORS = {
    400: {"model": m.ErrorAnswer, "description": "Another bistlab error, with its message."},
    401: {"model": m.ErrorAnswer, "description": "The server has a token and the request did not carry it."},
    404: {"model": m.ErrorAnswer, "description": "No such job (or none at all)."},
    409: {"model": m.ErrorAnswer, "description": "A job is already running, or the job's state does not allow this (e.g. resume a completed job)."},
    422: {"model": m.ErrorAnswer, "description": "Invalid input: a malformed request (types, unknown fields) or a value the job runner refuses, with its message."},
}
PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'"
"""The pages load nothing but this server's own files (plotly draws with inline styles and data URLs)."""
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"}
SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                 "swagger-ui-bundle.js.map": "application/json", "swagger-ui.css.map": "application/json"}
"""The files of the ``swagger-ui-bundle`` package that ``/docs`` loads, served under ``/swagger-ui/``."""
JobIdQuery = Annotated[str | None, Query(pattern=m.JOB_ID_PATTERN, description="A job id (default: the latest job).")]


def error_status(err: BistlabError) -> int:
    """The HTTP status of a bistlab error (module docstring)."""
    if isinstance(err, JobNotFoundError):
        return 404
    if isinstance(err, (JobConflictError, JobStateError)):
        return 409
    if isinstance(err, (ConfigError, DataError)):
        return 422
    return 400


def _error(status: int, kind: str, message: str, *, job_id: str | None = None, detail: Any = None) -> JSONResponse:
    body = m.ErrorAnswer(job_id=job_id, error=kind, message=message, detail=detail).model_dump()
    return JSONResponse(body, status_code=status)


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """pydantic's errors in bistlab's words: "`<name>` must be <rule> but got <value>"."""
    parts = []
    for e in errors:
        name = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path")) or "body"
        msg = str(e.get("msg", ""))
        if e.get("type") == "json_invalid":
            parts.append(f"the request body must be valid JSON but got an error: {(e.get('ctx') or {}).get('error', msg)}")
            continue
        if e.get("type") == "extra_forbidden":
            rule = "absent: it is not a field of this request"
        elif e.get("type") == "string_pattern_mismatch" and name.endswith("job_id"):
            rule = "a job id YYYYMMDD_HHMMSS (optionally _2, _3...)"
        elif e.get("type") == "model_attributes_type":
            rule = "a JSON object"
        else:
            rule = msg.removeprefix("Input should be ").removeprefix("Value error, ")
        parts.append(f"`{name}` must be {rule} but got {e.get('input')!r}")
    return "; ".join(parts) or "the request is malformed"


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(BistlabError)
    async def bistlab_error(request: Request, err: BistlabError) -> JSONResponse:
        job_id = getattr(err, "job_id", None) or request.query_params.get("job_id")
        return _error(error_status(err), type(err).__name__, str(err), job_id=job_id)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        detail = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in err.errors()]
        return _error(422, "ValidationError", _validation_message(list(err.errors())), detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        message = f"no such page: {request.url.path}" if err.status_code == 404 else str(err.detail)
        return _error(err.status_code, "HTTPError", message)

    @app.middleware("http")
    async def server_bug(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """A bug answers 500 with a message and is logged here (not re-raised: the connection stays usable)."""
        try:
            return await call_next(request)
        except Exception as err:
            logger.exception("%s %s failed", request.method, request.url.path)
            return _error(500, "InternalError", f"the server failed on {request.method} {request.url.path} ({type(err).__name__}); its log has the traceback")


def _add_control_routes(app: FastAPI, ws: Workspace) -> None:
    @app.post("/api/hyperopt/start", response_model=m.StartAnswer, responses=_ERRORS, tags=["hyperopt"], summary="Start a job")
    def start(request: m.StartRequest) -> dict[str, Any]:
        """Validate the request, refuse while a job runs (409), load the data and measure one epoch for
        the time estimate, then run the job in a background worker process; answers at once with
        status `starting`."""
        answer = start_job(ws, request.to_config(), detach=True)
        views.reap(answer.pid)
        return answer.to_dict()

    @app.post("/api/hyperopt/stop", response_model=m.StopAnswer, responses=_ERRORS, tags=["hyperopt"], summary="Stop the running job (graceful)")
    def stop(body: Annotated[m.JobRef | None, Body()] = None) -> Any:
        """Ask the running job (or `job_id`) to stop at its next epoch boundary: it becomes `paused`;
        the interrupted trial runs again on resume. 409 when the job is not running."""
        answer = stop_job(ws, body.job_id if body else None).to_dict()
        return answer if answer["success"] else JSONResponse({**answer, "error": "JobStateError"}, status_code=409)

    @app.post("/api/hyperopt/resume", response_model=m.ResumeAnswer, responses=_ERRORS, tags=["hyperopt"], summary="Resume a paused or failed job")
    def resume(body: Annotated[m.JobRef | None, Body()] = None) -> dict[str, Any]:
        """Continue the latest job (or `job_id`) in a background worker: completed groups are skipped,
        interrupted trials run again first. 409 when a job runs or the job is completed."""
        answer = resume_job(ws, body.job_id if body else None, detach=True)
        views.reap(answer.pid)
        return answer.to_dict()


def _add_read_routes(app: FastAPI, ws: Workspace) -> None:
    @app.get("/api/hyperopt/status", response_model=m.StatusAnswer, responses=_ERRORS, tags=["hyperopt"], summary="A job's status and progress")
    def status(job_id: JobIdQuery = None) -> dict[str, Any]:
        """Status, current group, trial and epoch, groups completed, trials finished per group, best
        values so far, the time estimate and its refinement, the error of a failed job. Without
        `job_id`: the latest job, or `idle` when there is none."""
        return views.status_view(ws, job_id)

    @app.get("/api/hyperopt/results", response_model=m.ResultsAnswer, responses=_ERRORS, tags=["hyperopt"], summary="A job's results")
    def results(job_id: JobIdQuery = None) -> dict[str, Any]:
        """Best parameters, per-group results, fixed parameters, the holdout evaluation (once
        completed) and the report's URL."""
        return views.results_view(ws, job_id)

    @app.get("/api/hyperopt/epochs", response_model=m.EpochsAnswer, responses=_ERRORS, tags=["hyperopt"], summary="Epoch metric of the latest trials")
    def epochs(job_id: JobIdQuery = None, group: Annotated[str | None, Query(description="A group of the job (default: the current one).")] = None) -> dict[str, Any]:
        """The mean validation metric after each epoch of the latest trials of a group (the running
        trial included), for the control page's chart."""
        return views.epochs_view(ws, job_id, group)

    @app.get("/api/hyperopt/jobs", response_model=m.JobsAnswer, responses=_ERRORS, tags=["hyperopt"], summary="Every job")
    def jobs() -> dict[str, Any]:
        """Every job of the workspace, oldest first, with its status, mode, groups completed and best values."""
        return views.jobs_view(ws)

    @app.get("/api/health", response_model=m.HealthAnswer, responses=_ERRORS, tags=["server"], summary="Liveness")
    def health() -> dict[str, Any]:
        """`ok`, the running job (else the latest one) and bistlab's version."""
        return views.health_view(ws)

    @app.get("/api/cycle/status", response_model=m.CycleStatusAnswer, responses=_ERRORS, tags=["cycle"], summary="The cycle's tasks and verdicts")
    def cycle_status(cycle: Annotated[int | None, Query(ge=1, description="A cycle number (default: the current one).")] = None) -> dict[str, Any]:
        """The current cycle (or `cycle`): its status (running, paused, interrupted, completed) and
        per task its status, holdout DirHit with its masked rows and 95 % interval, and verdict
        (`usable`, `passes alone` but not after the cycle-wide false-discovery control, `not
        usable`). Read-only: `bistlab cycle run` runs cycles. `idle` when the workspace has none."""
        return views.cycle_view(ws, cycle)


@functools.lru_cache(maxsize=1)
def _plotlyjs() -> bytes:
    return get_plotlyjs().encode("utf-8")


@functools.lru_cache(maxsize=1)
def _swagger_dir() -> Path | None:
    """The folder of Swagger UI's files in the ``swagger-ui-bundle`` package; ``None`` (logged) when
    the package is missing: ``/docs`` then says so, ``/openapi.json`` still answers."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        logger.warning("/docs needs the swagger-ui-bundle package (pip install swagger-ui-bundle); /openapi.json works without it")
        return None
    return Path(str(swagger_ui_path))


def _add_page_routes(app: FastAPI, ws: Workspace, dashboard_url: str | None) -> None:
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    index = index.replace("{{DASHBOARD_URL}}", html.escape(dashboard_url or "", quote=True))
    docs = (STATIC_DIR / "docs.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def control_page() -> HTMLResponse:
        return HTMLResponse(index, headers=PAGE_HEADERS)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs_page() -> HTMLResponse:
        return HTMLResponse(docs, headers=PAGE_HEADERS)

    @app.get("/openapi-3.0.json", include_in_schema=False)
    def openapi_30() -> dict[str, Any]:
        """The OpenAPI document as 3.0, for the Swagger UI of ``/docs`` (:mod:`bistlab.api.openapi30`)."""
        return as_openapi_30(app.openapi())

    @app.get("/swagger-ui/{name}", include_in_schema=False)
    def swagger_file(name: str) -> FileResponse:
        """Swagger UI's own files, from the ``swagger-ui-bundle`` package (nothing from the network)."""
        folder = _swagger_dir()
        if name not in SWAGGER_FILES or folder is None or not (folder / name).is_file():
            raise StarletteHTTPException(404)
        return FileResponse(folder / name, media_type=SWAGGER_FILES[name], headers={"Cache-Control": "max-age=86400"})

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return Response(_plotlyjs(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """No icon (204), so a browser opening a report directly logs no failed load."""
        return Response(status_code=204)

    @app.get(views.REPORT_ROUTE, include_in_schema=False)
    def report(job_id: str) -> FileResponse:
        try:
            path = ws.hyperopt_report(job_id)
        except ConfigError:  # not a job id (a path, a traversal): no such report
            path = None
        if path is None or not path.is_file():
            raise StarletteHTTPException(404)
        return FileResponse(path, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def create_app(ws: Workspace, *, token: str | None = None, dashboard_url: str | None = DEFAULT_DASHBOARD_URL) -> FastAPI:
    """The API, control page and docs of one workspace.

    Args:
        ws: the workspace whose jobs the app starts and reads (``runs/hyperopt/``).
        token: every request must carry it (``Authorization: Bearer``, the page's cookie or
            ``?token=``); ``None``: no token, for a server on a loopback address only (the
            ``Host`` header is then checked). Callers binding elsewhere check first with
            :func:`bistlab.api.security.check_bind`.
        dashboard_url: where the control page links to optuna-dashboard (``None``: no link).

    Raises:
        ConfigError: a weak token.
    """
    check_token(token)
    ws.ensure()
    app = FastAPI(
        title="bistlab hyperopt API",
        version=metadata.version("bistlab"),
        description="Start, stop, resume and watch LSTM hyperopt jobs (specification lstm-hyperopt), and watch the current cycle's tasks and verdicts (read-only). "
        "A server with a token needs `Authorization: Bearer <token>` on every request; one without a token listens on loopback only.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    _add_handlers(app)
    _add_control_routes(app, ws)
    _add_read_routes(app, ws)
    _add_page_routes(app, ws, dashboard_url)
    app.add_middleware(Guard, token=token)
    app.state.workspace = ws
    return app
