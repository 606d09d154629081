"""Focal loss, class weights, mixup, noise and oversampling: the hand-written pieces and what they touch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bistlab.lstm.groups import DEFAULT_PARAMS
from bistlab.lstm.losses import class_weights, focal_loss, mixup, soft_targets
from bistlab.lstm.training import SplitRun, TrainSettings


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(64, 3, generator=g), torch.randint(0, 3, (64,), generator=g)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_focal_loss_at_gamma_zero_is_cross_entropy(batch, smoothing):
    logits, y = batch
    ours = focal_loss(logits, soft_targets(y, 3, smoothing=smoothing), gamma=0.0)
    torch.testing.assert_close(ours, F.cross_entropy(logits, y, label_smoothing=smoothing))


def test_focal_loss_with_weights_and_hard_targets_is_weighted_cross_entropy(batch):
    logits, y = batch
    w = torch.tensor([2.0, 0.5, 1.0])
    torch.testing.assert_close(focal_loss(logits, soft_targets(y, 3), gamma=0.0, weight=w), F.cross_entropy(logits, y, weight=w))


def test_focal_loss_down_weights_easy_examples(batch):
    logits, y = batch
    targets = soft_targets(y, 3)
    ce = focal_loss(logits, targets, gamma=0.0)
    assert focal_loss(logits, targets, gamma=2.0) < ce
    confident = F.one_hot(y, 3).float() * 8.0
    assert focal_loss(confident, targets, gamma=2.0) < 1e-3 * focal_loss(confident, targets, gamma=0.0) + 1e-6


def test_class_weights_are_inverse_frequencies_and_zero_for_absent_classes():
    w = class_weights(np.array([1, 1, 1, 2]), 3)
    assert w[0] == 0.0 and w[1] == pytest.approx(4 / (2 * 3)) and w[2] == pytest.approx(4 / 2)


def test_mixup_mixes_pairs_and_keeps_distributions(batch):
    x, y = batch
    t = soft_targets(y, 3)
    mx, mt = mixup(x, t, alpha=0.4, rng=np.random.default_rng(0), generator=torch.Generator().manual_seed(0))
    assert not torch.equal(mx, x)
    torch.testing.assert_close(mt.sum(dim=1), torch.ones(64))
    same = mixup(x, t, alpha=0.0, rng=np.random.default_rng(0), generator=torch.Generator().manual_seed(0))
    assert same[0] is x and same[1] is t


def _run(params, X, y):
    return SplitRun(0, X, y, {**DEFAULT_PARAMS, **params}, TrainSettings(epochs=1, threads=1), seed=3, n_features=X.shape[2])


@pytest.mark.parametrize("params", [
    {"use_augmentation": True, "gaussian_noise_std": 0.1, "mixup_alpha": 0.4},
    {"use_oversampling": True},
])
def test_augmentation_and_oversampling_touch_only_training_batches(params):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8, 4)).astype(np.float32)
    y = np.array([0] * 10 + [1] * 100 + [2] * 10)
    X_val = rng.normal(size=(40, 8, 4)).astype(np.float32)
    X_before, X_val_before = X.copy(), X_val.copy()
    run = _run(params, X, y)
    run.train_epoch()
    np.testing.assert_array_equal(X, X_before)  # training data itself is never changed in place
    np.testing.assert_array_equal(X_val, X_val_before)
    np.testing.assert_array_equal(run.predict(X_val), run.predict(X_val))  # evaluation has no noise or mixing
    plain = _run({"use_augmentation": False, "use_oversampling": False}, X, y)
    plain.model.load_state_dict(run.model.state_dict())
    np.testing.assert_array_equal(plain.predict(X_val), run.predict(X_val))


def test_oversampling_balances_the_classes_of_the_batches():
    X = np.zeros((300, 2, 1), dtype=np.float32)
    y = np.array([0] * 20 + [1] * 260 + [2] * 20)
    run = _run({"use_oversampling": True}, X, y)
    seen = np.concatenate([yb.numpy() for _, yb in run.loader])
    shares = np.bincount(seen, minlength=3) / seen.size
    assert len(seen) == 300 and shares.min() > 0.2
    plain = _run({"use_oversampling": False}, X, y)
    assert np.bincount(np.concatenate([yb.numpy() for _, yb in plain.loader]), minlength=3).tolist() == [20, 260, 20]
