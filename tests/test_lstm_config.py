"""OptimizationConfig validation: each invalid value is a ConfigError naming its field."""

from __future__ import annotations

import pytest

from bistlab.errors import ConfigError
from bistlab.lstm.config import OptimizationConfig
from bistlab.lstm.groups import GROUP_ORDER, GROUPS, DEFAULT_PARAMS, suggest_fine_tune


@pytest.mark.parametrize(
    ("changes", "field", "shown"),
    [
        ({"mode": "turbo"}, "mode", "full, quick, group, fine_tune"),
        ({"mode": "group"}, "target_group", "learning_rate, regularization"),
        ({"mode": "group", "target_group": "optimizer"}, "target_group", "'optimizer'"),
        ({"mode": "quick", "target_group": "scheduler"}, "target_group", "unless mode is 'group'"),
        ({"epochs_per_trial": 0}, "epochs_per_trial", ">= 1"),
        ({"max_trials_per_group": -3}, "max_trials_per_group", ">= 1"),
        ({"max_total_hours": 0.0}, "max_total_hours", "> 0"),
        ({"pruning_percentile": 120.0}, "pruning_percentile", "<= 100"),
        ({"primary_metric": "val_loss"}, "primary_metric", "val_f1"),
        ({"convergence_threshold": -0.1}, "convergence_threshold", ">= 0"),
        ({"n_splits": 0}, "n_splits", ">= 1"),
        ({"horizon": 0}, "horizon", ">= 1"),
        ({"study_name": "bad name!"}, "study_name", "letters"),
        ({"feature_groups": ("core",)}, "feature_groups", "'core'"),
        ({"device": "tpu"}, "device", "auto, cpu, cuda"),
        ({"seed": 1.5}, "seed", "whole number"),
    ],
)
def test_invalid_settings_name_their_field(changes, field, shown):
    with pytest.raises(ConfigError) as info:
        OptimizationConfig(**changes).validate()
    assert info.value.name == field
    assert str(info.value).startswith(f"`{field}` must be") and shown in str(info.value)


def test_modes_pick_their_groups():
    assert OptimizationConfig(mode="full").groups() == GROUP_ORDER
    assert OptimizationConfig(mode="quick").groups() == ("learning_rate",)
    assert OptimizationConfig(mode="group", target_group="scheduler").validate().groups() == ("scheduler",)
    assert OptimizationConfig(mode="fine_tune").groups() == ("fine_tune",)


def test_round_trip_and_the_specifications_field_names():
    cfg = OptimizationConfig(mode="quick", symbols=("AAA",), seed=7)
    assert OptimizationConfig.from_dict(cfg.to_dict()) == cfg
    assert OptimizationConfig.from_dict({"max_total_time_hours": 3.0}).max_total_hours == 3.0
    assert OptimizationConfig.from_dict({"symbols": "AAA, BBB"}).symbols == ("AAA", "BBB")
    with pytest.raises(ConfigError, match="`config` must be"):
        OptimizationConfig.from_dict({"epochs": 3})


def test_every_parameter_has_a_group_and_a_default():
    owned = [p for g in GROUPS.values() for p in g.params]
    assert sorted(owned) == sorted(DEFAULT_PARAMS) and len(owned) == len(set(owned))


def test_fine_tune_ranges_stay_near_the_centre():
    import optuna

    centre = {**DEFAULT_PARAMS, "learning_rate": 3e-3, "dropout": 0.3, "use_focal_loss": False}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        params = suggest_fine_tune(study.ask(), centre)
        assert 1.5e-3 <= params["learning_rate"] <= 6e-3
        assert abs(params["dropout"] - 0.3) <= 0.06 + 1e-9
        assert params["use_focal_loss"] is False
        assert params["batch_size"] in (32, 64, 128)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"epochs_per_trial": 0}, "epochs_per_trial"), ({"mode": "group"}, "target_group"), ({"use_mlflow": "yes"}, "use_mlflow"), ({"symbols": ("a b",)}, "symbols")],
)
def test_an_invalid_configuration_is_refused_when_it_is_made(changes, field):
    with pytest.raises(ConfigError) as info:
        OptimizationConfig(**changes)
    assert info.value.name == field and str(info.value).startswith(f"`{field}` must be ") and " but got " in str(info.value)


def test_every_way_of_making_a_configuration_checks_it():
    with pytest.raises(ConfigError, match="`max_total_hours` must be a number > 0 but got -1"):
        OptimizationConfig.from_dict({"max_total_hours": -1})
    with pytest.raises(ConfigError, match="`seed_repeats` must be a whole number from 0 to 10 but got 11"):
        OptimizationConfig().with_changes(seed_repeats=11)
    cfg = OptimizationConfig(mode="quick")
    assert cfg.validate() is cfg  # the old method: the configuration is already checked
