"""Calibration of the usable rule by simulation: how often does a model with no skill pass it?

DESIGN.md's yardstick: a no-skill model whose calls are persistent (the sign of an AR(1) with
φ = 0.97, as real models' calls are: in a demo cycle the predicted sign equals the previous day's
95 % of the time) predicting a random walk must pass the usable rule in at most 2.5 % of holdouts
at every horizon. Persistent calls and overlapping h-day labels make neighbouring rows' outcomes
far from independent; a rule that counted every row as an outcome would pass such a model often
at long horizons (13 % at h = 30 before effective counts were introduced).

:func:`simulate_rule` draws holdouts of that kind and runs the **real** :func:`bistlab.metrics.split_metrics`
and :func:`bistlab.metrics.usable_verdict` on each, so the figure it returns is the rule's own
false-pass rate. With ``skill`` set it plants a real signal instead (prediction = the true label
plus noise, about 70 % DirHit), to check that the rule still finds skill where there is some.
``bench/bench_usable_rule.py`` prints the table for every horizon; the tests run a reduced version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bistlab.metrics import split_metrics, usable_verdict

__all__ = ["SimulationResult", "simulate_rule", "simulate_holdout"]

DAILY_VOL = 0.02
"""Standard deviation of the simulated daily log return (BIST stocks: about 2 %)."""
PREDICTION_SIZE = 0.01
"""Absolute predicted log return of the persistent no-skill model (above the 0.005 threshold)."""
PHI = 0.97
SIGNAL_NOISE = 1.9
"""Noise of the planted signal, in units of the h-day label's standard deviation (masked DirHit ≈ 70 %)."""


@dataclass(frozen=True)
class SimulationResult:
    """The usable rule on simulated holdouts.

    Attributes:
        horizon: h in trading days.
        skill: ``"none"`` (persistent no-skill calls) or ``"planted"`` (label plus noise).
        n_sims: holdouts simulated.
        n_holdout: rows per holdout.
        pass_rate: share of holdouts that pass the rule (0..1).
        mean_dirhit: mean holdout DirHit, percent.
        mean_n_eff: mean effective count of the masked rows.
        mean_count: mean masked rows.
    """

    horizon: int
    skill: str
    n_sims: int
    n_holdout: int
    pass_rate: float
    mean_dirhit: float
    mean_n_eff: float
    mean_count: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _persistent_signs(n: int, rng: np.random.Generator) -> np.ndarray:
    a = np.empty(n)
    e = rng.normal(size=n)
    a[0] = e[0] / np.sqrt(1 - PHI**2)
    for t in range(1, n):
        a[t] = PHI * a[t - 1] + e[t]
    return np.where(a >= 0, 1.0, -1.0)


def simulate_holdout(horizon: int, *, rng: np.random.Generator, n_holdout: int = 120, n_train: int = 500, planted: bool = False) -> dict[str, Any]:
    """One simulated holdout through the real metrics and rule.

    A random walk of daily log returns (sd :data:`DAILY_VOL`); labels are h-day forward log
    returns; the training window (``n_train`` rows, purged by h before the holdout) gives the
    majority baseline; persistence is the sign of the last h-day return.

    Returns:
        The holdout's metrics (:meth:`SplitMetrics.to_dict`) and its verdict under ``"verdict"``.
    """
    h = int(horizon)
    n = n_train + h + n_holdout + h + 1
    logp = np.concatenate([[0.0], np.cumsum(rng.normal(0.0, DAILY_VOL, n))])
    labels = logp[h:] - logp[:-h]  # label at t: log(p[t+h] / p[t])
    start = n_train + h
    rows = np.arange(start, start + n_holdout)
    y = labels[rows]
    past = logp[rows] - logp[rows - h]
    train = labels[: n_train]
    majority = 1 if (train > 0).sum() >= (train < 0).sum() else -1
    if planted:
        pred = y + rng.normal(0.0, SIGNAL_NOISE * DAILY_VOL * np.sqrt(h), y.size)
    else:
        pred = PREDICTION_SIZE * _persistent_signs(n_holdout + 200, rng)[200:]
    m = split_metrics(y, pred, thr=0.005, past_return=past, train_majority=majority, horizon=h)
    out = m.to_dict()
    out["verdict"] = usable_verdict(m)
    return out


def simulate_rule(horizon: int, *, n_sims: int = 2000, n_holdout: int = 120, planted: bool = False, seed: int = 0) -> SimulationResult:
    """The usable rule's pass rate over ``n_sims`` simulated holdouts at one horizon.

    Args:
        horizon: h in trading days.
        n_sims: holdouts to simulate.
        n_holdout: rows per holdout (bistlab's default holdout holds at most 120).
        planted: a real signal (label plus noise) instead of persistent no-skill calls.
        seed: the random seed.
    """
    rng = np.random.default_rng(seed)
    passes, dirhits, n_effs, counts = 0, [], [], []
    for _ in range(n_sims):
        sim = simulate_holdout(horizon, rng=rng, n_holdout=n_holdout, planted=planted)
        passes += bool(sim["verdict"]["passes_rule"])
        if sim["dirhit"] is not None:
            dirhits.append(sim["dirhit"])
        n_effs.append(sim["dirhit_n_eff"])
        counts.append(sim["mask_count"])
    return SimulationResult(
        horizon=int(horizon),
        skill="planted" if planted else "none",
        n_sims=n_sims,
        n_holdout=n_holdout,
        pass_rate=passes / n_sims,
        mean_dirhit=float(np.mean(dirhits)) if dirhits else float("nan"),
        mean_n_eff=float(np.mean(n_effs)),
        mean_count=float(np.mean(counts)),
    )
