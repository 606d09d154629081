"""Losses and mixup written by hand (no well-kept library has them for several classes with soft targets).

- :func:`soft_targets`: one-hot targets with label smoothing ``eps`` (``(1 - eps)`` on the class,
  ``eps / K`` everywhere), as :func:`torch.nn.functional.cross_entropy` smooths.
- :func:`focal_loss`: ``-Σ_k w_k q_k (1 - p_k)^γ log p_k`` per sample, averaged with the weights
  ``Σ_k w_k q_k`` (PyTorch's weighted mean). At γ = 0 it is the cross-entropy; with hard targets,
  no smoothing and weights it equals ``cross_entropy(weight=w)``.
- :func:`mixup`: convex combinations of shuffled pairs of training windows and their soft targets
  with ``λ ~ Beta(α, α)`` (Zhang et al., 2018).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["soft_targets", "focal_loss", "mixup", "class_weights"]


def soft_targets(y: torch.Tensor, n_classes: int, *, smoothing: float = 0.0) -> torch.Tensor:
    """Target distributions ``(batch, n_classes)`` of class ids ``y`` with label smoothing."""
    onehot = F.one_hot(y, n_classes).to(torch.float32)
    return onehot * (1.0 - smoothing) + smoothing / n_classes


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, *, gamma: float = 0.0, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean focal loss of ``logits`` against target distributions ``targets`` (see the module docstring).

    Args:
        logits: ``(batch, K)``.
        targets: ``(batch, K)`` probabilities (:func:`soft_targets`, possibly mixed).
        gamma: focusing parameter; 0 gives the cross-entropy.
        weight: per-class weights ``(K,)``; ``None``: all 1.
    """
    logp = F.log_softmax(logits, dim=1)
    focus = (1.0 - logp.exp()).clamp(min=0.0).pow(gamma) if gamma else torch.ones_like(logp)
    w = weight.to(logits.dtype)[None, :] if weight is not None else torch.ones_like(logp)
    per_sample = -(w * targets * focus * logp).sum(dim=1)
    norm = (w * targets).sum()
    return per_sample.sum() / norm.clamp(min=1e-12)


def mixup(x: torch.Tensor, targets: torch.Tensor, *, alpha: float, rng: np.random.Generator, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each sample with a shuffled partner: ``λ x + (1 - λ) x[perm]``, targets alike.

    Args:
        x: a training batch ``(batch, ...)``.
        targets: its target distributions.
        alpha: Beta parameter; ``<= 0`` returns the batch unchanged.
        rng: draws λ (seeded per trial).
        generator: draws the permutation (seeded per trial).
    """
    if alpha <= 0 or x.shape[0] < 2:
        return x, targets
    lam = float(rng.beta(alpha, alpha))
    perm = torch.randperm(x.shape[0], generator=generator)
    return lam * x + (1.0 - lam) * x[perm], lam * targets + (1.0 - lam) * targets[perm]


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights ``n / (K_present * n_k)`` of the training labels; 0 for absent classes."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(float)
    present = counts > 0
    out = np.zeros(n_classes)
    out[present] = counts.sum() / (present.sum() * counts[present])
    return out
