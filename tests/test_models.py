"""Model families: each builds, fits and predicts deterministically, even on tiny inner folds."""

from __future__ import annotations

import numpy as np
import pytest

from bistlab.models import available_models


def _params(family: str) -> dict:
    common = {"n_estimators": 20, "learning_rate": 0.1}
    return {
        "lgbm": {**common, "num_leaves": 8, "max_depth": 3, "min_child_samples": 100, "subsample": 0.6, "colsample_bytree": 0.5, "reg_lambda": 1.0},
        "xgb": {**common, "max_depth": 3, "min_child_weight": 50.0, "subsample": 0.6, "colsample_bytree": 0.5, "reg_lambda": 1.0},
        "cat": {"iterations": 20, "learning_rate": 0.1, "depth": 3, "l2_leaf_reg": 3.0, "subsample": 0.6},
    }[family]


@pytest.mark.parametrize("directional_weight", [None, 2.0])
@pytest.mark.parametrize("family", sorted(available_models()))
def test_a_family_fits_fewer_rows_than_its_leaves_need(family, directional_weight):
    """An inner fold of 120 rows under min_child_samples=100 (no split possible) still fits and
    predicts finite values, instead of aborting the trial."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 8)), rng.normal(scale=0.01, size=120)
    fam = available_models()[family]
    model = fam.build(_params(family), seed=0, directional_weight=directional_weight)
    pred = np.asarray(model.fit(X, y).predict(X), dtype=float)
    assert pred.shape == (120,) and np.isfinite(pred).all()
    again = np.asarray(fam.build(_params(family), seed=0, directional_weight=directional_weight).fit(X, y).predict(X), dtype=float)
    np.testing.assert_array_equal(pred, again)
