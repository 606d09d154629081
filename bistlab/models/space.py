"""The search space: feature flags, feature parameters, model choice, model-side options and
hyperparameters.

``suggest_config`` is the one place a trial's configuration is drawn. Training rebuilds the same
configuration from the stored ``TrialConfig`` (or, equivalently, from the trial's parameters
through ``optuna.trial.FixedTrial``), so HPO and training can never disagree on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from bistlab.errors import ConfigError
from bistlab.features import FeatureContext, FeatureGroup, registry as feature_registry
from bistlab.models import ModelFamily, available_models
from bistlab.models.options import OPTIONS, ModelOption, suggest_adaptive

__all__ = ["TrialConfig", "SearchSpace", "suggest_config", "ENSEMBLE"]

ENSEMBLE = "all"


@dataclass(frozen=True)
class TrialConfig:
    """One trial's configuration.

    Attributes:
        features_enabled: name -> on/off for every flag the trial drew (feature groups and
            model-side options; always-on groups are absent).
        feature_params: name -> parameters, for the always-on groups and every flag that is on.
        model_choice: a model family's name, or ``"all"`` for the ensemble.
        model_params: family name -> hyperparameters (one family, or every family of the ensemble).
        adaptive: adaptive-learning parameters ``k`` and ``pattern_weight_scale`` (not used in HPO).
        seed: the model seed.
    """

    features_enabled: dict[str, bool]
    feature_params: dict[str, dict[str, Any]]
    model_choice: str
    model_params: dict[str, dict[str, Any]]
    adaptive: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialConfig":
        return cls(
            features_enabled=dict(data["features_enabled"]),
            feature_params={k: dict(v) for k, v in data["feature_params"].items()},
            model_choice=str(data["model_choice"]),
            model_params={k: dict(v) for k, v in data["model_params"].items()},
            adaptive=dict(data.get("adaptive") or {}),
            seed=int(data.get("seed", 0)),
        )

    def option(self, name: str) -> dict[str, Any] | None:
        """A model-side option's parameters when it is on, else ``None``."""
        return self.feature_params.get(name, {}) if self.features_enabled.get(name) else None

    @property
    def families(self) -> list[str]:
        return sorted(self.model_params)


@dataclass(frozen=True)
class SearchSpace:
    """What may be searched for one task.

    Attributes:
        groups: feature groups in the space.
        models: model families in the space.
        options: model-side options.
        removed: name -> reason, for groups and models left out (reported, never faked).
    """

    groups: dict[str, FeatureGroup]
    models: dict[str, ModelFamily]
    options: tuple[ModelOption, ...] = OPTIONS
    removed: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_task(cls, ctx: FeatureContext, *, models: Sequence[str] | None = None) -> "SearchSpace":
        """The space for one task: groups and models whose data and libraries are present.

        Args:
            ctx: the task's data.
            models: model families to search (default: every available one); ``"all"`` (the
                ensemble) is a choice whenever two or more families are in the space.

        Raises:
            ConfigError: ``models`` names a family that is unknown or unavailable here.
        """
        groups: dict[str, FeatureGroup] = {}
        removed: dict[str, str] = {}
        for name, group in feature_registry().items():
            reason = group.unavailable(ctx)
            if reason is None:
                groups[name] = group
            else:
                removed[name] = reason
        available = available_models()
        if models:
            wanted = [m for m in models if m != ENSEMBLE]
            unknown = [m for m in wanted if m not in available]
            if unknown or not wanted:
                raise ConfigError("models", f"one or more of {sorted(available)}", list(models))
            for name in sorted(set(available) - set(wanted)):
                removed[name] = "not selected for this run"
            available = {m: available[m] for m in wanted}
        models_in = available
        options = tuple(o for o in OPTIONS if o.applies(ENSEMBLE, ctx.horizon) is None)
        for o in OPTIONS:
            if o not in options:
                removed[o.name] = o.applies(ENSEMBLE, ctx.horizon) or ""
        return cls(groups=groups, models=models_in, options=options, removed=removed)

    @property
    def model_choices(self) -> list[str]:
        return sorted(self.models) + ([ENSEMBLE] if len(self.models) > 1 else [])

    def coverage_params(self, horizon: int) -> list[dict[str, Any]]:
        """A short opening design for a new study: partial parameters (model choice and flags;
        the sampler draws the rest) such that every model choice is tried and every flag is tried
        both on and off, so even a small study shows what each piece went with.

        The first entry is the plain baseline (the first family, core features only). Then each
        model choice once, the ensemble (whose own options apply to it alone) twice, with every
        other flag on, alternating from one entry to the next: consecutive entries are
        complementary, and no entry pays for every option at once.

        Args:
            horizon: the task's horizon in trading days (some options need a shorter one).
        """
        flags = [g.flag for g in self.groups.values() if g.flag is not None] + [o.flag for o in self.options]
        choices = self.model_choices
        choices = [*choices, choices[-1]]  # the ensemble (or a lone family) with both settings of its flags
        design = [self._entry(choices[0], horizon, {flag: False for flag in flags})]
        for k, choice in enumerate(choices):
            design.append(self._entry(choice, horizon, {flag: (j + k) % 2 == 0 for j, flag in enumerate(flags)}))
        return design

    def _entry(self, choice: str, horizon: int, flags: dict[str, bool]) -> dict[str, Any]:
        """Partial parameters: ``choice`` and the flags that exist for it."""
        inapplicable = {o.flag for o in self.options if o.applies(choice, horizon) is not None or o.pinned(horizon)}
        return {"model_choice": choice, **{f: on for f, on in flags.items() if f not in inapplicable}}


def suggest_config(trial: optuna.trial.BaseTrial, space: SearchSpace, *, horizon: int, seed: int = 0) -> TrialConfig:
    """Draw one configuration: flags first, each piece's parameters only when its flag is on (an
    option pinned at this horizon is on without a flag)."""
    enabled: dict[str, bool] = {}
    params: dict[str, dict[str, Any]] = {}
    for name, group in space.groups.items():
        on = True if group.flag is None else bool(trial.suggest_categorical(group.flag, [True, False]))
        if group.flag is not None:
            enabled[name] = on
        if on:
            params[name] = group.suggest(trial, horizon)
    choice = str(trial.suggest_categorical("model_choice", space.model_choices))
    families = sorted(space.models) if choice == ENSEMBLE else [choice]
    model_params = {f: space.models[f].suggest(trial, horizon) for f in families}
    for option in space.options:
        if option.applies(choice, horizon) is not None:
            continue
        on = option.pinned(horizon) or bool(trial.suggest_categorical(option.flag, [True, False]))
        enabled[option.name] = on
        if on:
            params[option.name] = option.suggest(trial, horizon)
    adaptive = suggest_adaptive(trial, horizon)
    return TrialConfig(
        features_enabled=enabled,
        feature_params=params,
        model_choice=choice,
        model_params=model_params,
        adaptive=adaptive,
        seed=seed,
    )
