"""The forward records of an as-of cycle's tasks read back and pooled: what the report and the
command line show (:mod:`bistlab.runs.forward` writes them). Imports core and evaluation only.
"""

from __future__ import annotations

from dataclasses import dataclass

from bistlab.core.records import ForwardScore
from bistlab.core.state import tasks_of_cycle
from bistlab.core.workspace import Workspace
from bistlab.evaluation.dirhit import DirHit
from bistlab.evaluation.panel import is_universe

__all__ = ["ForwardGroup", "read_forward", "forward_groups"]


def read_forward(ws: Workspace, cycle: int) -> list[ForwardScore]:
    """The forward records of a cycle's tasks (from ``runs/`` or the report's copies), horizon-first."""
    out = []
    for t in tasks_of_cycle(ws, cycle).tasks:
        score = ws.task(cycle, t.key).read(ForwardScore)
        if score is not None:
            out.append(score)
    return out


# ---------------------------------------------------------------- pooled


@dataclass(frozen=True)
class ForwardGroup:
    """The forward record of a group of per-symbol tasks (usable, or not-usable, models).

    Attributes:
        label: what the group is.
        n_tasks: tasks in the group.
        sessions: sessions scored, summed over its tasks.
        dirhit: the pooled masked DirHit (hits and counts summed; effective counts summed, tasks
            treated as independent) with its interval.
        persistence: persistence's DirHit on the same rows.
        majority: the majority direction's DirHit on the same rows.
    """

    label: str
    n_tasks: int
    sessions: int
    dirhit: DirHit
    persistence: DirHit
    majority: DirHit


def _group(label: str, scores: list[ForwardScore]) -> ForwardGroup:
    hits = count = n_eff = p_hits = p_count = p_n_eff = m_hits = 0.0
    for s in scores:
        m, c = s.metrics, float(s.metrics.get("mask_count") or 0)
        if not c:
            continue
        hits += float(m.get("dirhit_hits") or 0)
        count += c
        n_eff += s.n_eff
        pc = float(m.get("persistence_count") or 0)
        p_hits += float(m.get("persistence_hits") or 0)
        p_count += pc
        p_n_eff += s.n_eff * pc / c
        m_hits += float(m.get("majority_hits") or 0)
    return ForwardGroup(
        label=label, n_tasks=len(scores), sessions=sum(s.sessions for s in scores),
        dirhit=DirHit.rate(hits, int(count), n_eff if count else None),
        persistence=DirHit.rate(p_hits, int(p_count), p_n_eff if p_count else None),
        majority=DirHit.rate(m_hits, int(count), n_eff if count else None),
    )


def forward_groups(scores: list[ForwardScore]) -> list[ForwardGroup]:
    """The per-symbol tasks' forward records pooled into usable and not-usable models (their
    flags at the cycle); a universe task's record stands on its own (its rows share dates)."""
    own = [s for s in scores if not is_universe(s.symbol)]
    return [_group("usable models", [s for s in own if s.usable]), _group("not-usable models", [s for s in own if not s.usable])]
