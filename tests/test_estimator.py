"""Model-side options: out-of-fold inputs, purges, and no look-ahead through the fit path."""

from __future__ import annotations

import numpy as np
import pytest

from bistlab import models as models_pkg
from bistlab.evaluation.dataset import prepare_task
from bistlab.models.estimator import (
    ENSEMBLE_MAX_ROUNDS,
    MAX_CAPPED_LEARNING_RATE,
    MAX_PREDICTION_SCALE,
    Ensemble,
    TaskModel,
    capped_params,
    meta_learner,
    oof_predictions,
    prediction_scale,
)
from bistlab.evaluation.walkforward import fit_model
from bistlab.models import ModelFamily
from bistlab.models.objectives import directional_loss, directional_objective
from bistlab.models.space import TrialConfig

LGB = {"n_estimators": 30, "learning_rate": 0.1, "num_leaves": 8, "max_depth": 3, "min_child_samples": 20, "subsample": 0.9, "colsample_bytree": 0.9, "reg_lambda": 1.0}
XGB = {"n_estimators": 30, "learning_rate": 0.1, "max_depth": 3, "min_child_weight": 1.0, "subsample": 0.9, "colsample_bytree": 0.9, "reg_lambda": 1.0}
ALL_ON = {
    "directional_loss": True,
    "seed_bagging": True,
    "smart_ensemble": True,
    "meta_stacking": True,
    "stacked_short": True,
    "prediction_scale": True,
}
ALL_PARAMS = {
    "core": {},
    "directional_loss": {"weight": 2.0},
    "seed_bagging": {"n_seeds": 2},
    "smart_ensemble": {"val_frac": 0.2},
    "meta_stacking": {"alpha": 1.0, "n_folds": 3},
    "stacked_short": {"which": "all"},
    "prediction_scale": {"spread": 1.0},
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


def test_oof_predictions_learn_only_from_known_labels(recorder_family):
    # a universe task's shorter-horizon label is missing where a symbol lacks a session
    n = 900
    X = np.column_stack([np.arange(n), np.random.default_rng(0).normal(size=n)])
    y = np.random.default_rng(1).normal(0, 0.01, n)
    missing = np.arange(50, n, 7)
    y[missing] = np.nan
    oof = oof_predictions(lambda: Recorder(), X, y, n_folds=3, gap=3)
    assert recorder_family.fitted_rows
    for rows in recorder_family.fitted_rows:
        assert not np.isin(rows, missing).any()
    assert np.isfinite(oof[-225:]).all()


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
        assert model.scale >= 1.0
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


SHRUNK_LGB = {**LGB, "n_estimators": 50, "learning_rate": 0.01, "min_child_samples": 50, "reg_lambda": 10.0}


def _scaled(on: bool, spread: float = 1.0, *, choice: str = "lgbm") -> TrialConfig:
    params = {"lgbm": SHRUNK_LGB, "xgb": XGB} if choice == "all" else {"lgbm": SHRUNK_LGB}
    return TrialConfig(
        features_enabled={"prediction_scale": on},
        feature_params={"core": {}, **({"prediction_scale": {"spread": spread}} if on else {})},
        model_choice=choice,
        model_params=params,
    )


@pytest.mark.parametrize(
    ("y_size", "p_size", "spread", "expected"),
    [(0.01, 0.001, 1.0, 10.0), (0.01, 0.001, 0.5, 5.0), (0.01, 0.02, 1.0, 1.0), (0.01, 1e-6, 1.0, MAX_PREDICTION_SCALE), (0.01, 0.0, 1.0, 1.0)],
)
def test_prediction_scale_matches_the_median_sizes_and_only_widens(y_size, p_size, spread, expected):
    signs = np.resize([1.0, -1.0, 1.0, 1.0], 101)
    assert prediction_scale(y_size * signs, p_size * signs, spread=spread) == pytest.approx(expected)


def test_the_scaled_model_keeps_every_sign_and_calls_as_often_as_its_labels_move(make_market):
    task = _task(make_market(700, seed=3), 1)
    rows, test = np.arange(500), np.arange(501, 650)
    plain = fit_model(task, _scaled(False), task.features(_scaled(False)), rows)
    scaled = fit_model(task, _scaled(True), task.features(_scaled(True)), rows)
    X = task.features(_scaled(True))
    raw, out = plain.predict(X[test]), scaled.predict(X[test])
    assert plain.scale == 1.0 and 1.0 < scaled.scale <= MAX_PREDICTION_SCALE
    np.testing.assert_allclose(out, scaled.scale * raw, rtol=1e-12)
    assert (np.sign(out) == np.sign(raw)).all()
    # on its training rows the median |prediction| is the median |label| (spread 1)
    assert np.median(np.abs(scaled.predict(X[rows]))) == pytest.approx(np.median(np.abs(task.labels[rows])), rel=1e-9)
    thr = 0.005
    assert np.mean(np.abs(raw) > thr) < 0.05 < 0.3 < np.mean(np.abs(out) > thr)


def test_the_prediction_scale_is_fit_on_training_labels_only(make_market):
    frame = make_market(700, seed=5)
    rows, test = np.arange(480), np.arange(481, 600)
    altered = frame.copy()
    rng = np.random.default_rng(2)
    # prices from row 481 on change: every label of a training row (r + 1 <= 480) stays, test labels change
    altered.iloc[481:, :4] = altered.iloc[481:, :4].to_numpy() * np.exp(np.cumsum(rng.normal(0, 0.03, (len(frame) - 481, 1)), axis=0))
    fits = []
    for data in (frame, altered):
        task = _task(data, 1)
        X = task.features(_scaled(True))
        fits.append((fit_model(task, _scaled(True), X, rows), task.labels[test]))
    (first, y_first), (second, y_second) = fits
    assert not np.allclose(y_first, y_second)  # the test labels did change
    assert first.scale == second.scale > 1.0


def test_each_ensemble_member_is_scaled_by_its_own_training_factor(make_market):
    task = _task(make_market(700, seed=3), 1)
    rows = np.arange(500)
    config = _scaled(True, spread=0.8, choice="all")
    X = task.features(config)
    model = fit_model(task, config, X, rows)
    target = 0.8 * np.median(np.abs(task.labels[rows]))
    assert set(model.component_scales) == {"lgbm", "xgb"}
    for family, pred in model.component_predictions(X[rows]).items():
        scale = model.component_scales[family]
        assert scale == 1.0 or np.median(np.abs(pred)) == pytest.approx(target, rel=1e-9), family


def test_a_model_saved_before_the_prediction_scale_still_predicts(make_market):
    task = _task(make_market(400, seed=1), 1)
    X = task.features(_scaled(False))
    model = fit_model(task, _scaled(False), X, np.arange(300))
    expected = model.predict(X[300:310])
    del model.scale, model.component_scales  # a pickle from before the option existed
    np.testing.assert_array_equal(model.predict(X[300:310]), expected)


@pytest.mark.parametrize(
    "family,params,cap,expected",
    [
        ("lgbm", {"n_estimators": 200, "learning_rate": 0.05}, 50, {"n_estimators": 50, "learning_rate": 0.2}),
        ("xgb", {"n_estimators": 400, "learning_rate": 0.1}, 50, {"n_estimators": 50, "learning_rate": MAX_CAPPED_LEARNING_RATE}),
        ("cat", {"iterations": 100, "learning_rate": 0.02}, 50, {"iterations": 50, "learning_rate": 0.04}),
        ("lgbm", {"n_estimators": 50, "learning_rate": 0.05}, 50, {"n_estimators": 50, "learning_rate": 0.05}),
        ("lgbm", {"n_estimators": 300, "learning_rate": 0.05}, None, {"n_estimators": 300, "learning_rate": 0.05}),
    ],
)
def test_capped_params_cut_the_rounds_and_raise_the_learning_rate_in_proportion(family, params, cap, expected):
    drawn = dict(params)
    out = capped_params(family, params, cap)
    assert out.keys() == expected.keys()
    for key, value in expected.items():
        assert out[key] == pytest.approx(value)
    assert params == drawn  # the drawn params are not changed in place


class ParamRecorder(Recorder):
    """A Recorder that remembers the hyperparameters it was built with."""

    built: list[dict] = []

    def __init__(self, params=None, **kwargs) -> None:
        ParamRecorder.built.append(dict(params or {}))


@pytest.fixture
def round_families(monkeypatch):
    fams = dict(models_pkg.registry())
    for name in ("rnd_a", "rnd_b"):
        fams[name] = ModelFamily(name=name, suggest=lambda t, h: {}, build=lambda p, **k: ParamRecorder(p), rounds="n_estimators")
    monkeypatch.setattr(models_pkg, "_REGISTRY", fams)
    ParamRecorder.built = []
    return ParamRecorder


@pytest.mark.parametrize("horizon,capped", [(3, False), (7, True), (30, True)])
def test_every_ensemble_fit_is_capped_from_h7_and_none_below(round_families, horizon, capped):
    n = 800
    X = np.column_stack([np.arange(n), np.random.default_rng(0).normal(size=n)])
    y = np.random.default_rng(1).normal(0, 0.01, n)
    params = {"n_estimators": 300, "learning_rate": 0.01}
    on = {"seed_bagging": True, "smart_ensemble": True, "meta_stacking": True}
    config = TrialConfig(
        features_enabled=on,
        feature_params={"seed_bagging": {"n_seeds": 2}, "smart_ensemble": {"val_frac": 0.2}, "meta_stacking": {"alpha": 1.0, "n_folds": 3}},
        model_choice="all",
        model_params={"rnd_a": dict(params), "rnd_b": dict(params)},
    )
    Ensemble(config, horizon=horizon).fit(X, y)
    built = round_families.built
    assert len(built) == 2 * 1 + 2 * 3 + 2 * 2  # smart weights, out-of-fold folds, 2 seeds of each member
    rounds = {b["n_estimators"] for b in built}
    assert rounds == ({ENSEMBLE_MAX_ROUNDS} if capped else {300})
    if capped:
        assert all(b["learning_rate"] == pytest.approx(0.01 * 300 / ENSEMBLE_MAX_ROUNDS) for b in built)


def test_at_h7_short_models_are_capped_and_a_single_family_main_model_is_not(round_families):
    n = 700
    X = np.column_stack([np.arange(n), np.random.default_rng(0).normal(size=n)])
    y = np.random.default_rng(1).normal(0, 0.01, n)
    config = TrialConfig(
        features_enabled={"stacked_short": True},
        feature_params={"stacked_short": {"which": "nearest"}},
        model_choice="rnd_a",
        model_params={"rnd_a": {"n_estimators": 200, "learning_rate": 0.05}},
    )
    TaskModel(config, horizon=7).fit(X, y, short_labels={3: y})
    built = [b["n_estimators"] for b in round_families.built]
    assert built == [ENSEMBLE_MAX_ROUNDS] * 4 + [200]  # 3 out-of-fold folds and the full short model, then the main model
