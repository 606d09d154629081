"""The circular block bootstrap over dates behind every interval of a universe model's metrics
(:data:`BOOTSTRAP_METHOD`): the block length in sessions, the widening of the bootstrap deviations,
resampled date counts, and percentile intervals with one-sided p-values. See :mod:`bistlab.evaluation.panel_metrics`.

**Intervals.** Rows of one date share the day's common move and the h-day labels of neighbouring
dates overlap by h − 1 sessions, so rows are far from independent. Every interval therefore comes
from a circular block bootstrap over *dates* (:data:`BOOTSTRAP_METHOD`): per-date sufficient
statistics (hits and counts, baseline hits, the date's rank IC, the date's spread) are computed
once, and blocks of consecutive dates are resampled, a date's rows always together.

- *Block length* (:func:`block_length`): ``max(h, ceil(n_dates ** (1/3)))`` sessions, at most half
  the dates. For a model without skill, outcomes h or more sessions apart share no price path, so
  a block of h holds every lag of dependence; the cube root is the usual rate when h is small.
- *Widening* (:func:`widening`). The block bootstrap of a mean understates its sampling spread in
  three ways that matter on a 120-session holdout with h up to 30: each resample is built from
  blocks of the sample itself, which shrinks the variance by ``(n − b) / n``; its Bartlett
  weights ``1 − k / b`` drop part of the dependence, down to about 2/3 of it at ``b = h`` when
  calls are persistent (the labels' overlap then passes to the outcomes at full strength); and
  with only ``n / b`` blocks the spread itself is uncertain. The bootstrap deviations are
  therefore multiplied by ``sqrt(n / (n − b) / share) × t(0.975, floor(n / b)) / z(0.975)``,
  ``share`` computed for the triangle ``1 − k / h``, n the dates the figure rests on. At h = 1
  with 120 dates the factor is 1.08; at h = 7, 1.35; at h = 30, 2.0. Simulation (the yardstick
  below) puts each component's false-pass rate near its nominal 2.5 % at h = 1 … 30 with it, and
  at 7–13 % without it at h ≥ 7; blocks of 2 h were tried and are worse (two or three blocks).
- *Interval and p-value.* The 95 % interval is ``figure + widening × (percentile of bootstrap
  statistic − figure)``, the percentile interval widened about the figure, kept within the
  figure's natural range (0–100 %, ±1 for an IC, the range of the per-date spreads) and extended
  to contain the figure if skew puts it outside. The one-sided p-value of "figure > bar" is
  ``(1 + #{widening × (bootstrap − figure) ≤ bar − figure}) / (n_boot + 1)``: never below
  ``1 / (n_boot + 1)``, at least 0.5 when the figure is not above the bar, and below 0.025
  exactly when the interval's lower bound clears the bar (the same order statistic). A resample
  where the figure is undefined (no masked row) counts against it.
"""

from __future__ import annotations

import math

import numpy as np
from arch.bootstrap import CircularBlockBootstrap
from scipy import stats

__all__ = ["Z95", "RULE_ALPHA", "BOOTSTRAP_METHOD", "block_length", "widening", "percentile_interval", "ratio_resamples", "resample_counts"]


Z95 = 1.959963984540054


RULE_ALPHA = 0.025
"""One-sided level of each component of the rule: its 95 % interval's lower bound must clear its bar."""


BOOTSTRAP_METHOD = (
    "circular block bootstrap over dates (arch.bootstrap.CircularBlockBootstrap): blocks of max(h, ceil(n_dates^(1/3))) "
    "consecutive sessions are resampled, a date's rows always together, from per-date sums (hits, counts, baseline hits, "
    "rank IC, quintile spread); 95 % percentile intervals with the bootstrap deviations widened by "
    "sqrt(n / (n − b) / share) × t(0.975, floor(n / b)) / z(0.975) for the block bootstrap's own shrinkage, the "
    "overlap of h-day labels and the few blocks, extended to contain the figure; one-sided p-values from the same "
    "resamples, paired for the edge over the baselines"
)
"""How every interval of :class:`PanelMetrics` is computed, in words (the report's method text)."""


def block_length(n_dates: int, horizon: int) -> int:
    """The bootstrap block in sessions: ``max(h, ceil(n_dates ** (1/3)))``, at most ``n_dates // 2``.

    At least h so that a block holds every lag over which a no-skill model's outcomes can be
    dependent (labels h or more sessions apart share no price path); the cube root is the usual
    block rate when h is small; at most half the dates so that a resample holds two blocks.
    Longer blocks (2 h) were tried and are worse on a 120-session holdout: with two or three
    blocks the bootstrap distribution is too coarse to correct (module docstring).
    """
    n = max(1, int(n_dates))
    return int(max(1, min(max(int(horizon), math.ceil(n ** (1.0 / 3.0) - 1e-9)), n // 2)))


def _bartlett_share(block: int, horizon: int) -> float:
    """Share of the long-run variance a block bootstrap keeps (Bartlett weights ``1 − k / b``)
    when outcomes are dependent as h-session labels overlapping at full strength (``1 − k / h``)."""
    k = np.arange(1, int(horizon))
    tri = 1.0 - k / horizon
    kept = np.clip(1.0 - k / block, 0.0, None) * tri
    return float((1.0 + 2.0 * kept.sum()) / (1.0 + 2.0 * tri.sum()))


def widening(n_dates: int, block: int, horizon: int) -> float:
    """The factor on the bootstrap deviations of a figure resting on ``n_dates`` dates (≥ 1).

    ``sqrt(n / (n − b) / share) × t(0.975, floor(n / b)) / z(0.975)`` with ``n = max(n_dates, 2 b)``:
    ``n / (n − b)`` undoes the block bootstrap's shrinkage of a mean's variance (each resample is
    centred on blocks of the sample itself), ``share`` (:func:`_bartlett_share`) the variance its
    Bartlett weights lose under label overlap of h − 1 sessions at full strength, and the t
    quantile with one degree of freedom per block the uncertainty of a spread estimated from a few
    blocks. It tends to 1 with many short blocks (h = 1).
    """
    b = max(1, int(block))
    n = max(int(n_dates), 2 * b)
    share = _bartlett_share(b, max(1, int(horizon)))
    return float(math.sqrt(n / (n - b) / share) * stats.t.ppf(0.975, max(1, n // b)) / Z95)


def resample_counts(n_dates: int, block: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_dates)`` matrix: how often each date appears in each circular-block resample."""
    bs = CircularBlockBootstrap(block, np.arange(n_dates), seed=seed)
    idx = np.stack([bs.update_indices() for _ in range(n_boot)])
    flat = (np.arange(n_boot)[:, None] * n_dates + idx).ravel()
    return np.bincount(flat, minlength=n_boot * n_dates).reshape(n_boot, n_dates).astype(float)


def ratio_resamples(num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> tuple[float | None, np.ndarray]:
    """The observed ratio ``scale * Σnum / Σden`` (``None`` if Σden is 0) and its resampled values
    (``num`` and ``den`` are the resampled sums, observed first)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(den > 0, scale * num / np.where(den > 0, den, 1.0), np.nan)
    obs = float(values[0]) if den[0] > 0 else None
    return obs, values[1:]


def percentile_interval(obs: float | None, boot: np.ndarray, factor: float, bar: float | None = None, limits: tuple[float, float] = (0.0, 100.0)) -> tuple[float | None, float | None, float]:
    """95 % percentile interval of ``obs`` from ``boot`` widened by ``factor``, kept within the
    figure's natural ``limits`` and extended to contain ``obs``, and the one-sided p-value of
    ``obs > bar`` (1.0 without a bar or a figure).

    Resamples where the statistic is undefined count against the figure at both ends.
    """
    if obs is None:
        return None, None, 1.0
    dev = boot - obs
    n_boot = dev.size
    k = max(1, math.ceil(RULE_ALPHA * (n_boot + 1) - 1 - 1e-9))
    low_side = np.sort(np.where(np.isnan(dev), -np.inf, dev))
    high_side = np.sort(np.where(np.isnan(dev), np.inf, dev))
    lo = min(obs, max(limits[0], obs + factor * float(low_side[k - 1])))
    hi = max(obs, min(limits[1], obs + factor * float(high_side[n_boot - k])))
    if bar is None:
        return lo, hi, 1.0
    extreme = int((low_side <= (bar - obs) / factor).sum())
    p = (1 + extreme) / (n_boot + 1)
    return lo, hi, float(max(p, 0.5) if obs <= bar else p)
