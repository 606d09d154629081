"""The six parameter groups of the LSTM hyperopt, their Optuna search spaces and the fine-tune ranges.

Groups are searched in :data:`GROUP_ORDER` (DESIGN.md): each group's study fixes the earlier
groups' best values and keeps the later groups at their current values (defaults, or a base job's
best). Optuna parameter names are the training parameter names.

Units: ``learning_rate`` per optimizer step (AdamW); ``scheduler_T_0`` in epochs (cosine annealing
with warm restarts, stepped per batch); ``threshold`` a log return, ``take_profit`` and
``stop_loss`` simple returns (:mod:`bistlab.lstm.barriers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna

__all__ = [
    "GROUP_ORDER",
    "GROUPS",
    "DEFAULT_PARAMS",
    "BATCH_SIZES",
    "ParamGroup",
    "suggest_group",
    "suggest_fine_tune",
    "group_of",
]

GROUP_ORDER: tuple[str, ...] = ("learning_rate", "regularization", "class_balance", "augmentation", "scheduler", "triple_barrier")
BATCH_SIZES: tuple[int, ...] = (32, 64, 128)

DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "batch_size": 64,
    "weight_decay": 1e-4,
    "dropout": 0.2,
    "label_smoothing": 0.1,
    "focal_gamma": 2.0,
    "use_focal_loss": True,
    "use_class_weights": True,
    "use_oversampling": False,
    "use_augmentation": True,
    "gaussian_noise_std": 0.01,
    "mixup_alpha": 0.2,
    "scheduler_T_0": 2,
    "scheduler_T_mult": 1,
    "threshold": 0.005,
    "take_profit": 0.03,
    "stop_loss": 0.03,
}
"""The specification's corrected trainer defaults (class weights and focal loss on, gamma 2, label
smoothing 0.1, augmentation on) plus bistlab's small-model choices for the rest."""


def _lr(trial: optuna.trial.BaseTrial, epochs: int) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", list(BATCH_SIZES)),
    }


def _regularization(trial: optuna.trial.BaseTrial, epochs: int) -> dict[str, Any]:
    return {
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.2),
        "focal_gamma": trial.suggest_float("focal_gamma", 0.5, 3.0),
    }


def _class_balance(trial: optuna.trial.BaseTrial, epochs: int) -> dict[str, Any]:
    return {
        "use_focal_loss": trial.suggest_categorical("use_focal_loss", [True, False]),
        "use_class_weights": trial.suggest_categorical("use_class_weights", [True, False]),
        "use_oversampling": trial.suggest_categorical("use_oversampling", [True, False]),
    }


def _augmentation(trial: optuna.trial.BaseTrial, epochs: int) -> dict[str, Any]:
    return {
        "use_augmentation": trial.suggest_categorical("use_augmentation", [True, False]),
        "gaussian_noise_std": trial.suggest_float("gaussian_noise_std", 0.0, 0.1),
        "mixup_alpha": trial.suggest_float("mixup_alpha", 0.0, 0.4),
    }


def _scheduler(trial: optuna.trial.BaseTrial, epochs: int) -> dict[str, Any]:
    # T_0 below the trial's epochs, so a warm restart can happen within a trial (at most 10)
    return {
        "scheduler_T_0": trial.suggest_int("scheduler_T_0", 1, max(1, min(10, epochs - 1))),
        "scheduler_T_mult": trial.suggest_int("scheduler_T_mult", 1, 3),
    }


def _triple_barrier(trial: optuna.trial.BaseTrial, epochs: int) -> dict[str, Any]:
    return {
        "threshold": trial.suggest_float("threshold", 0.0, 0.02),
        "take_profit": trial.suggest_float("take_profit", 0.01, 0.08),
        "stop_loss": trial.suggest_float("stop_loss", 0.01, 0.08),
    }


@dataclass(frozen=True)
class ParamGroup:
    """One group: its name, its parameters and how a trial suggests them.

    Attributes:
        name: the group's name (also the suffix of its study, ``<study_name>_<name>``).
        params: the training parameters it searches.
        suggest: ``(trial, epochs) -> {param: value}`` (``epochs``: the trial's epochs, which bound
            the scheduler's first restart period).
        description: one line for reports.
    """

    name: str
    params: tuple[str, ...]
    suggest: Callable[[optuna.trial.BaseTrial, int], dict[str, Any]]
    description: str


GROUPS: dict[str, ParamGroup] = {
    "learning_rate": ParamGroup("learning_rate", ("learning_rate", "batch_size"), _lr, "AdamW learning rate (log 1e-4..1e-2) and batch size"),
    "regularization": ParamGroup(
        "regularization", ("weight_decay", "dropout", "label_smoothing", "focal_gamma"), _regularization,
        "weight decay, dropout, label smoothing, focal-loss gamma",
    ),
    "class_balance": ParamGroup(
        "class_balance", ("use_focal_loss", "use_class_weights", "use_oversampling"), _class_balance,
        "focal loss, inverse-frequency class weights, oversampling (WeightedRandomSampler)",
    ),
    "augmentation": ParamGroup(
        "augmentation", ("use_augmentation", "gaussian_noise_std", "mixup_alpha"), _augmentation,
        "Gaussian noise on the scaled inputs and mixup of training windows",
    ),
    "scheduler": ParamGroup("scheduler", ("scheduler_T_0", "scheduler_T_mult"), _scheduler, "cosine annealing with warm restarts (T_0 in epochs, T_mult)"),
    "triple_barrier": ParamGroup(
        "triple_barrier", ("threshold", "take_profit", "stop_loss"), _triple_barrier,
        "label threshold (log return), take-profit and stop-loss barriers (simple returns)",
    ),
}


def group_of(param: str) -> str:
    """The group that searches ``param``."""
    for group in GROUPS.values():
        if param in group.params:
            return group.name
    raise KeyError(param)


def suggest_group(trial: optuna.trial.BaseTrial, group: str, fixed: Mapping[str, Any], *, epochs: int = 11) -> dict[str, Any]:
    """Every training parameter for one trial of ``group``: its own suggested, the rest from
    ``fixed``; ``epochs`` (the trial's) bounds the scheduler's ``T_0`` to ``epochs − 1``."""
    return {**DEFAULT_PARAMS, **fixed, **GROUPS[group].suggest(trial, epochs)}


def _narrow_float(trial: optuna.trial.BaseTrial, name: str, center: float, *, log: bool, lo: float, hi: float, width: float) -> float:
    if log:
        low, high = max(lo, center / 2.0), min(hi, center * 2.0)
        return trial.suggest_float(name, low, max(high, low * (1 + 1e-9)), log=True)
    span = max(width * (hi - lo), 1e-9)
    low, high = max(lo, center - span), min(hi, center + span)
    return trial.suggest_float(name, low, max(high, low + 1e-12))


_FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    "learning_rate": (1e-5, 1e-1, True),
    "weight_decay": (1e-7, 1e-1, True),
    "dropout": (0.0, 0.6, False),
    "label_smoothing": (0.0, 0.3, False),
    "focal_gamma": (0.0, 5.0, False),
    "gaussian_noise_std": (0.0, 0.2, False),
    "mixup_alpha": (0.0, 1.0, False),
    "threshold": (0.0, 0.05, False),
    "take_profit": (0.002, 0.2, False),
    "stop_loss": (0.002, 0.2, False),
}


def suggest_fine_tune(trial: optuna.trial.BaseTrial, center: Mapping[str, Any]) -> dict[str, Any]:
    """All parameters jointly, each in a narrow range around ``center`` (the fine_tune mode).

    Log-scale floats (learning rate, weight decay) within a factor 2; other floats within ±10 % of
    their range; integers ±1; the batch size its neighbours; on/off switches stay at ``center``.
    """
    c = {**DEFAULT_PARAMS, **center}
    out = dict(c)
    for name, (lo, hi, log) in _FLOAT_RANGES.items():
        out[name] = _narrow_float(trial, name, float(c[name]), log=log, lo=lo, hi=hi, width=0.1)
    for name in ("scheduler_T_0", "scheduler_T_mult"):
        v = int(c[name])
        out[name] = trial.suggest_int(name, max(1, v - 1), v + 1)
    i = BATCH_SIZES.index(int(c["batch_size"])) if int(c["batch_size"]) in BATCH_SIZES else 1
    out["batch_size"] = trial.suggest_categorical("batch_size", list(BATCH_SIZES[max(0, i - 1) : i + 2]))
    return out

