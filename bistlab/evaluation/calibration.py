"""Calibration of the usable rule by simulation: how often does a model with no skill pass it?

DESIGN.md's yardstick ("Overlapping labels"): a no-skill model whose calls are persistent (the sign
of an AR(1) with φ = 0.97, as real models' calls are: in a demo cycle the predicted sign equals the
previous day's 95 % of the time) predicting a random walk must pass the usable rule in at most
2.5 % of holdouts at every horizon in {1, 3, 7, 14, 30}, whether it calls every row or calls in
clusters (a latent AR(1) with φ between 0.8 and 0.97 deciding which 20 % of rows it calls).
Persistent calls and overlapping h-day labels make neighbouring rows' outcomes far from
independent; a rule that counted every row as an outcome would pass such a model often at long
horizons (13 % at h = 30 before effective counts were introduced), and one that counted the span
of clustered calls would pass it at about the limit (issue 19).

And its power ("Power"): a model with true DirHit 65 % on every row at h = 1 must pass in at least
80 % of a per-symbol task's holdouts (120 rows).

:func:`simulate_rule` draws the holdouts of one model at one horizon in a batch (vectorised random
walks and AR(1) paths) and runs the **real** :func:`bistlab.evaluation.metrics.split_metrics` and
:func:`bistlab.evaluation.metrics.usable_verdict` on each, so the figure it returns is the rule's own pass
rate. ``bench/bench_usable_rule.py`` prints the table for every model and horizon; the tests run a
reduced version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import signal, special

from bistlab.evaluation.metrics import split_metrics
from bistlab.evaluation.dirhit import usable_verdict
from bistlab.evaluation.intervals import wilson_interval

__all__ = [
    "CallModel",
    "SimulationResult",
    "simulate_rule",
    "simulate_holdout",
    "EVERY_ROW",
    "CLUSTERED",
    "NO_SKILL_MODELS",
    "PLANTED_65",
]

DAILY_VOL = 0.02
"""Standard deviation of the simulated daily log return (BIST stocks: about 2 %)."""
PREDICTION_SIZE = 0.01
"""Absolute predicted log return of a call (above the 0.005 threshold)."""
TINY_PREDICTION = 0.001
"""Absolute predicted log return on a row a clustered model does not call (below the threshold)."""
SIGN_PHI = 0.97
"""φ of the AR(1) whose sign is a no-skill model's call (persistent calls)."""
THRESHOLD = 0.005
"""The DirHit threshold on absolute log returns."""
CHUNK = 1000
"""Holdouts drawn at once (bounds the memory of a batch: a few MB)."""


@dataclass(frozen=True)
class CallModel:
    """A simulated model: which rows it calls and how its calls' signs arise.

    Attributes:
        name: a label for tables.
        cluster_phi: φ of the latent AR(1) that decides which rows are called (the rows where it is
            above its stationary ``1 − call_share`` quantile); ``None``: every row is called.
        call_share: expected share of rows called by a clustered model (0..1).
        hit_rate: planted skill: the probability (0..1) that a call's sign is the label's, row by
            row; ``None``: no skill, the signs of an AR(1) with φ = :data:`SIGN_PHI`, independent of
            the prices.
    """

    name: str
    cluster_phi: float | None = None
    call_share: float = 0.2
    hit_rate: float | None = None

    def __post_init__(self) -> None:
        if self.cluster_phi is not None and not 0.0 <= self.cluster_phi < 1.0:
            raise ValueError(f"`cluster_phi` must be in [0, 1) but got {self.cluster_phi}")
        if not 0.0 < self.call_share <= 1.0:
            raise ValueError(f"`call_share` must be in (0, 1] but got {self.call_share}")
        if self.hit_rate is not None and not 0.0 <= self.hit_rate <= 1.0:
            raise ValueError(f"`hit_rate` must be in [0, 1] but got {self.hit_rate}")

    @property
    def skill(self) -> str:
        """``"none"`` or ``"planted"``."""
        return "none" if self.hit_rate is None else "planted"


EVERY_ROW = CallModel("no skill, calls every row")
CLUSTERED = tuple(CallModel(f"no skill, clustered calls (φ = {phi})", cluster_phi=phi) for phi in (0.8, 0.9, 0.97))
NO_SKILL_MODELS = (EVERY_ROW, *CLUSTERED)
PLANTED_65 = CallModel("true DirHit 65 % on every row", hit_rate=0.65)


@dataclass(frozen=True)
class SimulationResult:
    """The usable rule on simulated holdouts of one model at one horizon.

    Attributes:
        horizon: h in trading days.
        model: the :class:`CallModel`'s name.
        skill: ``"none"`` or ``"planted"``.
        n_sims: holdouts simulated.
        n_holdout: rows per holdout.
        passes: holdouts that pass the rule.
        pass_rate: share of holdouts that pass the rule (0..1).
        pass_low: lower end of the simulation's own 95 % (Wilson) interval of ``pass_rate`` (0..1).
        pass_high: upper end (0..1).
        above_50_rate: share of holdouts whose DirHit's lower bound clears 50 % (the rule's first
            half, without the baselines), 0..1.
        mean_dirhit: mean holdout DirHit over holdouts with a defined one, percent.
        mean_n_eff: mean effective count of the masked rows.
        mean_count: mean masked rows.
    """

    horizon: int
    model: str
    skill: str
    n_sims: int
    n_holdout: int
    passes: int
    pass_rate: float
    pass_low: float
    pass_high: float
    above_50_rate: float
    mean_dirhit: float
    mean_n_eff: float
    mean_count: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ar1(phi: float, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) paths along the last axis with unit innovations (variance ``1 / (1 − φ²)``)."""
    e = rng.normal(size=shape)
    e[:, 0] /= np.sqrt(1.0 - phi**2)
    return signal.lfilter([1.0], [1.0, -phi], e, axis=1)


def _predictions(model: CallModel, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The model's predicted log returns for the labels ``y`` (holdouts × rows)."""
    if model.hit_rate is None:
        signs = np.where(_ar1(SIGN_PHI, y.shape, rng) >= 0, 1.0, -1.0)
    else:
        right = rng.random(y.shape) < model.hit_rate
        signs = np.where(right, 1.0, -1.0) * np.where(y >= 0, 1.0, -1.0)
    if model.cluster_phi is None:
        return PREDICTION_SIZE * signs
    latent = _ar1(model.cluster_phi, y.shape, rng) * np.sqrt(1.0 - model.cluster_phi**2)  # unit variance
    called = latent > special.ndtri(1.0 - model.call_share)
    return np.where(called, PREDICTION_SIZE, TINY_PREDICTION) * signs


def _draw(model: CallModel, horizon: int, n_sims: int, rng: np.random.Generator, *, n_holdout: int, n_train: int) -> Iterator[dict[str, Any]]:
    """``n_sims`` holdouts of ``model`` at ``horizon``, drawn in one batch: a random walk of daily log
    returns (sd :data:`DAILY_VOL`); labels are h-day forward log returns; the training window
    (``n_train`` rows, purged by h before the holdout) gives the majority direction; persistence
    is the last h-day return. Yields the keyword arguments of :func:`split_metrics` per holdout."""
    h = int(horizon)
    n = n_train + h + n_holdout + h + 1
    logp = np.concatenate([np.zeros((n_sims, 1)), np.cumsum(rng.normal(0.0, DAILY_VOL, (n_sims, n)), axis=1)], axis=1)
    labels = logp[:, h:] - logp[:, :-h]  # label at t: log(p[t+h] / p[t])
    rows = np.arange(n_train + h, n_train + h + n_holdout)
    y = labels[:, rows]
    past = logp[:, rows] - logp[:, rows - h]
    train = labels[:, :n_train]
    majority = np.where((train > 0).sum(axis=1) >= (train < 0).sum(axis=1), 1, -1)
    pred = _predictions(model, y, rng)
    for i in range(n_sims):
        yield {"y_true": y[i], "y_pred": pred[i], "past_return": past[i], "train_majority": int(majority[i]), "horizon": h}


def _judge(kwargs: dict[str, Any]) -> dict[str, Any]:
    """One holdout through the real metrics and rule: its metrics with the verdict under ``"verdict"``."""
    m = split_metrics(thr=THRESHOLD, **kwargs)
    out = m.to_dict()
    out["verdict"] = usable_verdict(m)
    return out


def simulate_holdout(horizon: int, *, rng: np.random.Generator, model: CallModel = EVERY_ROW, n_holdout: int = 120, n_train: int = 500) -> dict[str, Any]:
    """One simulated holdout of ``model`` at ``horizon`` through the real metrics and rule.

    Returns:
        The holdout's metrics (:meth:`SplitMetrics.to_dict`) and its verdict under ``"verdict"``.
    """
    return _judge(next(_draw(model, horizon, 1, rng, n_holdout=n_holdout, n_train=n_train)))


def simulate_rule(horizon: int, *, model: CallModel = EVERY_ROW, n_sims: int = 2000, n_holdout: int = 120, n_train: int = 500, seed: int = 0) -> SimulationResult:
    """The usable rule's pass rate over ``n_sims`` simulated holdouts of ``model`` at one horizon.

    Args:
        horizon: h in trading days.
        model: the simulated model (:data:`NO_SKILL_MODELS`, :data:`PLANTED_65`).
        n_sims: holdouts to simulate.
        n_holdout: rows per holdout (bistlab's default holdout holds at most 120).
        n_train: rows of the training window (for the majority baseline).
        seed: the random seed.
    """
    if n_sims < 1:
        raise ValueError(f"`n_sims` must be at least 1 but got {n_sims}")
    rng = np.random.default_rng(seed)
    passes, above_50, dirhits, n_effs, counts = 0, 0, [], [], []
    for start in range(0, n_sims, CHUNK):
        for kwargs in _draw(model, horizon, min(CHUNK, n_sims - start), rng, n_holdout=n_holdout, n_train=n_train):
            sim = _judge(kwargs)
            passes += bool(sim["verdict"]["passes_rule"])
            above_50 += (sim["verdict"]["dirhit_lower_95"] or 0.0) > 50.0
            if sim["dirhit"] is not None:
                dirhits.append(sim["dirhit"])
            n_effs.append(sim["dirhit_n_eff"])
            counts.append(sim["mask_count"])
    low, high = wilson_interval(passes, n_sims)  # type: ignore[misc]
    return SimulationResult(
        horizon=int(horizon),
        model=model.name,
        skill=model.skill,
        n_sims=n_sims,
        n_holdout=n_holdout,
        passes=passes,
        pass_rate=passes / n_sims,
        pass_low=low / 100.0,
        pass_high=high / 100.0,
        above_50_rate=above_50 / n_sims,
        mean_dirhit=float(np.mean(dirhits)) if dirhits else float("nan"),
        mean_n_eff=float(np.mean(n_effs)),
        mean_count=float(np.mean(counts)),
    )
