"""One optuna-dashboard for every study of a cycle and the hyperopt job's group studies.

bistlab keeps one SQLite file per cycle study (``studies/cycle_<N>/<task>.db``, or all of them in
the RDB named by ``BISTLAB_OPTUNA_URL``) and one per hyperopt group study
(``runs/hyperopt/<job_id>/<study_name>_<group>.db``); optuna-dashboard shows one storage.
:class:`CombinedStorage` is a live, read-only union of them: no copy is made, a trial finished a
second ago is there on the next refresh, and studies that appear later (the next task of a running
cycle, the next group of a job, a newer job) are found when the study list is read again. Each
study keeps a stable id of its own; a job's group studies are shown as ``<name> [job <job_id>]``.
Writes (notes, deleting a study from the dashboard) are refused with
:class:`~bistlab.errors.ReadOnlyStorageError`.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState

from bistlab.workspace import Workspace
from bistlab.errors import ConfigError, ReadOnlyStorageError
from bistlab.lstm.files import latest_job, read_state
from bistlab.state import StateFile
from bistlab.storage import make_storage

__all__ = ["StudySource", "CombinedStorage", "sources_of_cycle", "job_sources", "combined_storage", "current_cycle"]

logger = logging.getLogger(__name__)

MAX_SOURCES = 1 << 16
"""Trial ids of the union are ``local_id * MAX_SOURCES + source index``: unique, stable, decodable."""


@dataclass(frozen=True)
class StudySource:
    """Studies of one storage to show.

    Attributes:
        url: the storage URL (:func:`bistlab.storage.make_storage`).
        keep: which study names of that storage to show.
        label: appended to the shown name (e.g. ``" [job 20231217_215832]"``).
    """

    url: str
    keep: Callable[[str], bool] = lambda name: True
    label: str = ""


@dataclass(frozen=True)
class _Entry:
    source: int
    local_id: int
    name: str


class CombinedStorage(BaseStorage):
    """A read-only union of the studies that ``sources()`` names, scanned again whenever the
    study list is read.

    Args:
        sources: called for the current list of :class:`StudySource`.
    """

    def __init__(self, sources: Callable[[], Sequence[StudySource]]) -> None:
        self._sources = sources
        self._lock = threading.Lock()
        self._urls: list[str] = []
        self._ids: dict[tuple[int, int], int] = {}
        self._entries: dict[int, _Entry] = {}

    def _source_index(self, url: str) -> int:
        if url not in self._urls:
            if len(self._urls) >= MAX_SOURCES:
                raise ConfigError("study sources", f"at most {MAX_SOURCES}", len(self._urls) + 1)
            self._urls.append(url)
        return self._urls.index(url)

    def _scan(self) -> list[tuple[int, FrozenStudy]]:
        """Every study the sources name now, with its id in the union (new ones get the next id)."""
        found = []
        for src in self._sources():
            try:
                studies = make_storage(src.url).get_all_studies()
            except Exception as err:  # a file being created or a database down: show the others
                logger.warning("studies of %s not readable: %s", src.url, err)
                continue
            with self._lock:
                index = self._source_index(src.url)
                for study in studies:
                    if not src.keep(study.study_name):
                        continue
                    key = (index, study._study_id)
                    gid = self._ids.setdefault(key, len(self._ids) + 1)
                    self._entries[gid] = _Entry(index, study._study_id, study.study_name + src.label)
                    found.append((gid, study))
        return found

    def _entry(self, study_id: int) -> tuple[BaseStorage, _Entry]:
        entry = self._entries.get(study_id)
        if entry is None:
            self._scan()
            entry = self._entries.get(study_id)
        if entry is None:
            raise KeyError(f"`study_id` must be a study of the dashboard but got {study_id}")
        return make_storage(self._urls[entry.source]), entry

    def _trial(self, trial: FrozenTrial, source: int, *, deep: bool) -> FrozenTrial:
        out = copy.deepcopy(trial) if deep else copy.copy(trial)
        out._trial_id = trial._trial_id * MAX_SOURCES + source
        return out

    # reading
    def get_all_studies(self) -> list[FrozenStudy]:
        return [
            FrozenStudy(self._entries[gid].name, None, s.user_attrs, s.system_attrs, gid, directions=s.directions)
            for gid, s in self._scan()
        ]

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
        return storage.get_study_system_attrs(entry.local_id)

    def get_all_trials(self, study_id: int, deepcopy: bool = True, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        storage, entry = self._entry(study_id)
        return [self._trial(t, entry.source, deep=deepcopy) for t in storage.get_all_trials(entry.local_id, deepcopy=False, states=states)]

    def get_trial(self, trial_id: int) -> FrozenTrial:
        source, local = trial_id % MAX_SOURCES, trial_id // MAX_SOURCES
        if source >= len(self._urls):
            raise KeyError(f"`trial_id` must be a trial of the dashboard but got {trial_id}")
        return self._trial(make_storage(self._urls[source]).get_trial(local), source, deep=True)

    # writing: refused
    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ReadOnlyStorageError("the dashboard's combined view of bistlab's studies is read-only: open a study's own storage to change it")

    create_new_study = delete_study = set_study_user_attr = set_study_system_attr = _refuse  # type: ignore[assignment]
    create_new_trial = set_trial_param = set_trial_state_values = set_trial_intermediate_value = _refuse  # type: ignore[assignment]
    set_trial_user_attr = set_trial_system_attr = _refuse  # type: ignore[assignment]


def current_cycle(ws: Workspace) -> int:
    """The workspace's current cycle number (0 before the first cycle)."""
    return StateFile(ws.state_file).read().cycle


def sources_of_cycle(ws: Workspace, cycle: int, *, task: str | None = None) -> list[StudySource]:
    """The studies of ``cycle`` (``<task>_c<N>``, ``..._v<k>`` after a restart), optionally of one task only."""
    pattern = re.compile(rf"(?P<task>.+)_c{cycle}(_v\d+)?")

    def keep(name: str) -> bool:
        found = pattern.fullmatch(name)
        return bool(found) and (task is None or found.group("task") == task)

    if ws.optuna_url:
        return [StudySource(ws.optuna_url, keep)]
    folder = ws.cycle_studies_dir(cycle)
    return [StudySource(f"sqlite:///{path}", keep) for path in sorted(folder.glob("*.db")) if task is None or path.stem == task]


def job_sources(ws: Workspace, job_id: str) -> list[StudySource]:
    """The group studies of hyperopt job ``job_id`` that exist so far, in the order of its groups.

    Raises:
        JobNotFoundError: no such job.
    """
    state = read_state(ws, job_id)
    name = state["config"]["study_name"]
    out = []
    for group in (state.get("progress") or {}).get("groups_planned") or []:
        path = ws.job(job_id).study(name, group)
        if path.exists():
            out.append(StudySource(f"sqlite:///{path}", lambda n, wanted=f"{name}_{group}": n == wanted, f" [job {job_id}]"))
    return out


def combined_storage(ws: Workspace, *, cycle: int | None = None, job_id: str | None = None, task: str | None = None) -> tuple[CombinedStorage, list[str]]:
    """Every study of a cycle and a hyperopt job's group studies, as one read-only storage.

    Args:
        ws: the workspace.
        cycle: the cycle (default: the current one, read again at every scan).
        job_id: the hyperopt job (default: the latest one, read again at every scan).
        task: show this task's cycle study only (e.g. ``SP500_1d``).

    Returns:
        The storage for ``optuna_dashboard.run_server`` and the names of the studies it holds now.

    Raises:
        ConfigError: ``task`` names no study of the cycle.
        JobNotFoundError: ``job_id`` names no job.
    """
    if job_id is not None:
        job_sources(ws, job_id)  # an unknown job fails here, not in the dashboard

    def sources() -> list[StudySource]:
        number = cycle if cycle is not None else current_cycle(ws)
        job = job_id or latest_job(ws)
        return sources_of_cycle(ws, number, task=task) + (job_sources(ws, job) if job else [])

    storage = CombinedStorage(sources)
    names = [s.study_name for s in storage.get_all_studies()]
    if task is not None and not any(re.fullmatch(rf"{re.escape(task)}_c\d+(_v\d+)?", n) for n in names):
        number = cycle if cycle is not None else current_cycle(ws)
        raise ConfigError("task", f"a task with a study in cycle {number}", task)
    return storage, names
