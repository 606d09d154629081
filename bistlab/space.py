"""The search space: feature flags, feature parameters, model choice and hyperparameters.

``suggest_config`` is the one place a trial's configuration is drawn. Training rebuilds the same
configuration from the stored ``TrialConfig`` (or, equivalently, from the trial's parameters
through ``optuna.trial.FixedTrial``), so HPO and training can never disagree on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from bistlab.features import FeatureContext, FeatureGroup, registry as feature_registry
from bistlab.models import ModelFamily, available_models

__all__ = ["TrialConfig", "SearchSpace", "suggest_config"]


@dataclass(frozen=True)
class TrialConfig:
    """One trial's configuration.

    Attributes:
        features_enabled: group name -> on/off, for every group with a flag.
        feature_params: group name -> parameters (only groups that are on).
        model_choice: the model family's name.
        model_params: its hyperparameters.
        seed: the model seed.
    """

    features_enabled: dict[str, bool]
    feature_params: dict[str, dict[str, Any]]
    model_choice: str
    model_params: dict[str, Any]
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialConfig":
        return cls(
            features_enabled=dict(data["features_enabled"]),
            feature_params={k: dict(v) for k, v in data["feature_params"].items()},
            model_choice=str(data["model_choice"]),
            model_params=dict(data["model_params"]),
            seed=int(data.get("seed", 0)),
        )


@dataclass(frozen=True)
class SearchSpace:
    """What may be searched for one task.

    Attributes:
        groups: feature groups in the space.
        models: model families in the space.
        removed: name -> reason, for groups and models left out (reported, never faked).
    """

    groups: dict[str, FeatureGroup]
    models: dict[str, ModelFamily]
    removed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_task(cls, ctx: FeatureContext) -> "SearchSpace":
        """The space for one task: groups and models whose data and libraries are present."""
        groups: dict[str, FeatureGroup] = {}
        removed: dict[str, str] = {}
        for name, group in feature_registry().items():
            reason = group.unavailable(ctx)
            if reason is None:
                groups[name] = group
            else:
                removed[name] = reason
        models = available_models()
        return cls(groups=groups, models=models, removed=removed)


def suggest_config(trial: optuna.trial.BaseTrial, space: SearchSpace, *, horizon: int, seed: int = 0) -> TrialConfig:
    """Draw one configuration: flags first, each group's parameters only when its flag is on."""
    enabled: dict[str, bool] = {}
    params: dict[str, dict[str, Any]] = {}
    for name, group in space.groups.items():
        on = True if group.flag is None else bool(trial.suggest_categorical(group.flag, [True, False]))
        if group.flag is not None:
            enabled[name] = on
        if on:
            params[name] = group.suggest(trial, horizon)
    choice = str(trial.suggest_categorical("model_choice", sorted(space.models)))
    model_params = space.models[choice].suggest(trial, horizon)
    return TrialConfig(features_enabled=enabled, feature_params=params, model_choice=choice, model_params=model_params, seed=seed)
