"""Simulated universe panels for the usable rule's yardsticks: symbols on correlated random walks, a model
of a given skill whose calls are persistent (an AR(1) of the predictions), and the share of holdouts
in which :func:`bistlab.evaluation.universe_rule.universe_verdict` fires. Daily volatility is a fraction, skill a DirHit in percent.

They run the yardstick of DESIGN.md: a no-skill
model is usable in at most 2.5 % of synthetic holdouts at every horizon, a model with a true DirHit
of 53 % (h = 1) or 57 % (h = 7) in at least 80 % (``bench/bench_universe_rule.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from bistlab.errors import ConfigError
from bistlab.evaluation.panel_metrics import panel_metrics
from bistlab.evaluation.date_bootstrap import block_length
from bistlab.evaluation.universe_rule import universe_verdict

__all__ = ["SKILLS", "DAILY_VOL", "PAIR_CORR", "PHI", "PREDICTION_SD", "simulate_panel", "simulate_universe_rule"]


SKILLS = ("none", "common", "clustered", "skilled")
"""Models of :func:`simulate_panel`: three without skill, one with."""


DAILY_VOL = 0.02
"""Standard deviation of a simulated daily log return."""


PAIR_CORR = 0.3
"""Mean pairwise correlation of the simulated daily returns (one market factor)."""


PHI = 0.97
"""Persistence of the no-skill predictions (AR(1) coefficient per session)."""


PREDICTION_SD = 0.02
"""Standard deviation of a no-skill prediction: |pred| > 0.005 on about 80 % of rows."""


def _ar1(n: int, width: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """``(n, width)`` independent stationary AR(1) paths with unit variance."""
    x = np.empty((n, width))
    e = rng.normal(size=(n, width))
    x[0] = e[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + math.sqrt(1.0 - phi * phi) * e[t]
    return x


def _excess_panel(horizon: int, n_symbols: int, n_sessions: int, beta_spread: float, rng: np.random.Generator) -> np.ndarray:
    """``(n_sessions − h, n_symbols)`` h-session forward log returns minus each date's median.

    Daily returns ``DAILY_VOL (a_i f_t + sqrt(1 − a_i²) e_it)`` with loadings ``a_i`` spread by
    ``beta_spread`` around ``sqrt(PAIR_CORR)`` (mean pairwise correlation about 0.3).
    """
    beta = 1.0 + beta_spread * rng.uniform(-1.0, 1.0, n_symbols)
    load = math.sqrt(PAIR_CORR) * beta / np.mean(beta)
    load = np.clip(load, 0.0, 0.95)
    f = rng.normal(size=(n_sessions - 1, 1))
    r = DAILY_VOL * (f * load + rng.normal(size=(n_sessions - 1, n_symbols)) * np.sqrt(1.0 - load**2))
    logp = np.vstack([np.zeros((1, n_symbols)), np.cumsum(r, axis=0)])
    fwd = logp[horizon:] - logp[:-horizon]
    return fwd - np.median(fwd, axis=1, keepdims=True)


def _predictions(skill: str, y: np.ndarray, true_dirhit: float, rng: np.random.Generator) -> np.ndarray:
    """Predictions of the holdout targets ``y`` (dates × symbols) by one of :data:`SKILLS`."""
    n, width = y.shape
    if skill == "none":
        return PREDICTION_SD * _ar1(n, width, PHI, rng)
    if skill == "common":
        return PREDICTION_SD * (math.sqrt(0.5) * _ar1(n, 1, PHI, rng) + math.sqrt(0.5) * _ar1(n, width, PHI, rng))
    if skill == "clustered":
        calls = _ar1(n, width, 0.9, rng) > stats.norm.ppf(0.8)  # a latent AR(1) picks 20 % of the rows
        return np.where(calls, np.sign(_ar1(n, width, PHI, rng)) * 0.01, 0.001)
    right = rng.random(y.shape) < true_dirhit / 100.0
    sign = np.where(right, np.sign(y), -np.sign(y))
    return sign * (0.006 + 0.01 * np.abs(rng.normal(size=y.shape)))


def simulate_panel(
    horizon: int,
    *,
    skill: str = "none",
    true_dirhit: float | None = None,
    n_symbols: int = 100,
    n_sessions: int = 1400,
    n_holdout: int = 120,
    beta_spread: float = 0.5,
    seed: int | np.random.Generator = 0,
) -> dict[str, Any]:
    """A synthetic universe holdout (DESIGN.md's yardstick), ready for :func:`panel_metrics`.

    ``n_symbols`` symbols × ``n_sessions`` sessions of daily log returns (sd 2 %) with one market
    factor (mean pairwise correlation 0.3; loadings spread by ``beta_spread`` so that the excess
    target keeps some common move); the target is the h-session forward log return minus the
    date's cross-sectional median ("excess"); the holdout is the last ``n_holdout`` labelled
    sessions; ``past_target`` is the backward h-session excess return; ``train_majority`` the
    majority sign of the target over the sessions whose labels end before the holdout.

    Models (``skill``): ``"none"``, a per-symbol AR(1) (φ = 0.97) of noise, sd 0.02 (|pred| > thr
    on about 80 % of rows); ``"common"``, half of its variance a factor shared by every symbol;
    ``"clustered"``, persistent signs called (|pred| = 0.01) only on the 20 % of rows a latent AR(1)
    (φ = 0.9) picks, elsewhere 0.001 (no call); ``"skilled"``, the sign of the target with
    probability ``true_dirhit`` % (default 53 at h = 1, 57 beyond), else the opposite sign, with
    magnitude ``0.006 + 0.01 |z|`` (always above thr, so its rank IC is positive).

    Returns:
        ``session``, ``symbol``, ``tercile`` (symbols split in thirds), ``y_true``, ``y_pred``,
        ``past_target`` (arrays, one entry per row), ``train_majority``, ``horizon``, ``skill``,
        ``true_dirhit``.
    """
    if skill not in SKILLS:
        raise ConfigError("skill", f"one of {', '.join(SKILLS)}", skill)
    h = int(horizon)
    if h < 1 or n_sessions - h < n_holdout + 2 * h + 1:
        raise ConfigError("horizon", f"between 1 and {(n_sessions - n_holdout - 1) // 3} for {n_sessions} sessions", horizon)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    dirhit = float(true_dirhit if true_dirhit is not None else (53.0 if h == 1 else 57.0))
    excess = _excess_panel(h, n_symbols, n_sessions, beta_spread, rng)
    start = excess.shape[0] - n_holdout
    y = excess[start:]
    train = excess[: start - h]
    pred = _predictions(skill, y, dirhit, rng)
    sessions = np.repeat(np.arange(start, start + n_holdout), n_symbols)
    symbols = np.tile(np.arange(n_symbols), n_holdout)
    return {
        "session": sessions,
        "symbol": symbols,
        "tercile": (3 * symbols) // n_symbols,
        "y_true": y.ravel(),
        "y_pred": pred.ravel(),
        "past_target": excess[start - h : start - h + n_holdout].ravel(),
        "train_majority": 1 if (train > 0).sum() >= (train < 0).sum() else -1,
        "horizon": h,
        "skill": skill,
        "true_dirhit": dirhit if skill == "skilled" else None,
    }


def simulate_universe_rule(horizon: int, *, skill: str = "none", runs: int = 200, seed: int = 0, n_boot: int = 1000, **panel: Any) -> dict[str, Any]:
    """The universe rule over ``runs`` synthetic holdouts of :func:`simulate_panel`.

    Returns:
        A JSON-safe dict: ``horizon``, ``skill``, ``runs``, ``usable`` (count), ``usable_rate``
        (0..1), ``passes`` (per component, how many runs it passed), ``mean_dirhit``, ``mean_ic``,
        ``mean_edge``, ``block_length``.
    """
    rng = np.random.default_rng(seed)
    usable, passes, dirhits, ics, edges, block = 0, {"ic": 0, "dirhit_vs_50": 0, "dirhit_vs_baseline": 0}, [], [], [], None
    for _ in range(int(runs)):
        sim = simulate_panel(horizon, skill=skill, seed=rng, **panel)
        keys = ("session", "y_true", "y_pred", "past_target", "train_majority")
        m = panel_metrics(**{k: sim[k] for k in keys}, horizon=sim["horizon"], n_boot=n_boot, seed=int(rng.integers(2**31)))
        v = universe_verdict(m)
        usable += v["usable"]
        for name, comp in v["components"].items():
            passes[name] += comp["passes"]
        dirhits += [m.dirhit] if m.dirhit is not None else []
        ics += [m.ic_mean] if m.ic_mean is not None else []
        edges += [m.edge] if m.edge is not None else []
        block = m.block_length
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    return {
        "horizon": int(horizon),
        "skill": skill,
        "runs": int(runs),
        "usable": int(usable),
        "usable_rate": usable / runs if runs else 0.0,
        "passes": passes,
        "mean_dirhit": mean(dirhits),
        "mean_ic": mean(ics),
        "mean_edge": mean(edges),
        "block_length": block,
    }
