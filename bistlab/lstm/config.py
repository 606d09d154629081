"""The configuration of one LSTM hyperopt job: the specification's ``OptimizationConfig`` fields plus
the data and model settings bistlab adds (symbols, horizon, feature groups, splits, model size).

An :class:`OptimizationConfig` checks every field when it is made (``__post_init__``, as
:class:`bistlab.config.CycleConfig` does) and raises :class:`~bistlab.errors.ConfigError` with
"`<name>` must be <rule> but got <value>": an invalid configuration never exists.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from bistlab.errors import ConfigError, DataError
from bistlab.features import registry
from bistlab.lstm.groups import GROUP_ORDER
from bistlab.core.names import SYMBOL_RULE, check_symbol

__all__ = ["MODES", "PRIMARY_METRICS", "OptimizationConfig", "default_threads"]

MODES: tuple[str, ...] = ("full", "quick", "group", "fine_tune")
PRIMARY_METRICS: tuple[str, ...] = ("val_f1", "val_precision", "val_recall", "val_accuracy")


def default_threads() -> int:
    """Torch threads per job: the machine's cores, at most 4 (small LSTMs gain little beyond)."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class OptimizationConfig:
    """One hyperopt job's settings.

    The specification's fields: ``mode`` (full, quick, group, fine_tune), ``target_group`` (for
    mode group), ``epochs_per_trial``, ``max_trials_per_group`` (finished = complete or pruned
    trials per group study), ``max_total_hours`` (the job's running time across resumes),
    ``n_startup_trials`` (random trials before TPE, also the pruner's startup), ``n_warmup_steps``
    (epochs before the pruner may prune), ``pruning_percentile``, ``primary_metric``,
    ``convergence_patience`` / ``convergence_threshold`` (a group stops when its best value has
    not improved by more than the threshold for that many finished trials), ``use_mlflow``,
    ``seed``, ``study_name``.

    bistlab's: ``symbols`` (``()`` = every symbol of the price store), ``horizon`` (h, trading
    days: the vertical barrier and the purge), ``feature_groups`` (extra feature groups beside the
    always-on core), ``n_splits`` (purged walk-forward splits), ``sequence_length`` (rows per
    window), ``hidden_size``, ``num_layers``, ``early_stopping_patience`` (epochs without a better
    validation metric before a split stops; its best epoch is restored), ``num_threads`` (torch
    threads; fixed per job so a CPU run repeats exactly), ``base_job`` (a job id whose best
    parameters fix the groups a quick or group run does not search; fine_tune defaults to the
    latest completed job), ``device`` (``"auto"``: cuda when available, else cpu),
    ``seed_repeats`` (after a group's trials, its incumbent is trained again with this many other
    seeds: the spread of its values is the noise a group's improvement must exceed to replace
    it; 0: not measured, every improvement counts).
    """

    mode: str = "full"
    target_group: str | None = None
    epochs_per_trial: int = 4
    max_trials_per_group: int = 15
    max_total_hours: float = 24.0
    n_startup_trials: int = 3
    n_warmup_steps: int = 2
    pruning_percentile: float = 50.0
    primary_metric: str = "val_f1"
    convergence_patience: int = 5
    convergence_threshold: float = 0.005
    use_mlflow: bool = False
    seed: int = 42
    study_name: str = "ml_hyperopt"
    symbols: tuple[str, ...] = ()
    horizon: int = 7
    feature_groups: tuple[str, ...] = ()
    n_splits: int = 3
    sequence_length: int = 20
    hidden_size: int = 32
    num_layers: int = 1
    early_stopping_patience: int = 2
    num_threads: int = field(default_factory=default_threads)
    base_job: str | None = None
    device: str = "auto"
    seed_repeats: int = 2

    def groups(self) -> tuple[str, ...]:
        """The groups this mode searches, in order (fine_tune: one joint study ``fine_tune``)."""
        if self.mode == "full":
            return GROUP_ORDER
        if self.mode == "quick":
            return ("learning_rate",)
        if self.mode == "group":
            return (str(self.target_group),)
        return ("fine_tune",)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["symbols"] = list(self.symbols)
        d["feature_groups"] = list(self.feature_groups)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OptimizationConfig":
        """From :meth:`to_dict` (or a request body); unknown keys raise ConfigError, the spec's
        ``max_total_time_hours`` is accepted for ``max_total_hours``."""
        data = dict(data)
        if "max_total_time_hours" in data:
            data.setdefault("max_total_hours", data.pop("max_total_time_hours"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError("config", f"made of the fields {', '.join(sorted(known))}", ", ".join(unknown))
        for name in ("symbols", "feature_groups"):
            if name in data and data[name] is not None:
                value = data[name]
                data[name] = tuple(s.strip() for s in value.split(",") if s.strip()) if isinstance(value, str) else tuple(value)
        return cls(**{k: v for k, v in data.items() if v is not None or k in ("target_group", "base_job")})

    def with_changes(self, **changes: Any) -> "OptimizationConfig":
        return replace(self, **changes)

    def __post_init__(self) -> None:
        """Refuse an invalid setting, naming it.

        Raises:
            ConfigError: the first invalid field, named, with its rule and value.
        """
        self._validate_choices()
        self._validate_numbers()
        self._validate_names()
        self._validate_features()

    def validate(self) -> "OptimizationConfig":
        """``self``: a configuration is checked when it is made (:meth:`__post_init__`); kept for callers of old."""
        return self

    def _validate_choices(self) -> None:
        _check_choice("mode", self.mode, MODES)
        if self.mode == "group":
            _check_choice("target_group", self.target_group, GROUP_ORDER, extra=" (mode 'group' needs one)")
        elif self.target_group is not None:
            raise ConfigError("target_group", f"empty unless mode is 'group' (mode is {self.mode!r})", self.target_group)
        _check_choice("primary_metric", self.primary_metric, PRIMARY_METRICS)

    def _validate_numbers(self) -> None:
        for name, low in (
            ("epochs_per_trial", 1), ("max_trials_per_group", 1), ("n_startup_trials", 0), ("n_warmup_steps", 0),
            ("convergence_patience", 1), ("horizon", 1), ("n_splits", 1), ("sequence_length", 1), ("hidden_size", 1),
            ("num_layers", 1), ("early_stopping_patience", 1), ("num_threads", 1),
        ):
            _check_int(name, getattr(self, name), low)
        _check_float("max_total_hours", self.max_total_hours, low=0.0, open_low=True)
        _check_float("pruning_percentile", self.pruning_percentile, low=0.0, high=100.0)
        _check_float("convergence_threshold", self.convergence_threshold, low=0.0)
        if not isinstance(self.seed_repeats, int) or not 0 <= self.seed_repeats <= 10:
            raise ConfigError("seed_repeats", "a whole number from 0 to 10", self.seed_repeats)
        _check_int("seed", self.seed, 0, 2**32 - 1)

    def _validate_names(self) -> None:
        if not isinstance(self.study_name, str) or not self.study_name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError("study_name", "letters, digits, '_' or '-'", self.study_name)
        _check_choice("device", self.device, ("auto", "cpu", "cuda"))
        if not isinstance(self.use_mlflow, bool):
            raise ConfigError("use_mlflow", "true or false", self.use_mlflow)
        for symbol in self.symbols:
            try:
                check_symbol(symbol)
            except DataError as err:
                raise ConfigError("symbols", f"symbols that each {SYMBOL_RULE}", symbol) from err

    def _validate_features(self) -> None:
        optional = sorted(name for name, g in registry().items() if g.flag is not None)
        for name in self.feature_groups:
            _check_choice("feature_groups", name, tuple(optional))


def _check_choice(name: str, value: Any, allowed: tuple[str, ...], *, extra: str = "") -> None:
    if value not in allowed:
        raise ConfigError(name, f"one of {', '.join(allowed)}{extra}", value)


MAX_INT_SETTING = 1_000_000
"""The largest value of a whole-number setting (epochs, trials, sizes...): beyond it, a typo."""


def _check_int(name: str, value: Any, low: int, high: int = MAX_INT_SETTING) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, f"a whole number >= {low} and <= {high}", value)


def _check_float(name: str, value: Any, *, low: float, high: float | None = None, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        rule = f"a number {'>' if open_low else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise ConfigError(name, rule, value)
