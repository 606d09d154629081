"""One optuna-dashboard for every study bistlab keeps: every cycle's task studies and every LSTM
hyperopt job's group studies, live, read-only, with stable URLs.

bistlab keeps one study file per cycle study (a journal file ``studies/cycle_<N>/<task>.log``, or
the SQLite file ``<task>.db`` of an older cycle; or all of them in the storage named by
``BISTLAB_OPTUNA_URL``) and one per hyperopt group study
(``runs/hyperopt/<job_id>/<study_name>_<group>.db``); optuna-dashboard shows one storage.
:class:`CombinedStorage` is a live, read-only union of them: no copy is made, a trial finished a
second ago is there on the next refresh, and studies that appear later (the next task of a running
cycle, a new cycle, the next group of a job, a newer job) are found when the study list is read
again. Studies are listed cycle by cycle, then job by job (oldest first); a job's group studies are
shown as ``<name> [job <job_id>]``.

**Stable URLs.** A study's id in the union is a hash of its shown name (:func:`stable_study_id`),
not its position in the list, so a bookmarked ``/dashboard/studies/<id>`` names the same study after
a restart, whatever studies were added or removed meanwhile. A trial's id is
``study id × TRIAL_SPACE + trial number``.

**Metric names.** A study without metric names is shown with bistlab's (:mod:`bistlab.search.objectives`):
``score (0.7·DirHit − 6·nRMSE)`` for a cycle's task, ``val_f1 (penalized)`` for an LSTM group.

**Read-only.** The storage refuses writes (:class:`~bistlab.errors.ReadOnlyStorageError`), and the
server of :func:`dashboard_server` answers every request that would change something (POST, PUT,
PATCH, DELETE: create, rename or delete a study, notes, tell) with 403 and a one-line JSON
``reason`` before optuna-dashboard sees it (:func:`read_only`); its page carries a banner saying so,
and the buttons that would only be refused are hidden.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState

from bistlab.errors import BistlabError, ConfigError, ReadOnlyStorageError
from bistlab.lstm.files import job_ids, read_state
from bistlab.core.names import group_study_name, parse_study_name
from bistlab.search.objectives import METRIC_NAMES_ATTR, cycle_study_metric_name, lstm_metric_name
from bistlab.core.state import StateFile
from bistlab.search.storage import make_storage
from bistlab.core.db_urls import JOURNAL_SUFFIX, storage_url
from bistlab.core.workspace import Workspace

__all__ = [
    "ID_SPACE",
    "TRIAL_SPACE",
    "READ_ONLY_REASON",
    "StudySource",
    "CombinedStorage",
    "stable_study_id",
    "current_cycle",
    "sources_of_cycle",
    "job_sources",
    "every_job_source",
    "combined_storage",
    "read_only",
    "dashboard_server",
    "serve_dashboard",
]

logger = logging.getLogger(__name__)

ID_SPACE = 2**31 - 1
"""Study ids of the union are in ``1 .. ID_SPACE``."""
TRIAL_SPACE = 2**21
"""Trial ids of the union are ``study id * TRIAL_SPACE + trial number`` (below 2**52: exact in JavaScript)."""
READ_ONLY_REASON = (
    "this optuna-dashboard is bistlab's read-only view of its studies: creating, renaming or deleting a study, "
    "notes and trial changes are refused; open a study's own storage (e.g. optuna-dashboard studies/cycle_1/SP500_1d.log) to change it"
)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
BANNER_SCRIPT = Path(__file__).resolve().parent / "static" / "dashboard-readonly.js"
BANNER_PATH = "/bistlab/read-only.js"
"""Where the dashboard's page loads :data:`BANNER_SCRIPT` from (same origin: its CSP allows it)."""

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class StudySource:
    """Studies of one storage to show.

    Attributes:
        url: the storage URL (:func:`bistlab.search.storage.make_storage`).
        keep: which study names of that storage to show.
        label: appended to the shown name (e.g. ``" [job 20231217_215832]"``).
        metric: the metric name of a study (by its name) that has none of its own.
    """

    url: str
    keep: Callable[[str], bool] = lambda name: True
    label: str = ""
    metric: Callable[[str], str] | None = None


@dataclass(frozen=True)
class _Entry:
    url: str
    local_id: int
    name: str
    metric: str | None


def stable_study_id(name: str) -> int:
    """The id of the study shown as ``name``: the same in every process and after every restart."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % ID_SPACE + 1


def _named(attrs: dict[str, Any], metric: str | None, directions: Sequence[StudyDirection]) -> dict[str, Any]:
    """``attrs`` with ``metric`` as the metric name when the study has none (single objective only)."""
    if metric and len(directions) == 1 and not attrs.get(METRIC_NAMES_ATTR):
        return {**attrs, METRIC_NAMES_ATTR: [metric]}
    return attrs


class CombinedStorage(BaseStorage):
    """A read-only union of the studies that ``sources()`` names, scanned again whenever the
    study list is read; ids from the shown names (module docstring).

    Args:
        sources: called for the current list of :class:`StudySource`.
    """

    def __init__(self, sources: Callable[[], Sequence[StudySource]]) -> None:
        self._sources = sources
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._entries: dict[int, _Entry] = {}

    def _id_for(self, name: str) -> int:
        """The study's id (called under the lock); a hash collision takes the next free id."""
        gid = self._ids.get(name)
        if gid is None:
            gid = stable_study_id(name)
            while gid in self._entries and self._entries[gid].name != name:
                gid = gid % ID_SPACE + 1
            self._ids[name] = gid
        return gid

    def _scan(self) -> list[tuple[int, FrozenStudy]]:
        """Every study the sources name now, with its id in the union."""
        found = []
        for src in self._sources():
            try:
                studies = make_storage(src.url).get_all_studies()
            except Exception as err:  # a file being created or a database down: show the others
                logger.warning("studies of %s not readable: %s", src.url, err)
                continue
            with self._lock:
                for study in sorted(studies, key=lambda s: s.study_name):
                    if not src.keep(study.study_name):
                        continue
                    name = study.study_name + src.label
                    gid = self._id_for(name)
                    self._entries[gid] = _Entry(src.url, study._study_id, name, src.metric(study.study_name) if src.metric else None)
                    found.append((gid, study))
        return found

    def _entry(self, study_id: int) -> tuple[BaseStorage, _Entry]:
        entry = self._entries.get(study_id)
        if entry is None:
            self._scan()
            entry = self._entries.get(study_id)
        if entry is None:
            raise KeyError(f"`study_id` must be a study of the dashboard but got {study_id}")
        return make_storage(entry.url), entry

    def _trial(self, trial: FrozenTrial, study_id: int, *, deep: bool) -> FrozenTrial:
        out = copy.deepcopy(trial) if deep else copy.copy(trial)
        out._trial_id = study_id * TRIAL_SPACE + trial.number
        return out

    # reading
    def get_all_studies(self) -> list[FrozenStudy]:
        out = []
        for gid, s in self._scan():
            entry = self._entries[gid]
            attrs = _named(s.system_attrs, entry.metric, s.directions)
            out.append(FrozenStudy(entry.name, None, s.user_attrs, attrs, gid, directions=s.directions))
        return out

    def get_study_id_from_name(self, study_name: str) -> int:
        for _ in range(2):
            for gid, entry in list(self._entries.items()):
                if entry.name == study_name:
                    return gid
            self._scan()
        raise KeyError(f"`study_name` must be a study of the dashboard but got {study_name!r}")

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._entry(study_id)[1].name

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        storage, entry = self._entry(study_id)
        return storage.get_study_directions(entry.local_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        storage, entry = self._entry(study_id)
        return storage.get_study_user_attrs(entry.local_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        storage, entry = self._entry(study_id)
        attrs = storage.get_study_system_attrs(entry.local_id)
        return _named(attrs, entry.metric, storage.get_study_directions(entry.local_id))

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        storage, entry = self._entry(study_id)
        return [self._trial(t, study_id, deep=deepcopy) for t in storage.get_all_trials(entry.local_id, deepcopy=False, states=states)]

    def get_trial(self, trial_id: int) -> FrozenTrial:
        study_id, number = divmod(int(trial_id), TRIAL_SPACE)
        storage, entry = self._entry(study_id)
        local = storage.get_trial_id_from_study_id_trial_number(entry.local_id, number)
        return self._trial(storage.get_trial(local), study_id, deep=True)

    # writing: refused
    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ReadOnlyStorageError("the dashboard's combined view of bistlab's studies is read-only: open a study's own storage to change it")

    create_new_study = delete_study = set_study_user_attr = set_study_system_attr = _refuse  # type: ignore[assignment]
    create_new_trial = set_trial_param = set_trial_state_values = set_trial_intermediate_value = _refuse  # type: ignore[assignment]
    set_trial_user_attr = set_trial_system_attr = _refuse  # type: ignore[assignment]


def current_cycle(ws: Workspace) -> int:
    """The workspace's current cycle number (0 before the first cycle)."""
    return StateFile(ws.state_file).read().cycle


def sources_of_cycle(ws: Workspace, cycle: int | None = None, *, task: str | None = None) -> list[StudySource]:
    """The task studies (``<task>_c<N>``, ``..._v<k>`` after a restart) of ``cycle``, or of every
    cycle (``None``, by cycle number), optionally of one task only."""

    def keep(name: str) -> bool:
        found = parse_study_name(name)
        return found is not None and (cycle is None or found[1] == int(cycle)) and (task is None or found[0] == task)

    if ws.optuna_url:
        return [StudySource(ws.optuna_url, keep, metric=cycle_study_metric_name)]
    folders = sorted((n, f) for n, f in ws.cycle_folders() if f.parent == ws.studies and (cycle is None or n == cycle))
    return [
        StudySource(storage_url(path), keep, metric=cycle_study_metric_name)
        for _, folder in folders for path in sorted([*folder.glob("*.db"), *folder.glob(f"*{JOURNAL_SUFFIX}")]) if task is None or path.stem == task
    ]


def job_sources(ws: Workspace, job_id: str) -> list[StudySource]:
    """The group studies of hyperopt job ``job_id`` that exist so far, in the order of its groups.

    Raises:
        JobNotFoundError: no such job.
    """
    state = read_state(ws, job_id)
    name = state.config["study_name"]
    metric = lstm_metric_name(state.config.get("primary_metric") or "val_f1")
    out = []
    for group in state.progress.groups_planned:
        path = ws.job(job_id).study(name, group)
        if path.exists():
            out.append(StudySource(storage_url(path), lambda n, wanted=group_study_name(name, group): n == wanted, f" [job {job_id}]", lambda _n, m=metric: m))
    return out


def every_job_source(ws: Workspace) -> list[StudySource]:
    """The group studies of every hyperopt job, oldest job first; a job whose state cannot be read is
    left out (logged)."""
    out: list[StudySource] = []
    for job_id in job_ids(ws):
        try:
            out += job_sources(ws, job_id)
        except (BistlabError, OSError, ValueError, KeyError) as err:
            logger.warning("the studies of hyperopt job %s are not shown: %s", job_id, err)
    return out


def combined_storage(ws: Workspace, *, cycle: int | None = None, job_id: str | None = None, task: str | None = None) -> tuple[CombinedStorage, list[str]]:
    """Every study of the cycles and of the hyperopt jobs, as one read-only storage.

    Args:
        ws: the workspace.
        cycle: only this cycle's task studies (default: every cycle's, new cycles included).
        job_id: only this hyperopt job's group studies (default: every job's, new jobs included).
        task: only this task's cycle studies (e.g. ``SP500_1d``).

    Returns:
        The storage for optuna-dashboard (:func:`dashboard_server`) and the names of the studies it holds now.

    Raises:
        ConfigError: ``task`` names no study of the cycle(s).
        JobNotFoundError: ``job_id`` names no job.
    """
    if job_id is not None:
        job_sources(ws, job_id)  # an unknown job fails here, not in the dashboard

    def sources() -> list[StudySource]:
        jobs = job_sources(ws, job_id) if job_id is not None else every_job_source(ws)
        return sources_of_cycle(ws, cycle, task=task) + jobs

    storage = CombinedStorage(sources)
    names = [s.study_name for s in storage.get_all_studies()]
    if task is not None and not any((parse_study_name(n) or ("",))[0] == task for n in names):
        where = "any cycle" if cycle is None else f"cycle {cycle}"
        raise ConfigError("task", f"a task with a study in {where}", task)
    return storage, names


def _answer(start_response: Callable[..., Any], status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
    return [body]


def _with_banner(app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The dashboard's page with the read-only banner's script added to its head."""
    seen: dict[str, Any] = {}

    def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        seen.update(status=status, headers=headers)
        return lambda data: None

    result = app({k: v for k, v in environ.items() if k != "wsgi.file_wrapper"}, keep)  # the page as bytes to edit
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    headers = [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]
    if "text/html" in dict((k.lower(), v) for k, v in headers).get("content-type", "") and b"</head>" in body:
        body = body.replace(b"</head>", f'<script defer src="{BANNER_PATH}"></script></head>'.encode(), 1)
    start_response(seen["status"], [*headers, ("Content-Length", str(len(body)))])
    return [body]


def read_only(app: WsgiApp) -> WsgiApp:
    """optuna-dashboard's WSGI ``app`` as a read-only view: every request but GET, HEAD and OPTIONS
    answered 403 with ``{"reason": READ_ONLY_REASON}``; the page loads the banner script."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", ""))
        if method not in SAFE_METHODS:
            logger.info("refused %s %s: read-only view", method, path)
            return _answer(start_response, "403 Forbidden", json.dumps({"reason": READ_ONLY_REASON}).encode(), "application/json")
        if path == BANNER_PATH:
            return _answer(start_response, "200 OK", BANNER_SCRIPT.read_bytes(), "text/javascript")
        if path.rstrip("/") == "/dashboard" or path.startswith("/dashboard/"):
            return _with_banner(app, environ, start_response)
        return app(environ, start_response)

    return wrapped


class _Server(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request (a slow plot does not hold up the study list)."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        logger.debug("optuna-dashboard: " + format, *args)


def dashboard_server(storage: BaseStorage, *, host: str = "127.0.0.1", port: int = 8080) -> WSGIServer:
    """optuna-dashboard over ``storage`` as a read-only view (:func:`read_only`), bound and ready:
    ``serve_forever()`` serves it, ``shutdown()`` ends it (from another thread)."""
    from optuna_dashboard import wsgi  # only where a dashboard is served

    server_class = _Server
    if ":" in host.strip("[]"):
        server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
    return make_server(host.strip("[]"), port, read_only(wsgi(storage)), server_class=server_class, handler_class=_QuietHandler)


def serve_dashboard(storage: BaseStorage, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve :func:`dashboard_server` until interrupted (Ctrl-C)."""
    server = dashboard_server(storage, host=host, port=port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
