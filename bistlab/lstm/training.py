"""Training of the LSTM: one split's run, the splits of a trial in lock-step, the final fit.

One :class:`SplitRun` trains one model on one split's training windows: AdamW; batches from a
seeded :class:`~torch.utils.data.RandomSampler`, or from a
:class:`~torch.utils.data.WeightedRandomSampler` with inverse class frequencies when
``use_oversampling``; focal loss (``use_focal_loss``, ``focal_gamma``; else cross-entropy) with
inverse-frequency class weights (``use_class_weights``) and label smoothing; Gaussian noise on the
scaled inputs and mixup when ``use_augmentation``; gradients clipped to norm 1;
:class:`~torch.optim.lr_scheduler.CosineAnnealingWarmRestarts` stepped per batch (``T_0`` in
epochs). After each epoch it predicts its validation windows, records the metrics
(:mod:`bistlab.lstm.metrics`), warns on mode collapse (more than 90 % of the predictions one
class), and keeps the best epoch's weights by the primary metric; after
``early_stopping_patience`` epochs without improvement it stops, and its best epoch is restored.

:func:`train_splits` runs a trial's splits epoch-major (each epoch: one epoch of every split still
training, then the mean validation metric goes to ``on_epoch``: the pruner, the stop check).
Seeds: python, numpy and torch are seeded per trial, torch runs deterministic algorithms, and each
split has its own seeded generators, so a CPU run with the same seed and thread count repeats
bit for bit.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts
from torch.utils.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler

from bistlab.lstm.barriers import CLASS_NAMES, N_CLASSES
from bistlab.lstm.losses import class_weights, focal_loss, mixup, soft_targets
from bistlab.lstm.metrics import classification_metrics, collapse_warning, evaluation_summary, f1_interval, holdout_verdict
from bistlab.lstm.model import LSTMClassifier
from bistlab.lstm.samples import LstmData, Windows
from bistlab.evaluation.dirhit import DirHit

__all__ = [
    "TrainSettings",
    "SplitRun",
    "TrialOutcome",
    "train_splits",
    "fit_final",
    "measure_epoch",
    "seed_everything",
    "resolve_device",
    "COLLAPSE_SHARE",
]

logger = logging.getLogger(__name__)

COLLAPSE_SHARE = 0.9
"""An epoch whose predictions are more than this share one class gets a mode-collapse warning."""

EpochCallback = Callable[[int, float, list[dict[str, Any]]], None]


def resolve_device(device: str = "auto") -> torch.device:
    """``cuda`` when asked for or (``"auto"``) when available, else ``cpu``."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def seed_everything(seed: int, *, threads: int | None = None) -> None:
    """Seed python, numpy and torch; deterministic torch algorithms; fixed thread count."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class TrainSettings:
    """Fixed settings of every training run of a job.

    Attributes:
        epochs: epochs per trial (the most a split trains).
        hidden_size: LSTM units.
        num_layers: LSTM layers.
        early_stopping_patience: epochs without a better primary metric before a split stops.
        primary_metric: ``val_f1``, ``val_precision``, ``val_recall`` or ``val_accuracy``.
        device: torch device name.
        threads: torch threads.
        dirhit_threshold: |log return| above which a realised move has a direction.
    """

    epochs: int = 4
    hidden_size: int = 32
    num_layers: int = 1
    early_stopping_patience: int = 2
    primary_metric: str = "val_f1"
    device: str = "cpu"
    threads: int = 1
    dirhit_threshold: float = 0.005


def _loader(X: np.ndarray, y: np.ndarray, params: Mapping[str, Any], generator: torch.Generator) -> DataLoader:
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    if params["use_oversampling"]:
        counts = np.bincount(y, minlength=N_CLASSES).astype(float)
        weights = torch.from_numpy(1.0 / counts[y])
        sampler: Any = WeightedRandomSampler(weights, num_samples=len(y), replacement=True, generator=generator)
    else:
        sampler = RandomSampler(dataset, generator=generator)
    return DataLoader(dataset, batch_size=int(params["batch_size"]), sampler=sampler)


@dataclass
class SplitRun:
    """One model trained on one split (or on the development rows for the final fit).

    Attributes:
        index: the split's number (-1 for the final fit).
        best_epoch: epoch (0-based) of the best validation metric so far.
        best_metrics: that epoch's validation metrics.
        best_pred: that epoch's validation predictions.
        stopped: early-stopped.
        history: per-epoch records.
        warnings: mode-collapse warnings.
    """

    index: int
    X_train: np.ndarray
    y_train: np.ndarray
    params: Mapping[str, Any]
    settings: TrainSettings
    seed: int
    n_features: int
    best_epoch: int = -1
    best_value: float = -np.inf
    best_metrics: dict[str, Any] = field(default_factory=dict)
    best_pred: np.ndarray | None = None
    stopped: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.device = resolve_device(self.settings.device)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        p = self.params
        self.model = LSTMClassifier(
            self.n_features, hidden_size=self.settings.hidden_size, num_layers=self.settings.num_layers, dropout=float(p["dropout"])
        ).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=float(p["learning_rate"]), weight_decay=float(p["weight_decay"]))
        self.scheduler = CosineAnnealingWarmRestarts(self.optimizer, T_0=int(p["scheduler_T_0"]), T_mult=int(p["scheduler_T_mult"]))
        self.loader = _loader(self.X_train, self.y_train, p, self.generator)
        weight = class_weights(self.y_train, N_CLASSES) if p["use_class_weights"] else None
        self.weight = torch.as_tensor(weight, dtype=torch.float32, device=self.device) if weight is not None else None
        self.gamma = float(p["focal_gamma"]) if p["use_focal_loss"] else 0.0
        self._best_state: dict[str, torch.Tensor] | None = None
        self.epochs_run = 0

    def _batch_loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        p = self.params
        targets = soft_targets(yb, N_CLASSES, smoothing=float(p["label_smoothing"]))
        if p["use_augmentation"]:
            if float(p["gaussian_noise_std"]) > 0:
                xb = xb + float(p["gaussian_noise_std"]) * torch.randn(xb.shape, generator=self.generator)
            xb, targets = mixup(xb, targets, alpha=float(p["mixup_alpha"]), rng=self.rng, generator=self.generator)
        logits = self.model(xb.to(self.device))
        return focal_loss(logits, targets.to(self.device), gamma=self.gamma, weight=self.weight)

    def train_epoch(self) -> float:
        """One pass over the training windows; returns the mean batch loss."""
        self.model.train()
        iters = max(1, len(self.loader))
        losses = []
        for i, (xb, yb) in enumerate(self.loader):
            loss = self._batch_loss(xb, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step(self.epochs_run + (i + 1) / iters)
            losses.append(float(loss.detach()))
        self.epochs_run += 1
        return float(np.mean(losses)) if losses else float("nan")

    @torch.inference_mode()
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class predictions of windows ``X`` by the current weights."""
        self.model.eval()
        out = [self.model(torch.from_numpy(X[i : i + 2048]).to(self.device)).argmax(dim=1).cpu().numpy() for i in range(0, len(X), 2048)]
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)

    def validate(self, epoch: int, loss: float, X_val: np.ndarray, y_val: np.ndarray) -> dict[str, Any]:
        """Metrics of this epoch on the validation windows; early-stopping bookkeeping; collapse check."""
        pred = self.predict(X_val)
        metrics = classification_metrics(y_val, pred)
        record = {"epoch": epoch, "split": self.index, "train_loss": loss, "lr": self.optimizer.param_groups[0]["lr"], **metrics}
        self.history.append(record)
        warning = collapse_warning(metrics["pred_dist"], share=COLLAPSE_SHARE)
        if warning:
            warning.update(epoch=epoch, split=self.index)
            self.warnings.append(warning)
            logger.warning("mode collapse: split %d epoch %d predicts %s for %.0f %% of validation rows", self.index, epoch, warning["class"], 100 * warning["share"])
        value = float(metrics[self.settings.primary_metric])
        if value > self.best_value + 1e-12:
            self.best_value, self.best_epoch, self.best_metrics, self.best_pred = value, epoch, metrics, pred
            self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        elif epoch - self.best_epoch >= self.settings.early_stopping_patience:
            self.stopped = True
        return record

    def restore_best(self) -> None:
        """Load the best epoch's weights back (early stopping with the best epoch restored)."""
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)


@dataclass
class TrialOutcome:
    """What a trial's splits gave.

    Attributes:
        value: mean over splits of the best epoch's primary metric (before any penalty).
        splits: per split: best epoch, its metrics, the evaluation summary (baselines, call DirHit).
        history: every epoch record of every split.
        warnings: mode-collapse warnings.
        summary: pooled evaluation over the splits' validation windows at their best epochs.
        epoch_values: the mean validation metric reported after each epoch.
    """

    value: float
    splits: list[dict[str, Any]]
    history: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    summary: dict[str, Any]
    epoch_values: list[float]


def _split_runs(data: LstmData, params: Mapping[str, Any], settings: TrainSettings, seed: int) -> list[tuple[SplitRun, Windows, np.ndarray]]:
    labels = data.labels(params)
    out = []
    for i in range(data.n_splits):
        train, val = data.split(i)
        run = SplitRun(i, train.X, data.targets(train, labels), params, settings, seed + 7919 * (i + 1), train.X.shape[2])
        out.append((run, val, data.targets(val, labels)))
    return out


def train_splits(data: LstmData, params: Mapping[str, Any], settings: TrainSettings, *, seed: int, on_epoch: EpochCallback | None = None) -> TrialOutcome:
    """Train every walk-forward split of ``data`` in lock-step, epoch-major.

    ``on_epoch(epoch, mean_value, records)`` runs after each epoch with the mean over splits of
    each split's latest validation metric (a stopped split counts with its best); it may raise
    (``optuna.TrialPruned``, :class:`~bistlab.errors.StopRequested`) to end the trial there.
    """
    seed_everything(seed, threads=settings.threads)
    runs = _split_runs(data, params, settings, seed)
    epoch_values: list[float] = []
    for epoch in range(settings.epochs):
        records = []
        for run, val, y_val in runs:
            if not run.stopped:
                records.append(run.validate(epoch, run.train_epoch(), val.X, y_val))
        latest = {r["split"]: r[settings.primary_metric] for r in records}
        epoch_values.append(float(np.mean([latest.get(run.index, run.best_value) for run, _, _ in runs])))
        if on_epoch is not None:
            on_epoch(epoch, epoch_values[-1], records)
        if all(run.stopped for run, _, _ in runs):
            break
    return _outcome(data, runs, settings, epoch_values)


def _outcome(data: LstmData, runs: list[tuple[SplitRun, Windows, np.ndarray]], settings: TrainSettings, epoch_values: list[float]) -> TrialOutcome:
    splits, preds, trues, wins, y_trains = [], [], [], [], []
    for run, val, y_val in runs:
        run.restore_best()
        summary = evaluation_summary(data, val, y_val, run.best_pred, run.y_train, thr=settings.dirhit_threshold)
        splits.append({"split": run.index, "best_epoch": run.best_epoch, "epochs_run": run.epochs_run, "early_stopped": run.stopped, **summary})
        preds.append(run.best_pred)
        trues.append(y_val)
        wins.append(val)
        y_trains.append(run.y_train)
    value = float(np.mean([s[settings.primary_metric] for s in splits]))
    pooled = {
        "precision_mean": float(np.mean([s["val_precision"] for s in splits])),
        "f1_mean": float(np.mean([s["val_f1"] for s in splits])),
        "majority_f1_mean": float(np.mean([s["majority_f1"] for s in splits])),
        "random_f1_mean": float(np.mean([s["random_f1"] for s in splits])),
        "call_dirhit": _pool_dirhits(splits),
    }
    history = [r for run, _, _ in runs for r in run.history]
    warnings = [w for run, _, _ in runs for w in run.warnings]
    return TrialOutcome(value, splits, sorted(history, key=lambda r: (r["epoch"], r["split"])), warnings, pooled, epoch_values)


def _pool_dirhits(splits: list[dict[str, Any]]) -> dict[str, Any]:
    hits = sum(s["call_dirhit"]["hits"] for s in splits)
    count = sum(s["call_dirhit"]["count"] for s in splits)
    n_eff = sum(s["call_dirhit"]["n_eff"] for s in splits)
    fig = DirHit.rate(hits, count, n_eff)
    return {"hits": hits, "count": count, "n_eff": n_eff, "value": fig.value, "low": fig.low, "high": fig.high}


def measure_epoch(data: LstmData, params: Mapping[str, Any], settings: TrainSettings, *, seed: int) -> float:
    """Seconds of one real epoch of a trial with ``params``: training and validating every split.

    One untimed epoch on the first split warms torch up first (its first call costs far more).
    """
    seed_everything(seed, threads=settings.threads)
    runs = _split_runs(data, params, settings, seed)
    runs[0][0].train_epoch()
    started = time.perf_counter()
    for run, val, y_val in runs:
        run.validate(1, run.train_epoch(), val.X, y_val)
    return time.perf_counter() - started


def fit_final(data: LstmData, params: Mapping[str, Any], settings: TrainSettings, *, seed: int, epochs: int) -> dict[str, Any]:
    """Fit ``params`` on every development row for ``epochs`` epochs and evaluate once on the holdout.

    Returns:
        The holdout's evaluation summary (:func:`bistlab.lstm.metrics.evaluation_summary`) with
        ``epochs``, ``train_rows`` and ``holdout_rows``.
    """
    seed_everything(seed, threads=settings.threads)
    labels = data.labels(params)
    dev, holdout = data.final()
    y_dev = data.targets(dev, labels)
    run = SplitRun(-1, dev.X, y_dev, params, settings, seed + 104729, dev.X.shape[2])
    losses = [run.train_epoch() for _ in range(max(1, epochs))]
    y_hold = data.targets(holdout, labels)
    pred = run.predict(holdout.X)
    summary = evaluation_summary(data, holdout, y_hold, pred, y_dev, thr=settings.dirhit_threshold)
    warning = collapse_warning(summary["pred_dist"], share=COLLAPSE_SHARE)
    dates = np.array([data.symbols[k].dates[r].value for k, r in zip(holdout.symbol, holdout.row)])
    return {
        **summary,
        "f1_interval": f1_interval(y_hold, pred, dates, horizon=data.horizon, seed=seed),
        **holdout_verdict(data, holdout, pred, dev, thr=settings.dirhit_threshold),
        "epochs": max(1, epochs),
        "train_loss": losses[-1],
        "train_rows": len(dev),
        "holdout_rows": len(holdout),
        "mode_collapse_warning": warning,
        "classes": list(CLASS_NAMES),
    }
