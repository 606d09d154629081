"""Multiple-testing honesty: how much of a study's best DirHit is owed to the search itself.

An HPO study tries N configurations on the same walk-forward splits and keeps the best one. The
best trial's DirHit is therefore the maximum of N noisy estimates and is biased upward even when
no configuration has any skill. This module puts numbers on that bias, per study:

- **Holdout minus HPO gap**: the selected trial's holdout DirHit (rows never seen by the search)
  minus its HPO DirHit. Negative values are the expected shrinkage; it is the most direct
  measure, but it is one draw on a short holdout, so read it with the holdout's interval.
- **Probability of backtest overfitting (PBO)** by combinatorially symmetric cross-validation
  (CSCV; Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting", 2016),
  over the trials × splits matrix of split DirHits. The S walk-forward splits are the blocks:
  every way of choosing half of them (S = 4: all 6 two-of-four combinations) is an in-sample
  set, the other half out-of-sample. In each combination the trial with the best mean in-sample
  DirHit is taken and its out-of-sample rank among all trials is turned into a logit
  ``λ = ln(ω / (1 − ω))`` with ``ω = rank / (N + 1)``. PBO is the share of combinations where
  ``λ <= 0``: the in-sample winner is at or below the out-of-sample median. About 0.5 means the
  search picked noise; near 0 means the winner stays a winner on splits it was not picked on.
- **Best-of-N noise reference** (a deflated figure, in the spirit of the deflated Sharpe ratio of
  Bailey & López de Prado 2014): the DirHit that the best of N independent coin-flip trials would
  reach on average with the same number of masked rows,
  ``50 + E[max of N standard normals] × 50 / sqrt(n)``, and the probability that the best trial's
  pooled DirHit is above it by more than noise.

Limits, stated in the report too: with 4 splits there are only 6 combinations, so PBO moves in
steps of 1/6 and is a coarse estimate; only trials with a defined DirHit on every split enter
the matrix (the support filter is not applied, so that every combination ranks the same trials);
the splits are contiguous and of different training lengths, so they are not exchangeable blocks
as CSCV assumes; and the trials of a study are strongly correlated (same data, nearby
parameters), so the independent-trials noise reference overstates the selection premium of a
study whose trials are near-copies. None of these figures enters the usable rule, which uses the
holdout only (:func:`bistlab.evaluation.metrics.usable_verdict`).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from bistlab.evaluation.intervals import RULE_ALPHA

__all__ = [
    "PBOResult",
    "StudyHonesty",
    "pbo_cscv",
    "expected_max_normal",
    "noise_max_dirhit",
    "split_dirhit_matrix",
    "study_honesty",
    "METHOD_TEXT",
    "METHOD_ITEMS",
    "FDR_Q",
    "CycleControl",
    "fdr_control",
]

logger = logging.getLogger(__name__)

EULER_GAMMA = 0.5772156649015329

METHOD_ITEMS: tuple[str, ...] = (
    "Each study tried N configurations on the same walk-forward splits and kept the best one, so its HPO DirHit "
    "is the maximum of N noisy numbers and is biased upward. Three figures measure how much of it is selection:",
    "Holdout − HPO gap: the selected configuration's DirHit on the holdout (rows never seen by the search) minus its "
    "HPO DirHit; negative is the expected shrinkage. It is one draw on a short holdout: read it with the holdout's interval.",
    "PBO, the probability of backtest overfitting, by combinatorially symmetric cross-validation (Bailey et al. 2016) "
    "over the trials × splits matrix of split DirHits: for every choice of half of the splits as in-sample (4 splits: "
    "all 6 two-of-four combinations), the trial with the best in-sample DirHit is ranked among all trials on the other "
    "half. PBO is the share of combinations where it falls at or below the out-of-sample median: about 0.5 means the "
    "search picked noise, near 0 that the winner keeps winning on splits it was not chosen on.",
    "Best-of-N noise reference (a deflated figure in the spirit of the deflated Sharpe ratio): the DirHit the best of N "
    "independent coin-flip trials reaches on average with as many masked rows, 50 + E[max of N normals] × 50 / √n, and "
    "the probability that the selected trial's pooled DirHit beats it by more than sampling noise.",
    "Limits: with 4 splits PBO moves in steps of 1/6 and is coarse; only trials with a DirHit on every split enter the "
    "matrix, without the support filter; the splits are contiguous windows with growing training sets, not the "
    "exchangeable blocks CSCV assumes; the trials of a study are correlated, so the independent-trials reference "
    "overstates the premium of near-identical trials. No figure here enters the usable rule, which uses holdout "
    "numbers only.",
)
"""The method and its limits in words, for the report: an introduction, then one item per figure."""

METHOD_TEXT = " ".join(METHOD_ITEMS)


@dataclass(frozen=True)
class PBOResult:
    """Outcome of CSCV on one trials × splits matrix.

    Attributes:
        pbo: share of combinations whose in-sample winner ranks at or below the out-of-sample
            median (0..1); ``None`` when it cannot be computed.
        n_trials: trials in the matrix (rows).
        n_splits: splits in the matrix (columns).
        n_combinations: in-sample / out-of-sample partitions evaluated.
        logits: ``λ`` of each combination.
        mean_oos_rank_pct: mean out-of-sample percentile (0..100) of the in-sample winners.
        reason: why ``pbo`` is ``None`` (empty otherwise).
    """

    pbo: float | None
    n_trials: int
    n_splits: int
    n_combinations: int
    logits: tuple[float, ...] = ()
    mean_oos_rank_pct: float | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pbo_cscv(matrix: np.ndarray | Sequence[Sequence[float]], *, higher_is_better: bool = True) -> PBOResult:
    """Probability of backtest overfitting by CSCV.

    Args:
        matrix: performance of each trial (rows) on each split (columns), e.g. split DirHits in
            percent. Must be finite; drop incomplete trials first (:func:`split_dirhit_matrix`).
        higher_is_better: the metric's direction.

    Returns:
        The :class:`PBOResult`. With S splits, every combination of ``S // 2`` in-sample splits is
        used (an odd S leaves the larger half out-of-sample). Ties in the out-of-sample ranking get
        their average rank; ties in-sample go to the earlier trial.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"`matrix` must be 2-D (trials × splits) but got shape {m.shape}")
    n, s = m.shape
    if n < 2 or s < 2:
        return PBOResult(None, n, s, 0, reason=f"needs at least 2 trials and 2 splits with a DirHit on every split (have {n} × {s})")
    if not np.isfinite(m).all():
        raise ValueError("`matrix` must be finite; drop trials with an undefined split DirHit first")
    if not higher_is_better:
        m = -m
    half = s // 2
    logits = []
    ranks_pct = []
    for is_cols in itertools.combinations(range(s), half):
        oos_cols = [c for c in range(s) if c not in is_cols]
        best = int(np.argmax(m[:, list(is_cols)].mean(axis=1)))
        oos = m[:, oos_cols].mean(axis=1)
        rank = float(stats.rankdata(oos)[best])  # 1 = worst, n = best; ties averaged
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1.0 - omega)))
        ranks_pct.append(100.0 * (rank - 1) / (n - 1))
    lam = np.asarray(logits)
    return PBOResult(
        pbo=float(np.mean(lam <= 0.0)),
        n_trials=n,
        n_splits=s,
        n_combinations=len(logits),
        logits=tuple(float(x) for x in lam),
        mean_oos_rank_pct=float(np.mean(ranks_pct)),
    )


def expected_max_normal(n: int) -> float:
    """E[max of ``n`` independent standard normals], by the approximation of the deflated Sharpe ratio.

    ``(1 − γ) Φ⁻¹(1 − 1/n) + γ Φ⁻¹(1 − 1/(n e))``; 0 for ``n <= 1``.
    """
    if n <= 1:
        return 0.0
    return float((1 - EULER_GAMMA) * stats.norm.ppf(1 - 1.0 / n) + EULER_GAMMA * stats.norm.ppf(1 - 1.0 / (n * math.e)))


def noise_max_dirhit(n_trials: int, count: int) -> float | None:
    """The DirHit (percent) the best of ``n_trials`` coin-flip trials reaches on average over ``count`` rows."""
    if count <= 0:
        return None
    return 50.0 + expected_max_normal(n_trials) * 50.0 / math.sqrt(count)


def split_dirhit_matrix(trials: Sequence[dict[str, Any]]) -> tuple[np.ndarray, list[int]]:
    """The trials × splits matrix of split DirHits from compact trial records.

    Args:
        trials: dicts with ``number`` and ``splits`` (each split a dict with ``dirhit``), as
            :func:`bistlab.report` stores them; trials without a DirHit on every split are left out.

    Returns:
        The matrix (percent) and the trial numbers of its rows.
    """
    rows, numbers = [], []
    width = max((len(t.get("splits") or []) for t in trials), default=0)
    for t in trials:
        splits = t.get("splits") or []
        values = [s.get("dirhit") for s in splits]
        if len(values) == width and width > 0 and all(v is not None for v in values):
            rows.append([float(v) for v in values])
            numbers.append(int(t["number"]))
    return np.asarray(rows, dtype=float).reshape(len(rows), width), numbers


@dataclass(frozen=True)
class StudyHonesty:
    """The multiple-testing figures of one study (see the module docstring).

    Attributes:
        n_trials: trials in the study (any state).
        n_complete: complete trials.
        hpo_dirhit: the selected trial's HPO DirHit, percent (biased by the search).
        holdout_dirhit: its holdout DirHit, percent.
        holdout_minus_hpo: ``holdout_dirhit − hpo_dirhit``, points.
        median_trial_dirhit: median over complete trials of their mean split DirHit, percent.
        best_minus_median: ``hpo_dirhit − median_trial_dirhit``, points: the best-of-N premium.
        pooled_count: masked rows behind the selected trial's counted splits.
        noise_max_dirhit: the best-of-N coin-flip reference for ``pooled_count`` rows, percent.
        deflated_prob: P(the selected trial's pooled DirHit is above the noise reference by more
            than its sampling error), a normal approximation.
        pbo: the CSCV result.
    """

    n_trials: int
    n_complete: int
    hpo_dirhit: float | None
    holdout_dirhit: float | None
    holdout_minus_hpo: float | None
    median_trial_dirhit: float | None
    best_minus_median: float | None
    pooled_count: int
    noise_max_dirhit: float | None
    deflated_prob: float | None
    pbo: PBOResult

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def study_honesty(
    trials: Sequence[dict[str, Any]],
    *,
    n_trials: int,
    hpo_dirhit: float | None,
    counted_splits: Sequence[dict[str, Any]],
    holdout_dirhit: float | None,
) -> StudyHonesty:
    """The multiple-testing figures of one study.

    Args:
        trials: compact records of the study's complete trials: ``number``, ``avg_dirhit`` and
            ``splits`` (per split ``dirhit``, ``dirhit_hits``, ``mask_count``).
        n_trials: trials in the study, any state.
        hpo_dirhit: the selected trial's HPO DirHit, percent.
        counted_splits: the selected trial's splits that the selection counted (``dirhit_hits``,
            ``mask_count``).
        holdout_dirhit: the selected trial's holdout DirHit, percent, if evaluated.
    """
    hits = sum(int(s.get("dirhit_hits") or 0) for s in counted_splits)
    count = sum(int(s.get("mask_count") or 0) for s in counted_splits)
    avgs = [t["avg_dirhit"] for t in trials if t.get("avg_dirhit") is not None]
    median = float(np.median(avgs)) if avgs else None
    noise = noise_max_dirhit(len(trials), count)
    deflated = None
    if noise is not None and count > 0:
        pooled = 100.0 * hits / count
        se = 50.0 / math.sqrt(count)
        deflated = float(stats.norm.cdf((pooled - noise) / se))
    matrix, _ = split_dirhit_matrix(trials)
    return StudyHonesty(
        n_trials=n_trials,
        n_complete=len(trials),
        hpo_dirhit=hpo_dirhit,
        holdout_dirhit=holdout_dirhit,
        holdout_minus_hpo=(holdout_dirhit - hpo_dirhit) if hpo_dirhit is not None and holdout_dirhit is not None else None,
        median_trial_dirhit=median,
        best_minus_median=(hpo_dirhit - median) if hpo_dirhit is not None and median is not None else None,
        pooled_count=count,
        noise_max_dirhit=noise,
        deflated_prob=deflated,
        pbo=pbo_cscv(matrix),
    )


FDR_Q = 0.10
"""The false discovery rate the cycle-wide control of the usable flag allows (Benjamini–Hochberg)."""


@dataclass(frozen=True)
class CycleControl:
    """The cycle-wide false-discovery control of the usable flag.

    A cycle tests one holdout per task; with many tasks some pass the rule by luck. The flag is
    kept only for tasks that pass the rule *and* whose Benjamini–Hochberg adjusted p-value (over
    every tested task of the cycle, plus every other look already taken at the same holdout of
    the same task: other cycles on the same holdout dates and prices, :mod:`bistlab.evaluation.looks`) is
    at most ``q``: among the flags kept, at most a share ``q`` is expected to be false, and with
    no skill anywhere the chance of any flag is at most ``q``, however often an unchanged holdout
    is judged again.

    Attributes:
        q: the false discovery rate allowed.
        n_tested: tasks with a holdout test (evaluated).
        n_pass_individual: tasks that pass the rule on their own.
        n_kept: tasks whose flag survives the control.
        expected_chance_individual: individual passes that pure chance would give at most,
            ``n_tested × 0.025`` (the one-sided level of the rule).
        kept: task key -> the controlled flag.
        p_values: task key -> the rule's one-sided p-value.
        q_values: task key -> the Benjamini–Hochberg adjusted p-value.
        n_earlier: other looks at the same holdouts that joined the family (0: this cycle's
            verdicts are the whole family).
        looks: task key -> looks at its holdout, this cycle's included (1: the first).
    """

    q: float
    n_tested: int
    n_pass_individual: int
    n_kept: int
    expected_chance_individual: float
    kept: dict[str, bool]
    p_values: dict[str, float]
    q_values: dict[str, float]
    n_earlier: int = 0
    looks: dict[str, int] = field(default_factory=dict)

    @property
    def n_family(self) -> int:
        """Verdicts in the Benjamini–Hochberg family: this cycle's and the earlier looks."""
        return self.n_tested + self.n_earlier

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def words(self) -> str:
        """What the control did, for the report."""
        return (
            f"{self.n_pass_individual} of {self.n_tested} tested tasks pass the rule on their own; "
            f"{self.n_kept} keep the usable flag after Benjamini–Hochberg control of the false discovery rate at "
            f"{100 * self.q:.0f} % across the cycle{self._earlier_words()}. Pure chance (no skill anywhere) would give at most about "
            f"{self.expected_chance_individual:.1f} individual passes among {self.n_tested} tasks "
            f"({100 * RULE_ALPHA:.1f} % each); after the control, with no skill anywhere the chance of even one usable "
            f"flag is at most {100 * self.q:.0f} %, and at most {100 * self.q:.0f} % of the flags kept are expected to be false."
        )

    def _earlier_words(self) -> str:
        if not self.n_earlier:
            return ""
        looks = "look" if self.n_earlier == 1 else "looks"
        return (
            f" and the {self.n_earlier} earlier {looks} at the same holdouts (other cycles on the same holdout dates and "
            f"prices; a family of {self.n_family} verdicts)"
        )


def fdr_control(
    verdicts: Mapping[str, dict[str, Any]], *, q: float = FDR_Q, earlier: Mapping[str, Sequence[float]] | None = None
) -> CycleControl:
    """Benjamini–Hochberg control of the usable flags of one cycle.

    Args:
        verdicts: task key -> its holdout verdict (:func:`bistlab.evaluation.metrics.usable_verdict`: ``p_value``
            and ``passes_rule``), for every task evaluated on its holdout.
        q: the false discovery rate allowed.
        earlier: task key -> the one-sided p-values of every other look already taken at the
            same holdout of that task (other cycles on the same holdout dates and prices,
            :func:`bistlab.evaluation.looks.holdout_looks`). They join the family, so a holdout judged again
            buys no new chance to pass; keys not in ``verdicts`` are ignored.

    Returns:
        The :class:`CycleControl`; its adjusted p-values are those of this cycle's verdicts in the
        whole family.
    """
    keys = list(verdicts)
    p = np.array([float(verdicts[k].get("p_value", 1.0)) for k in keys], dtype=float)
    others = {k: [float(x) for x in (earlier or {}).get(k, ())] for k in keys}
    family = np.concatenate([p, np.array([x for k in keys for x in others[k]], dtype=float)])
    adjusted = stats.false_discovery_control(family, method="bh")[: len(keys)] if keys else np.array([])
    passes = {k: bool(verdicts[k].get("passes_rule", verdicts[k].get("usable"))) for k in keys}
    kept = {k: passes[k] and bool(a <= q) for k, a in zip(keys, adjusted)}
    return CycleControl(
        q=q,
        n_tested=len(keys),
        n_pass_individual=sum(passes.values()),
        n_kept=sum(kept.values()),
        expected_chance_individual=len(keys) * RULE_ALPHA,
        kept=kept,
        p_values={k: float(v) for k, v in zip(keys, p)},
        q_values={k: float(v) for k, v in zip(keys, adjusted)},
        n_earlier=len(family) - len(keys),
        looks={k: 1 + len(others[k]) for k in keys},
    )
