"""LightGBM's family: the kept-booster regressor fits what the scikit-learn wrapper fits."""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pytest

from bistlab.models.lgbm import MAX_BIN, LightGBMRegressor, build
from bistlab.models.objectives import directional_objective

PARAMS = [
    {"n_estimators": 60, "learning_rate": 0.05, "num_leaves": 16, "max_depth": 5, "min_child_samples": 20, "subsample": 0.8, "colsample_bytree": 0.7, "reg_lambda": 0.1},
    {"n_estimators": 25, "learning_rate": 0.2, "num_leaves": 4, "max_depth": 2, "min_child_samples": 80, "subsample": 0.5, "colsample_bytree": 0.4, "reg_lambda": 5.0},
    {"n_estimators": 40},
]


def _data(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = 0.01 * np.nan_to_num(X[:, 0]) + 0.02 * rng.normal(size=n)
    return X, y, rng.normal(size=(150, 12))


def _wrapper(params: dict, *, seed: int, weight: float | None) -> lgb.LGBMRegressor:
    extra = {"objective": directional_objective(weight)} if weight is not None else {}
    return lgb.LGBMRegressor(
        **params, **extra, subsample_freq=1, random_state=seed, n_jobs=1, deterministic=True,
        force_row_wise=True, max_bin=MAX_BIN, feature_pre_filter=False, verbosity=-1,
    )


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("weight", [None, 2.0])
def test_predictions_equal_the_scikit_learn_wrappers(params: dict, weight: float | None) -> None:
    X, y, X_new = _data()
    ours = build(params, seed=7, directional_weight=weight).fit(X, y).predict(X_new)
    theirs = _wrapper(params, seed=7, weight=weight).fit(X, y).predict(X_new)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("weight", [None, 1.5])
def test_pickled_model_predicts_the_same(weight: float | None) -> None:
    X, y, X_new = _data(1)
    model = build(PARAMS[0], seed=3, directional_weight=weight).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X_new), model.predict(X_new))
    assert again.fit(X, y).predict(X_new).shape == (150,)  # a loaded model refits with its objective


@pytest.mark.parametrize(("X", "y", "word"), [
    (np.zeros((1, 3)), np.zeros(1), "at least 2 rows"),
    (np.zeros((5, 3)), np.array([0.0, np.nan, 0.1, 0.2, 0.0]), "`y` must be finite but got 1 NaN"),
    (np.zeros((5, 3)), np.zeros(4), "one label per row"),
])
def test_bad_input_is_refused_with_what_is_wrong(X: np.ndarray, y: np.ndarray, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        LightGBMRegressor({"n_estimators": 5}, seed=0).fit(X, y)


def test_predict_before_fit_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        LightGBMRegressor({"n_estimators": 5}, seed=0).predict(np.zeros((2, 3)))


def test_the_seed_changes_a_bagged_fit() -> None:
    X, y, X_new = _data(2)
    a = build(PARAMS[0], seed=1).fit(X, y).predict(X_new)
    b = build(PARAMS[0], seed=2).fit(X, y).predict(X_new)
    assert not np.array_equal(a, b)
