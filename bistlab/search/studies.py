"""Opening an Optuna study, one way for every study of bistlab: a cycle's task study
(:func:`bistlab.search.hpo.open_study`) and an LSTM hyperopt group's study
(:func:`bistlab.lstm.optimizer.open_group_study`) to run trials in (:func:`open_study`); an existing
study to read (reports, progress views: :func:`read_study`). Every study maximizes; its pruner comes from
:mod:`bistlab.search.pruning`, its metric name from :mod:`bistlab.search.objectives`.
"""

from __future__ import annotations

import warnings

import optuna

from bistlab.search.objectives import name_metric
from bistlab.search.storage import make_storage

__all__ = ["open_study", "read_study", "tpe_sampler"]


def tpe_sampler(seed: int = 0, *, n_startup_trials: int = 5) -> optuna.samplers.TPESampler:
    """A seeded multivariate TPE sampler that groups the parameters of a conditional space."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, group=True, n_startup_trials=n_startup_trials)


def open_study(
    storage: str | optuna.storages.BaseStorage,
    study_name: str,
    *,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner | None = None,
    metric_name: str | None = None,
) -> optuna.Study:
    """Create or load a study that maximizes.

    Args:
        storage: a URL (see :func:`bistlab.search.storage.make_storage`) or a storage object.
        study_name: the study's name (:mod:`bistlab.core.names`).
        sampler: how trials are drawn.
        pruner: stops trials early (:mod:`bistlab.search.pruning`); ``None``: never.
        metric_name: the objective in words, set unless the study has one (optuna-dashboard shows it).

    Returns:
        The study.
    """
    if isinstance(storage, str):
        storage = make_storage(storage)
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction="maximize", sampler=sampler,
        pruner=pruner or optuna.pruners.NopPruner(), load_if_exists=True,
    )
    if metric_name is not None:
        name_metric(study, metric_name)
    return study


def read_study(storage: str | optuna.storages.BaseStorage, study_name: str) -> optuna.Study:
    """An existing study, to read its trials (a report, a progress view); nothing is created.

    Args:
        storage: a URL (a journal file, SQLite, PostgreSQL: :func:`bistlab.search.storage.make_storage`)
            or a storage object.
        study_name: the study's name (:mod:`bistlab.core.names`).

    Raises:
        KeyError: the storage holds no study of that name.
    """
    if isinstance(storage, str):
        storage = make_storage(storage)
    return optuna.load_study(study_name=study_name, storage=storage)
