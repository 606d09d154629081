"""Holdout metrics and the usable verdict of a universe model (DESIGN.md "Universe models").

A universe model is one model trained on every symbol at once; its holdout is a panel of rows
(date, symbol). This module measures such a panel: the pooled masked DirHit (and the all-rows one,
for reference), the persistence and majority baselines on the same masked rows, the per-date rank
IC (overall and by liquidity tercile) and the top-minus-bottom quintile spread before and after
costs, each with a 95 % interval.

Percentages are in 0..100, returns are log returns, a DirHit that is undefined is ``None``.

**Intervals** come from a circular block bootstrap over dates, widened for its own shrinkage and the
overlap of h-day labels: :mod:`bistlab.evaluation.date_bootstrap`. The verdict is :mod:`bistlab.evaluation.universe_rule`; its
yardstick runs in :mod:`bistlab.evaluation.universe_simulation`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from bistlab.evaluation.date_bootstrap import BOOTSTRAP_METHOD, block_length, percentile_interval, ratio_resamples, resample_counts, widening
from bistlab.errors import ConfigError

__all__ = ["PanelMetrics", "panel_metrics", "min_dates", "MIN_ROWS_PER_DATE", "MIN_DATES"]

MIN_ROWS_PER_DATE = 5
"""A date enters the rank IC and the quintile spread only with at least this many rows."""
MIN_DATES = 20
"""The verdict needs at least this many dates behind each component (and two bootstrap blocks)."""


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


def _ic_figure(counts: np.ndarray, ic: np.ndarray, ok: np.ndarray, factor_of: Any) -> tuple[float | None, float | None, float | None, float, int]:
    """Mean of the per-date ICs over valid dates: (mean, lo, hi, p vs 0, n valid dates)."""
    mean, boot = ratio_resamples(counts @ (ic * ok), counts @ ok)
    n_ok = int(ok.sum())
    lo, hi, p = percentile_interval(mean, boot, factor_of(n_ok), bar=0.0, limits=(-1.0, 1.0))
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
    counts = np.vstack([np.ones(n_dates), resample_counts(n_dates, block, n_boot, seed)]) if n_dates else np.ones((n_boot + 1, 0))
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
    dirhit, d_boot = ratio_resamples(res["hits"], res["n"], 100.0)
    pers, p_boot = ratio_resamples(res["p_hits"], res["p_n"], 100.0)
    major, m_boot = ratio_resamples(res["m_hits"], res["n"], 100.0)
    all_dirhit, a_boot = ratio_resamples(res["all_hits"], res["all_n"], 100.0)
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
    out["dirhit_lo"], out["dirhit_hi"], out["dirhit_p"] = percentile_interval(dirhit, d_boot, factor, bar=50.0)
    out["all_dirhit_lo"], out["all_dirhit_hi"], _ = percentile_interval(all_dirhit, a_boot, factor_of(int((sums["all_n"] > 0).sum())))
    out["persistence_lo"], out["persistence_hi"], _ = percentile_interval(pers, p_boot, factor)
    out["majority_lo"], out["majority_hi"], _ = percentile_interval(major, m_boot, factor)
    out["edge_lo"], out["edge_hi"], out["edge_p"] = percentile_interval(edge, d_boot - best_boot, factor, bar=0.0, limits=(-100.0, 100.0))
    return out


def _rank_fields(counts: np.ndarray, ranked: dict[str, np.ndarray], dates: np.ndarray, factor_of: Any, cost: float, with_terciles: bool) -> dict[str, Any]:
    """The rank IC (overall and by tercile) and the quintile spread before and after costs."""
    ic_mean, ic_lo, ic_hi, ic_p, n_ic = _ic_figure(counts, ranked["ic"], ranked["ic_ok"], factor_of)
    valid = ranked["ic_ok"] > 0
    ics = ranked["ic"][valid]
    ic_std = float(np.std(ics, ddof=1)) if ics.size >= 2 else None
    spread, s_boot = ratio_resamples(counts @ (ranked["spread"] * ranked["spread_ok"]), counts @ ranked["spread_ok"])
    n_spread = int(ranked["spread_ok"].sum())
    valid_spreads = ranked["spread"][ranked["spread_ok"] > 0]
    limits = (float(valid_spreads.min()), float(valid_spreads.max())) if valid_spreads.size else (0.0, 0.0)
    s_lo, s_hi, _ = percentile_interval(spread, s_boot, factor_of(n_spread), limits=limits)
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


# --------------------------------------------------------------------------------------------- simulation


