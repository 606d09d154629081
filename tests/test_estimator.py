"""Model-side options: out-of-fold inputs, purges, and no look-ahead through the fit path."""

from __future__ import annotations

import numpy as np
import pytest

from bistlab import models as models_pkg
from bistlab.dataset import prepare_task
from bistlab.estimator import Ensemble, TaskModel, meta_learner, oof_predictions
from bistlab.evaluation import fit_model
from bistlab.models import ModelFamily
from bistlab.models.objectives import directional_loss, directional_objective
from bistlab.space import TrialConfig

LGB = {"n_estimators": 30, "learning_rate": 0.1, "num_leaves": 8, "max_depth": 3, "min_child_samples": 20, "subsample": 0.9, "colsample_bytree": 0.9, "reg_lambda": 1.0}
XGB = {"n_estimators": 30, "learning_rate": 0.1, "max_depth": 3, "min_child_weight": 1.0, "subsample": 0.9, "colsample_bytree": 0.9, "reg_lambda": 1.0}
ALL_ON = {
    "directional_loss": True,
    "seed_bagging": True,
    "smart_ensemble": True,
    "meta_stacking": True,
    "stacked_short": True,
}
ALL_PARAMS = {
    "core": {},
    "directional_loss": {"weight": 2.0},
    "seed_bagging": {"n_seeds": 2},
    "smart_ensemble": {"val_frac": 0.2},
    "meta_stacking": {"alpha": 1.0, "n_folds": 3},
    "stacked_short": {"which": "all"},
}


class Recorder:
    """A fake model: remembers the row ids (column 0) it was fit on; predicts from column 1."""

    fitted_rows: list[np.ndarray] = []

    def __init__(self, *args, **kwargs) -> None:
        pass

    def fit(self, X, y):
        Recorder.fitted_rows.append(X[:, 0].copy())
        self.mean = float(np.mean(y))
        return self

    def predict(self, X):
        return X[:, 1] * 0.01 + self.mean


@pytest.fixture
def recorder_family(monkeypatch):
    fams = dict(models_pkg.registry())
    fams["rec_a"] = ModelFamily(name="rec_a", suggest=lambda t, h: {}, build=lambda p, **k: Recorder())
    fams["rec_b"] = ModelFamily(name="rec_b", suggest=lambda t, h: {}, build=lambda p, **k: Recorder())
    monkeypatch.setattr(models_pkg, "_REGISTRY", fams)
    Recorder.fitted_rows = []
    return Recorder


@pytest.mark.parametrize("n_folds,gap", [(2, 1), (3, 7), (4, 30)])
def test_oof_predictions_come_from_models_fit_before_each_fold_less_the_gap(recorder_family, n_folds, gap):
    n = 900
    X = np.column_stack([np.arange(n), np.random.default_rng(0).normal(size=n)])
    y = np.random.default_rng(1).normal(0, 0.01, n)
    oof = oof_predictions(lambda: Recorder(), X, y, n_folds=n_folds, gap=gap)
    # every predicted row was predicted by a model whose training rows end `gap` before its fold
    test_size = n // (n_folds + 1)
    starts = [n - (n_folds - i) * test_size for i in range(n_folds)]
    fitted = [r for r in recorder_family.fitted_rows]
    assert len(fitted) == sum(1 for s in starts if s - gap >= 100)
    for rows, start in zip(fitted, [s for s in starts if s - gap >= 100]):
        assert rows.max() == start - gap - 1
        assert np.isfinite(oof[start : start + test_size]).all()
    assert np.isnan(oof[: starts[0]]).all()


def test_meta_stacking_fits_its_learner_on_out_of_fold_predictions_only(recorder_family):
    n, h = 800, 3
    X = np.column_stack([np.arange(n), np.random.default_rng(0).normal(size=n)])
    y = np.random.default_rng(1).normal(0, 0.01, n)
    config = TrialConfig(
        features_enabled={"meta_stacking": True},
        feature_params={"meta_stacking": {"alpha": 1.0, "n_folds": 3}},
        model_choice="all",
        model_params={"rec_a": {}, "rec_b": {}},
    )
    ens = Ensemble(config, horizon=h).fit(X, y)
    assert ens.meta is not None
    fits = recorder_family.fitted_rows
    # 3 folds x 2 families for the out-of-fold inputs, then one full fit per family
    inner, full = fits[:-2], fits[-2:]
    # folds start at 200, 400, 600 (test size 800 // 4); each inner fit ends h rows before its fold
    assert sorted(int(r.max()) for r in inner) == [196, 196, 396, 396, 596, 596]
    assert all(int(r.max()) == n - 1 for r in full)


def _task(frame, h):
    return prepare_task("AAA", frame, horizon=h, fingerprint="x")


@pytest.mark.parametrize("horizon", [3, 7])
def test_fit_path_with_every_option_never_reads_prices_after_the_prediction_row(make_market, horizon):
    """Cut point t: prices after t replaced → features at t and the model fit on rows whose labels
    end by t give the same prediction for row t."""
    frame = make_market(700, seed=4)
    t = 560
    altered = frame.copy()
    rng = np.random.default_rng(9)
    altered.iloc[t + 1 :, :4] = altered.iloc[t + 1 :, :4].to_numpy() * np.exp(rng.normal(0, 0.05, (len(frame) - t - 1, 1)))
    config = TrialConfig(
        features_enabled=dict(ALL_ON),
        feature_params=ALL_PARAMS,
        model_choice="all",
        model_params={"lgbm": LGB, "xgb": XGB},
    )
    preds = []
    for data in (frame, altered):
        task = _task(data, horizon)
        X = task.features(config)
        rows = np.arange(t - horizon + 1)  # labels known at t
        model = fit_model(task, config, X, rows)
        assert model.stacked_horizons == tuple(s for s in (1, 3, 7, 14) if s < horizon)
        preds.append(model.predict(X[t : t + 1])[0])
    assert preds[0] == pytest.approx(preds[1], abs=0, rel=1e-12)


def test_task_model_requires_short_labels_for_stacking():
    config = TrialConfig(features_enabled={"stacked_short": True}, feature_params={"stacked_short": {"which": "nearest"}}, model_choice="lgbm", model_params={"lgbm": LGB})
    model = TaskModel(config, horizon=7)
    assert model.stacked_horizons == (3,)
    with pytest.raises(ValueError, match="short_labels"):
        model.fit(np.zeros((300, 2)), np.zeros(300))


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_directional_objective_is_the_gradient_of_the_directional_loss(weight):
    rng = np.random.default_rng(0)
    y, p = rng.normal(0, 0.01, 50), rng.normal(0, 0.01, 50)
    grad, hess = directional_objective(weight)(y, p)
    eps = 1e-7
    for i in range(0, 50, 7):
        if abs(p[i]) < 1e-5:
            continue
        up, down = p.copy(), p.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (directional_loss(y, up, weight=weight) - directional_loss(y, down, weight=weight)) * 50 / (2 * eps)
        assert grad[i] == pytest.approx(numeric, rel=1e-4)
    assert np.all(hess >= 2.0) and np.all(hess <= 2.0 * (1 + weight))


@pytest.mark.parametrize("scale", [1e-4, 1e-2, 1.0])
def test_the_meta_learner_penalty_does_not_depend_on_the_scale_of_returns(scale):
    """Base predictions of daily log returns are tiny; the meta-learner must still follow them."""
    rng = np.random.default_rng(0)
    base = rng.normal(scale=scale, size=(1000, 2))
    y = base @ np.array([0.7, 0.3]) + rng.normal(scale=scale * 0.1, size=1000)
    for alpha, kept in ((1e-3, 0.95), (1.0, 0.4)):
        pred = meta_learner(alpha, n_rows=1000).fit(base, y).predict(base)
        ratio = np.std(pred) / np.std(y)
        assert kept <= ratio <= 1.0, (alpha, ratio)


@pytest.mark.parametrize("n", [120, 130])
def test_meta_stacking_on_a_short_window_is_skipped_with_a_reason(recorder_family, n):
    # 3 purged inner folds over n rows: the last starts at about 0.75 n, less the purge < 100 rows to fit on
    X = np.column_stack([np.arange(n), np.random.default_rng(0).normal(size=n)])
    y = np.random.default_rng(1).normal(0, 0.01, n)
    config = TrialConfig(
        features_enabled={"meta_stacking": True},
        feature_params={"meta_stacking": {"alpha": 1.0, "n_folds": 3}},
        model_choice="all",
        model_params={"rec_a": {}, "rec_b": {}},
    )
    model = TaskModel(config, horizon=5).fit(X, y)  # no "Found array with 0 sample(s)" from the scaler
    assert model.core.meta is None
    reason = model.skipped["meta_stacking"]
    assert "meta stacking skipped" in reason and "out-of-fold rows" in reason and f"{n} training rows" in reason
    assert np.isfinite(model.predict(X[:5])).all()  # the plain ensemble predicts
