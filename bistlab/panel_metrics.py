"""Holdout metrics and the usable verdict of a universe model (DESIGN.md "Universe models").

A universe model is one model trained on every symbol at once; its holdout is a panel of rows
(date, symbol). This module measures such a panel: the pooled masked DirHit (and the all-rows one,
for reference), the persistence and majority baselines on the same masked rows, the per-date rank
IC (overall and by liquidity tercile) and the top-minus-bottom quintile spread before and after
costs, each with a 95 % interval, and gives the verdict :data:`USABLE_RULE_UNIVERSE`.

Percentages are in 0..100, returns are log returns, a DirHit that is undefined is ``None``.

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

:func:`simulate_panel` and :func:`simulate_universe_rule` run the yardstick of DESIGN.md: a no-skill
model is usable in at most 2.5 % of synthetic holdouts at every horizon, a model with a true DirHit
of 53 % (h = 1) or 57 % (h = 7) in at least 80 % (``bench/bench_universe_rule.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from arch.bootstrap import CircularBlockBootstrap
from scipy import stats

from bistlab.errors import ConfigError

__all__ = [
    "PanelMetrics",
    "panel_metrics",
    "universe_verdict",
    "block_length",
    "widening",
    "min_dates",
    "simulate_panel",
    "simulate_universe_rule",
    "USABLE_RULE_UNIVERSE",
    "BOOTSTRAP_METHOD",
    "RULE_ALPHA",
    "MIN_ROWS_PER_DATE",
    "MIN_DATES",
    "SKILLS",
]

Z95 = 1.959963984540054
RULE_ALPHA = 0.025
"""One-sided level of each component of the rule: its 95 % interval's lower bound must clear its bar."""
MIN_ROWS_PER_DATE = 5
"""A date enters the rank IC and the quintile spread only with at least this many rows."""
MIN_DATES = 20
"""The verdict needs at least this many dates behind each component (and two bootstrap blocks)."""

USABLE_RULE_UNIVERSE = (
    "usable when the mean rank IC's 95 % lower bound is above 0 and the pooled masked DirHit's 95 % lower bound is "
    "above 50 % and above the best baseline (persistence or majority) on the same rows, the latter as the lower "
    "bound of the paired difference; an intersection-union test whose p-value is the largest of the three"
)
"""The universe rule, in words (the report's rule text)."""

BOOTSTRAP_METHOD = (
    "circular block bootstrap over dates (arch.bootstrap.CircularBlockBootstrap): blocks of max(h, ceil(n_dates^(1/3))) "
    "consecutive sessions are resampled, a date's rows always together, from per-date sums (hits, counts, baseline hits, "
    "rank IC, quintile spread); 95 % percentile intervals with the bootstrap deviations widened by "
    "sqrt(n / (n − b) / share) × t(0.975, floor(n / b)) / z(0.975) for the block bootstrap's own shrinkage, the "
    "overlap of h-day labels and the few blocks, extended to contain the figure; one-sided p-values from the same "
    "resamples, paired for the edge over the baselines"
)
"""How every interval of :class:`PanelMetrics` is computed, in words (the report's method text)."""


@dataclass(frozen=True)
class PanelMetrics:
    """The holdout metrics of a universe model over a panel of (date, symbol) rows.

    Every ``*_lo`` / ``*_hi`` pair is the 95 % interval of the figure it follows (see the module
    docstring); every ``*_p`` is the one-sided bootstrap p-value of that figure exceeding its bar.

    Attributes:
        n_rows: rows of the panel.
        n_dates: distinct dates (sessions).
        n_symbols: distinct symbols, ``None`` when no symbols were given.
        horizon: h in trading days (sessions).
        thr: DirHit threshold on absolute log returns.
        cost_per_side: log-return cost per trade side used by ``spread_net``.
        block_length: bootstrap block, in sessions.
        n_boot: bootstrap resamples.
        seed: the bootstrap's seed.
        widening: the small-sample factor applied to the bootstrap deviations (≥ 1), at ``n_dates``.
        method: :data:`BOOTSTRAP_METHOD`.
        mask_count: rows with ``|y_true| > thr`` and ``|y_pred| > thr``.
        mask_pct: ``100 * mask_count / n_rows``.
        mask_dates: dates with at least one masked row.
        dirhit: percent of masked rows whose predicted sign is right; ``None`` for an empty mask.
        dirhit_hits: masked rows with the right sign.
        dirhit_p: one-sided p of ``dirhit > 50``.
        all_dirhit: percent right over every row with ``y_true != 0`` (a zero prediction is wrong).
        all_hits, all_count: its hits and rows.
        persistence_dirhit: DirHit of the sign of ``past_target`` on the masked rows where it has one.
        persistence_hits, persistence_count: its hits and rows.
        persistence_no_direction: masked rows where ``past_target`` is 0 or NaN (not counted).
        majority_dirhit: DirHit of ``train_majority`` on the masked rows.
        majority_hits: its hits (its count is ``mask_count``).
        train_majority: +1 or -1.
        best_baseline: ``"persistence"`` or ``"majority"``, the higher baseline DirHit.
        best_baseline_dirhit: its DirHit.
        edge: ``dirhit − best_baseline_dirhit`` in percentage points; each resample takes the
            higher baseline of that resample (paired, same dates).
        edge_p: one-sided p of ``edge > 0``.
        ic_mean: mean over dates of the per-date Spearman correlation of ``y_pred`` and ``y_true``
            (dates with at least 5 rows and varying predictions and targets).
        ic_p: one-sided p of ``ic_mean > 0``.
        ic_std: standard deviation of the per-date ICs (ddof 1); ``icir = ic_mean / ic_std``.
        n_ic_dates: dates behind the IC.
        ic_by_date: ``[session, ic]`` pairs, in session order.
        ic_by_tercile: per liquidity tercile (0 = least liquid) a dict with ``tercile``,
            ``ic_mean``, ``ic_lo``, ``ic_hi``, ``n_dates``; ``None`` when no terciles were given.
        spread_mean: mean over dates (with ≥ 5 rows) of the mean ``y_true`` of the top 20 % of the
            date's predictions minus that of the bottom 20 % (``n // 5`` rows each), a log return
            over h sessions.
        spread_net: ``spread_mean − 4 * cost_per_side``: a unit long and a unit short, each bought
            and sold once per h-session holding.
        n_spread_dates: dates behind the spread.
    """

    n_rows: int
    n_dates: int
    n_symbols: int | None
    horizon: int
    thr: float
    cost_per_side: float
    block_length: int
    n_boot: int
    seed: int
    widening: float
    method: str
    mask_count: int
    mask_pct: float
    mask_dates: int
    dirhit: float | None
    dirhit_hits: int
    dirhit_lo: float | None
    dirhit_hi: float | None
    dirhit_p: float
    all_dirhit: float | None
    all_hits: int
    all_count: int
    all_dirhit_lo: float | None
    all_dirhit_hi: float | None
    persistence_dirhit: float | None
    persistence_hits: int
    persistence_count: int
    persistence_no_direction: int
    persistence_lo: float | None
    persistence_hi: float | None
    majority_dirhit: float | None
    majority_hits: int
    majority_lo: float | None
    majority_hi: float | None
    train_majority: int
    best_baseline: str | None
    best_baseline_dirhit: float | None
    edge: float | None
    edge_lo: float | None
    edge_hi: float | None
    edge_p: float
    ic_mean: float | None
    ic_lo: float | None
    ic_hi: float | None
    ic_p: float
    ic_std: float | None
    icir: float | None
    n_ic_dates: int
    ic_by_date: list[list[float]]
    ic_by_tercile: list[dict[str, Any]] | None
    spread_mean: float | None
    spread_lo: float | None
    spread_hi: float | None
    spread_net: float | None
    spread_net_lo: float | None
    spread_net_hi: float | None
    n_spread_dates: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (floats, ints, ``None``, strings, lists, dicts)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PanelMetrics":
        """From :meth:`to_dict`'s output (or its JSON); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# --------------------------------------------------------------------------------------------- design


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


def min_dates(horizon: int) -> int:
    """Dates the verdict needs behind each component: :data:`MIN_DATES`, and two blocks of h."""
    return max(MIN_DATES, 2 * int(horizon))


# --------------------------------------------------------------------------------------------- inputs


def _as_1d(name: str, values: Any, n: int | None, dtype: Any = float) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype).reshape(-1) if values is not None else None
    if arr is None:
        raise ConfigError(name, "an array", values)
    if n is not None and arr.size != n:
        raise ConfigError(name, f"an array of {n} entries (one per panel row)", f"{arr.size} entries")
    return arr


def _check_inputs(session: Any, y_true: Any, y_pred: Any, past_target: Any, tercile: Any, symbol: Any) -> dict[str, Any]:
    """The inputs as arrays of one length; raises :class:`ConfigError` on a wrong shape or value."""
    s = np.asarray(session).reshape(-1)
    if s.size and not np.issubdtype(s.dtype, np.integer):
        if not np.all(np.isfinite(s.astype(float))) or np.any(s.astype(float) % 1 != 0):
            raise ConfigError("session", "integer session indices", s[:5].tolist())
    s = s.astype(np.int64)
    n = s.size
    yt, yp = _as_1d("y_true", y_true, n), _as_1d("y_pred", y_pred, n)
    for name, arr in (("y_true", yt), ("y_pred", yp)):
        bad = int((~np.isfinite(arr)).sum())
        if bad:
            raise ConfigError(name, "finite in every row", f"{bad} non-finite values")
    past = _as_1d("past_target", past_target, n)
    terc = None
    if tercile is not None:
        terc = _as_1d("tercile", tercile, n, dtype=float)
        if np.any(~np.isin(terc, (-1.0, 0.0, 1.0, 2.0))):
            raise ConfigError("tercile", "0, 1 or 2 (or -1: unknown, left out of the tercile figures) in every row", sorted(set(terc.tolist()) - {-1.0, 0.0, 1.0, 2.0})[:5])
        terc = terc.astype(np.int64)
    sym = None if symbol is None else np.asarray(symbol).reshape(-1)
    if sym is not None and sym.size != n:
        raise ConfigError("symbol", f"an array of {n} entries (one per panel row)", f"{sym.size} entries")
    return {"session": s, "y_true": yt, "y_pred": yp, "past": past, "tercile": terc, "symbol": sym}


def _check_settings(train_majority: int, horizon: int, thr: float, cost_per_side: float, n_boot: int) -> None:
    if train_majority not in (1, -1):
        raise ConfigError("train_majority", "+1 or -1", train_majority)
    if int(horizon) != horizon or horizon < 1:
        raise ConfigError("horizon", "a positive integer (sessions)", horizon)
    if not (math.isfinite(thr) and thr >= 0):
        raise ConfigError("thr", "a finite number >= 0", thr)
    if not (math.isfinite(cost_per_side) and cost_per_side >= 0):
        raise ConfigError("cost_per_side", "a finite number >= 0", cost_per_side)
    if int(n_boot) != n_boot or n_boot < 1:
        raise ConfigError("n_boot", "a positive integer", n_boot)


# --------------------------------------------------------------------------------------------- per date


def _within_groups(key: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the average rank (1-based, ties share their mean rank) of ``values`` among the rows
    of its group ``key``, and its position (0-based; ties keep the rows' order) in that group."""
    n = key.size
    if n == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    order = np.lexsort((values, key))
    ks, vs = key[order], values[order]
    new_group = np.r_[True, ks[1:] != ks[:-1]]
    pos = np.arange(n) - np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    new_run = new_group | np.r_[True, vs[1:] != vs[:-1]]
    first = np.flatnonzero(new_run)
    last = np.r_[first[1:], n] - 1
    rank_sorted = ((pos[first] + pos[last]) / 2.0 + 1.0)[np.cumsum(new_run) - 1]
    ranks, position = np.empty(n), np.empty(n, dtype=np.int64)
    ranks[order], position[order] = rank_sorted, pos
    return ranks, position


def _group_spearman(key: np.ndarray, n_keys: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the Spearman correlation of ``a`` and ``b`` over its rows, and 1.0 where it is
    defined (at least :data:`MIN_ROWS_PER_DATE` rows, neither side constant) else 0.0."""
    ra, _ = _within_groups(key, a)
    rb, _ = _within_groups(key, b)

    def total(w: np.ndarray) -> np.ndarray:
        return np.bincount(key, weights=w, minlength=n_keys)

    n = np.maximum(total(np.ones(key.size)), 1.0)
    sa, sb = total(ra), total(rb)
    va, vb = total(ra * ra) - sa * sa / n, total(rb * rb) - sb * sb / n
    cov = total(ra * rb) - sa * sb / n
    ok = (total(np.ones(key.size)) >= MIN_ROWS_PER_DATE) & (va > 1e-6) & (vb > 1e-6)
    with np.errstate(invalid="ignore", divide="ignore"):
        ic = np.where(ok, cov / np.sqrt(np.where(ok, va * vb, 1.0)), 0.0)
    return np.clip(ic, -1.0, 1.0), ok.astype(float)


def _per_date_rank_stats(inv: np.ndarray, n_dates: int, yt: np.ndarray, yp: np.ndarray, tercile: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per date: rank IC and its validity, quintile spread and its validity, and per tercile the IC.

    The spread of a date with n ≥ 5 rows is the mean ``yt`` of its ``n // 5`` highest predictions
    minus that of its ``n // 5`` lowest (ties in the predictions keep the rows' order).
    """
    out: dict[str, np.ndarray] = {}
    out["ic"], out["ic_ok"] = _group_spearman(inv, n_dates, yp, yt)
    size = np.bincount(inv, minlength=n_dates)
    _, pos = _within_groups(inv, yp)
    k = (size // 5)[inv]
    top = np.bincount(inv, weights=yt * (pos >= size[inv] - k), minlength=n_dates)
    bottom = np.bincount(inv, weights=yt * (pos < k), minlength=n_dates)
    ok = size >= MIN_ROWS_PER_DATE
    out["spread"] = np.where(ok, (top - bottom) / np.maximum(size // 5, 1), 0.0)
    out["spread_ok"] = ok.astype(float)
    if tercile is not None:
        groups = np.where(tercile >= 0, inv * 3 + tercile, 3 * n_dates)  # unknown liquidity: a group of its own, dropped
        ic3, ok3 = _group_spearman(groups, 3 * n_dates + 1, yp, yt)
        ic3, ok3 = ic3[: 3 * n_dates], ok3[: 3 * n_dates]
        for t in range(3):
            out[f"ic{t}"], out[f"ic{t}_ok"] = ic3[t::3], ok3[t::3]
    return out


def _per_date_sums(inv: np.ndarray, n_dates: int, inp: dict[str, Any], train_majority: int, thr: float) -> dict[str, np.ndarray]:
    """Per date: hits and counts of the model (masked and all rows) and of both baselines."""
    yt, yp = inp["y_true"], inp["y_pred"]
    true_sign, pred_sign = np.sign(yt), np.sign(yp)
    past_sign = np.sign(np.nan_to_num(inp["past"], nan=0.0))
    mask = (np.abs(yt) > thr) & (np.abs(yp) > thr)
    every = yt != 0
    has_dir = mask & (past_sign != 0)

    def per_date(weights: np.ndarray) -> np.ndarray:
        return np.bincount(inv, weights=weights.astype(float), minlength=n_dates)

    return {
        "hits": per_date(mask & (pred_sign == true_sign)),
        "n": per_date(mask),
        "all_hits": per_date(every & (pred_sign == true_sign)),
        "all_n": per_date(every),
        "p_hits": per_date(has_dir & (past_sign == true_sign)),
        "p_n": per_date(has_dir),
        "m_hits": per_date(mask & (true_sign == float(train_majority))),
        "no_dir": per_date(mask & (past_sign == 0)),
    }


# --------------------------------------------------------------------------------------------- bootstrap


def _resample_counts(n_dates: int, block: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_dates)`` matrix: how often each date appears in each circular-block resample."""
    bs = CircularBlockBootstrap(block, np.arange(n_dates), seed=seed)
    idx = np.stack([bs.update_indices() for _ in range(n_boot)])
    flat = (np.arange(n_boot)[:, None] * n_dates + idx).ravel()
    return np.bincount(flat, minlength=n_boot * n_dates).reshape(n_boot, n_dates).astype(float)


def _ratio(num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> tuple[float | None, np.ndarray]:
    """The observed ratio ``scale * Σnum / Σden`` (``None`` if Σden is 0) and its resampled values
    (``num`` and ``den`` are the resampled sums, observed first)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(den > 0, scale * num / np.where(den > 0, den, 1.0), np.nan)
    obs = float(values[0]) if den[0] > 0 else None
    return obs, values[1:]


def _interval(obs: float | None, boot: np.ndarray, factor: float, bar: float | None = None, limits: tuple[float, float] = (0.0, 100.0)) -> tuple[float | None, float | None, float]:
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


def _ic_figure(counts: np.ndarray, ic: np.ndarray, ok: np.ndarray, factor_of: Any) -> tuple[float | None, float | None, float | None, float, int]:
    """Mean of the per-date ICs over valid dates: (mean, lo, hi, p vs 0, n valid dates)."""
    mean, boot = _ratio(counts @ (ic * ok), counts @ ok)
    n_ok = int(ok.sum())
    lo, hi, p = _interval(mean, boot, factor_of(n_ok), bar=0.0, limits=(-1.0, 1.0))
    return mean, lo, hi, p, n_ok


# --------------------------------------------------------------------------------------------- metrics


def panel_metrics(
    *,
    session: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    past_target: np.ndarray,
    train_majority: int,
    horizon: int,
    thr: float = 0.005,
    tercile: np.ndarray | None = None,
    cost_per_side: float = 0.001,
    n_boot: int = 1000,
    seed: int = 0,
    symbol: np.ndarray | None = None,
) -> PanelMetrics:
    """The holdout metrics of a universe model; rows may come in any order.

    Args:
        session: per row, its date as an index into the calendar of sessions (same value = same date).
        y_true: realised target, a log return over h sessions (for universe tasks the excess over
            the date's cross-sectional median).
        y_pred: the model's prediction of the target.
        past_target: the last h-session target known at the row's date; its sign is the
            persistence baseline's call; 0 or NaN is no call (the row is left out of that baseline).
        train_majority: +1 or -1, the training window's majority direction (the second baseline).
        horizon: h in sessions (the labels' overlap; the bootstrap blocks are at least h).
        thr: DirHit threshold on absolute log returns.
        tercile: per row, 0, 1 or 2, the liquidity tercile of the symbol (0 = least liquid), or -1
            where it is unknown (the row is left out of the tercile figures only); ``None`` skips
            the by-tercile IC.
        cost_per_side: log-return cost per trade side; ``spread_net = spread_mean − 4 × cost_per_side``.
        n_boot: bootstrap resamples.
        seed: the bootstrap's seed.
        symbol: per row, the symbol (any hashable values), to count symbols; optional.

    Returns:
        The :class:`PanelMetrics`, every figure with its 95 % interval.

    Raises:
        ConfigError: arrays of different lengths, non-finite ``y_true`` / ``y_pred``, a tercile
            outside 0..2, or a setting out of range.
    """
    _check_settings(train_majority, horizon, thr, cost_per_side, n_boot)
    inp = _check_inputs(session, y_true, y_pred, past_target, tercile, symbol)
    dates, inv = np.unique(inp["session"], return_inverse=True)
    n_dates = int(dates.size)
    block = block_length(n_dates, horizon)
    sums = _per_date_sums(inv, n_dates, inp, train_majority, thr)
    ranked = _per_date_rank_stats(inv, n_dates, inp["y_true"], inp["y_pred"], inp["tercile"])
    counts = np.vstack([np.ones(n_dates), _resample_counts(n_dates, block, n_boot, seed)]) if n_dates else np.ones((n_boot + 1, 0))
    fields_ = _header(inp, n_dates, block, horizon=horizon, thr=thr, cost=cost_per_side, n_boot=n_boot, seed=seed, train_majority=train_majority)
    factor_of = lambda n: widening(n, block, horizon)  # noqa: E731 - the widening at a statistic's own dates
    fields_.update(_dirhit_fields(counts, sums, factor_of))
    fields_["mask_pct"] = 100.0 * fields_["mask_count"] / fields_["n_rows"] if fields_["n_rows"] else 0.0
    fields_.update(_rank_fields(counts, ranked, dates, factor_of, cost_per_side, inp["tercile"] is not None))
    return PanelMetrics(**fields_)


def _header(inp: dict[str, Any], n_dates: int, block: int, *, horizon: int, thr: float, cost: float, n_boot: int, seed: int, train_majority: int) -> dict[str, Any]:
    """The counts and settings of a :class:`PanelMetrics`."""
    return {
        "n_rows": int(inp["session"].size),
        "n_dates": n_dates,
        "n_symbols": None if inp["symbol"] is None else int(np.unique(inp["symbol"]).size),
        "horizon": int(horizon),
        "thr": float(thr),
        "cost_per_side": float(cost),
        "block_length": block,
        "n_boot": int(n_boot),
        "seed": int(seed),
        "widening": widening(n_dates, block, horizon),
        "method": BOOTSTRAP_METHOD,
        "train_majority": int(train_majority),
    }


def _dirhit_fields(counts: np.ndarray, sums: dict[str, np.ndarray], factor_of: Any) -> dict[str, Any]:
    """The DirHit figures: masked (vs 50), all rows, both baselines and the paired edge."""
    res = {k: counts @ v for k, v in sums.items()}
    mask_dates = int((sums["n"] > 0).sum())
    factor = factor_of(mask_dates)
    dirhit, d_boot = _ratio(res["hits"], res["n"], 100.0)
    pers, p_boot = _ratio(res["p_hits"], res["p_n"], 100.0)
    major, m_boot = _ratio(res["m_hits"], res["n"], 100.0)
    all_dirhit, a_boot = _ratio(res["all_hits"], res["all_n"], 100.0)
    baselines = {k: v for k, v in (("persistence", pers), ("majority", major)) if v is not None}
    best = max(baselines, key=lambda k: baselines[k]) if baselines else None
    best_boot = np.fmax(p_boot, m_boot)
    edge = dirhit - baselines[best] if dirhit is not None and best is not None else None
    out: dict[str, Any] = {
        "mask_count": int(sums["n"].sum()),
        "mask_dates": mask_dates,
        "dirhit": dirhit,
        "dirhit_hits": int(sums["hits"].sum()),
        "all_dirhit": all_dirhit,
        "all_hits": int(sums["all_hits"].sum()),
        "all_count": int(sums["all_n"].sum()),
        "persistence_dirhit": pers,
        "persistence_hits": int(sums["p_hits"].sum()),
        "persistence_count": int(sums["p_n"].sum()),
        "persistence_no_direction": int(sums["no_dir"].sum()),
        "majority_dirhit": major,
        "majority_hits": int(sums["m_hits"].sum()),
        "best_baseline": best,
        "best_baseline_dirhit": baselines[best] if best else None,
        "edge": edge,
    }
    out["dirhit_lo"], out["dirhit_hi"], out["dirhit_p"] = _interval(dirhit, d_boot, factor, bar=50.0)
    out["all_dirhit_lo"], out["all_dirhit_hi"], _ = _interval(all_dirhit, a_boot, factor_of(int((sums["all_n"] > 0).sum())))
    out["persistence_lo"], out["persistence_hi"], _ = _interval(pers, p_boot, factor)
    out["majority_lo"], out["majority_hi"], _ = _interval(major, m_boot, factor)
    out["edge_lo"], out["edge_hi"], out["edge_p"] = _interval(edge, d_boot - best_boot, factor, bar=0.0, limits=(-100.0, 100.0))
    return out


def _rank_fields(counts: np.ndarray, ranked: dict[str, np.ndarray], dates: np.ndarray, factor_of: Any, cost: float, with_terciles: bool) -> dict[str, Any]:
    """The rank IC (overall and by tercile) and the quintile spread before and after costs."""
    ic_mean, ic_lo, ic_hi, ic_p, n_ic = _ic_figure(counts, ranked["ic"], ranked["ic_ok"], factor_of)
    valid = ranked["ic_ok"] > 0
    ics = ranked["ic"][valid]
    ic_std = float(np.std(ics, ddof=1)) if ics.size >= 2 else None
    spread, s_boot = _ratio(counts @ (ranked["spread"] * ranked["spread_ok"]), counts @ ranked["spread_ok"])
    n_spread = int(ranked["spread_ok"].sum())
    valid_spreads = ranked["spread"][ranked["spread_ok"] > 0]
    limits = (float(valid_spreads.min()), float(valid_spreads.max())) if valid_spreads.size else (0.0, 0.0)
    s_lo, s_hi, _ = _interval(spread, s_boot, factor_of(n_spread), limits=limits)
    shift = 4.0 * cost
    terciles = None
    if with_terciles:
        terciles = []
        for k in range(3):
            mean, lo, hi, p, n_k = _ic_figure(counts, ranked[f"ic{k}"], ranked[f"ic{k}_ok"], factor_of)
            terciles.append({"tercile": k, "ic_mean": mean, "ic_lo": lo, "ic_hi": hi, "ic_p": p, "n_dates": n_k})
    return {
        "ic_mean": ic_mean,
        "ic_lo": ic_lo,
        "ic_hi": ic_hi,
        "ic_p": ic_p,
        "ic_std": ic_std,
        "icir": ic_mean / ic_std if ic_mean is not None and ic_std else None,
        "n_ic_dates": n_ic,
        "ic_by_date": [[int(s), float(v)] for s, v in zip(dates[valid], ics)],
        "ic_by_tercile": terciles,
        "spread_mean": spread,
        "spread_lo": s_lo,
        "spread_hi": s_hi,
        "spread_net": None if spread is None else spread - shift,
        "spread_net_lo": None if s_lo is None else s_lo - shift,
        "spread_net_hi": None if s_hi is None else s_hi - shift,
        "n_spread_dates": n_spread,
    }


# --------------------------------------------------------------------------------------------- verdict


def _support_reasons(m: PanelMetrics, need: int) -> list[str]:
    """Why the panel cannot be judged at all (empty mask, too few dates), as sentences."""
    reasons = []
    if m.n_dates < need:
        reasons.append(
            f"only {m.n_dates} dates in the holdout: the verdict needs at least {need} "
            f"({MIN_DATES}, and two bootstrap blocks of h = {m.horizon} sessions)"
        )
    if m.dirhit is None:
        reasons.append(f"no masked rows (|y_true| and |y_pred| both above thr = {m.thr:g}): the DirHit is undefined")
    elif m.mask_dates < need:
        reasons.append(f"masked rows on only {m.mask_dates} dates: the verdict needs at least {need}")
    if m.n_ic_dates < need:
        reasons.append(
            f"a rank IC on only {m.n_ic_dates} dates (dates with at least {MIN_ROWS_PER_DATE} rows and varying "
            f"predictions): the verdict needs at least {need}"
        )
    return reasons


def _component(figure: float | None, lower: float | None, upper: float | None, p: float, bar: float, alpha: float, text: str, unit: str) -> dict[str, Any]:
    """One part of the rule: its figure, interval, bar, p-value, whether it passes, and if not why."""
    passes = figure is not None and p < alpha
    out = {"figure": figure, "lower": lower, "upper": upper, "bar": bar, "p": p, "passes": bool(passes), "reason": None}
    if figure is not None and not passes:
        why = f"its 95 % lower bound is not above {bar:g}{unit}" if lower is not None and lower <= bar else f"its one-sided p is not below {alpha:g}"
        out["reason"] = f"{text} (one-sided p = {p:.3f}): {why}"
    return out


def universe_verdict(m: PanelMetrics | dict[str, Any], *, alpha: float = RULE_ALPHA, target: str | None = None) -> dict[str, Any]:
    """Whether a universe model is usable, by :data:`USABLE_RULE_UNIVERSE`, from its holdout metrics.

    An intersection-union test of three one-sided bootstrap tests (``ic``: mean rank IC > 0;
    ``dirhit_vs_50``: pooled masked DirHit > 50 %; ``dirhit_vs_baseline``: its paired edge over the
    best baseline > 0): usable iff each component's p-value is below ``alpha``, which at the default
    0.025 is exactly "each 95 % lower bound clears its bar"; the rule's ``p_value`` is the largest
    component p-value (1.0 when the panel cannot be judged: empty mask or too few dates, each said
    in ``reasons``). Never raises on a thin panel.

    Args:
        m: the holdout's :class:`PanelMetrics` (or its dict).
        alpha: one-sided level of each component, in (0, 0.5).
        target: the target's name (``"excess"`` or ``"raw"``), passed through.

    Returns:
        A JSON-safe dict: ``usable`` (and ``passes_rule``, the same, for the cycle's false-discovery
        control), ``p_value``, ``components``, ``reasons`` (plain sentences with numbers, empty when
        usable), ``rule``, ``method``, ``alpha``, ``target``, ``best_baseline``,
        ``min_passing_dirhit`` (about the smallest DirHit these rows could certify: 50 plus the
        distance from the DirHit down to its lower bound).
    """
    if not 0.0 < alpha < 0.5:
        raise ConfigError("alpha", "in (0, 0.5)", alpha)
    m = m if isinstance(m, PanelMetrics) else PanelMetrics.from_dict(m)
    reasons = _support_reasons(m, min_dates(m.horizon))
    best = f"{m.best_baseline} {m.best_baseline_dirhit:.1f} %" if m.best_baseline else "none"
    comps = {
        "ic": _component(m.ic_mean, m.ic_lo, m.ic_hi, m.ic_p, 0.0, alpha, f"mean rank IC {_num(m.ic_mean, 3)} [{_num(m.ic_lo, 3)}, {_num(m.ic_hi, 3)}] over {m.n_ic_dates} dates", ""),
        "dirhit_vs_50": _component(m.dirhit, m.dirhit_lo, m.dirhit_hi, m.dirhit_p, 50.0, alpha, f"pooled masked DirHit {_num(m.dirhit, 1)} % [{_num(m.dirhit_lo, 1)}, {_num(m.dirhit_hi, 1)}] over {m.mask_count} rows", " %"),
        "dirhit_vs_baseline": _component(m.edge, m.edge_lo, m.edge_hi, m.edge_p, 0.0, alpha, f"pooled masked DirHit minus the best baseline on the same rows ({best}) {_num(m.edge, 1, '+')} points [{_num(m.edge_lo, 1, '+')}, {_num(m.edge_hi, 1, '+')}]", ""),
    }
    comps["dirhit_vs_baseline"].update(best_baseline=m.best_baseline, best_baseline_dirhit=m.best_baseline_dirhit)
    reasons += [c["reason"] for c in comps.values() if c["reason"]]
    usable = not reasons and all(c["passes"] for c in comps.values())
    judged = not _support_reasons(m, min_dates(m.horizon))
    return {
        "usable": bool(usable),
        "passes_rule": bool(usable),
        "p_value": float(max(c["p"] for c in comps.values())) if judged else 1.0,
        "components": comps,
        "reasons": reasons,
        "rule": USABLE_RULE_UNIVERSE,
        "method": m.method,
        "alpha": float(alpha),
        "target": target,
        "best_baseline": m.best_baseline,
        "min_passing_dirhit": 50.0 + (m.dirhit - m.dirhit_lo) if m.dirhit is not None and m.dirhit_lo is not None else None,
    }


def _num(value: float | None, digits: int, sign: str = "") -> str:
    return "undefined" if value is None else f"{value:{sign}.{digits}f}"


# --------------------------------------------------------------------------------------------- simulation

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
