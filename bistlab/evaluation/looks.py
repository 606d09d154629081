"""Every look at a holdout: the verdicts taken in this workspace, so that judging an unchanged
holdout again buys no new chance to pass.

A cycle judges each task on its holdout (the last rows of its prices). With unchanged prices the
next cycle judges the same rows again; if every cycle had a fresh false-discovery budget, running
cycles until something passes would be a way to find luck. The false-discovery family of a verdict
is therefore every verdict ever taken in the workspace on the same holdout of the same task
(``../shared/DESIGN.md``, "Many tasks"): the same task key, the same first and last holdout date and
the same prices (data fingerprint), whatever the cycle.

The looks are one SQL table, ``verdict_looks``, in the forecast ledger's database
(``Workspace.ledger_url``: the price store's own, SQLite or PostgreSQL, or ``runs/forecasts.sqlite``
beside a price table read in place): one row per (task key, cycle, holdout first date, holdout last
date, fingerprint) with the verdict's one-sided p-value and whether it passed the rule on its own.
Reading a cycle again never adds a row; it only brings the row's p-value up to today's rule (the
report recomputes every verdict with today's rule). A cycle whose prices changed (other holdout
dates, or another fingerprint) starts a fresh family for that task. A task re-evaluated within the
same cycle on the same prices is the same look (its latest p-value is kept).

:func:`control_cycle` records a cycle's looks and returns the cycle-wide control
(:func:`bistlab.evaluation.honesty.fdr_control`) over the cycle's verdicts plus every other look at the same
holdouts, with :class:`HoldoutLooks` saying how often they have been judged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import Boolean, Column, Date, Float, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bistlab.evaluation.ledger import open_tables
from bistlab.evaluation.honesty import CycleControl, fdr_control
from bistlab.core.workspace import Workspace
from bistlab.core.records import Evaluation

__all__ = [
    "LOOK_COLUMNS",
    "Look",
    "VerdictLooks",
    "HoldoutLooks",
    "look_of",
    "record_looks",
    "holdout_looks",
    "family",
    "control_cycle",
]

logger = logging.getLogger(__name__)

_metadata = MetaData()
looks_table = Table(
    "verdict_looks",
    _metadata,
    Column("task_key", String(64), primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("holdout_first", Date, primary_key=True),
    Column("holdout_last", Date, primary_key=True),
    Column("data_fingerprint", String(64), primary_key=True),
    Column("symbol", String(32), nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("p_value", Float, nullable=False),
    Column("passes_rule", Boolean, nullable=False),
    Column("recorded_at", String(40), nullable=False),
)

LOOK_COLUMNS: tuple[str, ...] = tuple(c.name for c in looks_table.columns)
"""Columns of ``verdict_looks``: the look's key (task, cycle, holdout dates, prices), then the
symbol, horizon, the verdict's one-sided p-value, its own rule, and when it was recorded (UTC)."""

_P_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Look:
    """One verdict taken on a holdout.

    Attributes:
        task_key: ``"<SYMBOL>_<h>d"`` (or ``UNIVERSE_<h>d``).
        cycle: the cycle that judged it.
        holdout_first, holdout_last: the holdout's first and last date.
        data_fingerprint: the prices it was judged on.
        symbol, horizon: the task.
        p_value: the rule's one-sided p-value.
        passes_rule: the task's own rule, before the cycle-wide control.
    """

    task_key: str
    cycle: int
    holdout_first: date
    holdout_last: date
    data_fingerprint: str
    symbol: str
    horizon: int
    p_value: float
    passes_rule: bool

    @property
    def holdout(self) -> tuple[str, date, date, str]:
        """What makes two looks looks at the same holdout: task, dates and prices."""
        return (self.task_key, self.holdout_first, self.holdout_last, self.data_fingerprint)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(str(value)).date()


def look_of(key: str, cycle: int, ev: Evaluation, verdict: Mapping[str, object] | None = None) -> Look | None:
    """The look a task's evaluation took; ``None`` when its holdout dates or prices are unknown
    (such a verdict still enters its own cycle's family, but cannot be matched with others).

    Args:
        key: the task key.
        cycle: the cycle.
        ev: its evaluation.
        verdict: its verdict, if already computed (default ``ev.rule_verdict()``).
    """
    dates = list(ev.holdout_dates or [])
    if len(dates) < 2 or not dates[0] or not dates[-1] or not ev.data_fingerprint:
        logger.info("%s (cycle %d): no holdout dates or fingerprint; its look cannot be matched with other cycles'", key, cycle)
        return None
    verdict = ev.rule_verdict() if verdict is None else verdict
    return Look(
        task_key=key,
        cycle=int(cycle),
        holdout_first=_as_date(dates[0]),
        holdout_last=_as_date(dates[-1]),
        data_fingerprint=str(ev.data_fingerprint),
        symbol=str(ev.symbol),
        horizon=int(ev.horizon),
        p_value=float(verdict.get("p_value", 1.0)),
        passes_rule=bool(verdict.get("passes_rule", verdict.get("usable"))),
    )


class VerdictLooks:
    """The ``verdict_looks`` table of one database.

    Args:
        url: SQLAlchemy URL (see ``Workspace.ledger_url``).

    Raises:
        DataError: the database cannot be opened.
    """

    def __init__(self, url: str) -> None:
        self.engine: Engine = open_tables(url, _metadata, what="verdict looks")

    @classmethod
    def of(cls, ws: Workspace) -> "VerdictLooks":
        """The workspace's table, in its ledger's database (``Workspace.ledger_url``)."""
        return cls(ws.ledger_url)

    def close(self) -> None:
        self.engine.dispose()

    def record(self, looks: Iterable[Look]) -> int:
        """Add the looks not in the table yet; a look already there keeps its row, its p-value
        and rule brought up to the given ones (the same look, judged with today's rule).

        Returns:
            Rows added.
        """
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t = looks_table
        added = updated = 0
        for look in looks:
            key = (t.c.task_key == look.task_key) & (t.c.cycle == look.cycle) & (t.c.holdout_first == look.holdout_first)
            key &= (t.c.holdout_last == look.holdout_last) & (t.c.data_fingerprint == look.data_fingerprint)
            try:
                with self.engine.begin() as conn:
                    old = conn.execute(select(t.c.p_value, t.c.passes_rule).where(key)).first()
                    if old is None:
                        conn.execute(t.insert().values(**{c: getattr(look, c) for c in LOOK_COLUMNS if c != "recorded_at"}, recorded_at=stamp))
                        added += 1
                    elif abs(float(old.p_value) - look.p_value) > _P_TOLERANCE or bool(old.passes_rule) != look.passes_rule:
                        conn.execute(t.update().where(key).values(p_value=look.p_value, passes_rule=look.passes_rule))
                        updated += 1
            except IntegrityError:  # recorded by another process meanwhile
                continue
        logger.info("verdict looks: %d added, %d brought up to today's rule", added, updated)
        return added

    def read(self, *, keys: Iterable[str] | None = None) -> list[Look]:
        """Every recorded look (optionally of some task keys), by cycle."""
        query = select(looks_table)
        if keys is not None:
            query = query.where(looks_table.c.task_key.in_(list(keys)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        looks = [
            Look(**{**{c: row[c] for c in LOOK_COLUMNS if c != "recorded_at"}, "holdout_first": _as_date(row["holdout_first"]), "holdout_last": _as_date(row["holdout_last"])})
            for row in rows
        ]
        return sorted(looks, key=lambda x: (x.cycle, x.task_key))


def _cycle_looks(cycle: int, evaluations: Mapping[str, Evaluation], verdicts: Mapping[str, Mapping[str, object]] | None = None) -> list[Look]:
    looks = (look_of(k, cycle, ev, (verdicts or {}).get(k)) for k, ev in evaluations.items())
    return [x for x in looks if x is not None]


def record_looks(ws: Workspace, cycle: int, evaluations: Mapping[str, Evaluation], *, verdicts: Mapping[str, Mapping[str, object]] | None = None) -> int:
    """Record the looks a cycle's evaluations took (idempotent: reading a cycle again adds nothing).

    Args:
        ws: the workspace.
        cycle: the cycle.
        evaluations: task key -> its evaluation.
        verdicts: task key -> its verdict, if already computed (default ``ev.rule_verdict()``).

    Returns:
        Rows added.

    Raises:
        DataError: the ledger's database cannot be opened.
    """
    table = VerdictLooks.of(ws)
    try:
        return table.record(_cycle_looks(cycle, evaluations, verdicts))
    finally:
        table.close()


@dataclass(frozen=True)
class HoldoutLooks:
    """How often the holdouts of one cycle's tasks have been judged in the workspace.

    Attributes:
        cycle: the cycle.
        looks: task key -> every look at the same holdout as this cycle's look of the task (same
            dates and prices, any cycle; this cycle's included), by cycle. Tasks whose holdout
            dates or prices are unknown are absent.
    """

    cycle: int
    looks: dict[str, list[Look]]

    def family(self) -> dict[str, list[float]]:
        """Task key -> the p-values of every look at its holdout, this cycle's included."""
        return {k: [x.p_value for x in v] for k, v in self.looks.items()}

    def earlier(self) -> dict[str, list[float]]:
        """Task key -> the p-values of the other cycles' looks at its holdout (what
        :func:`bistlab.evaluation.honesty.fdr_control` adds to the family)."""
        return {k: [x.p_value for x in v if x.cycle != self.cycle] for k, v in self.looks.items()}

    def counts(self) -> dict[str, int]:
        """Task key -> looks at its holdout, this cycle's included."""
        return {k: len(v) for k, v in self.looks.items()}

    def cycles(self) -> list[int]:
        """Every cycle that judged at least one of these holdouts."""
        return sorted({x.cycle for v in self.looks.values() for x in v})

    def words(self) -> str:
        """How often the holdouts were judged, for the report."""
        cycles, counts = self.cycles(), self.counts()
        if not counts:
            return ""
        if len(cycles) <= 1:
            return (
                f"The holdouts of this cycle have been judged once in this workspace (cycle {self.cycle}): no other cycle has "
                "judged the same holdout dates on the same prices. The false-discovery control counts every look: a later "
                "cycle on unchanged prices joins this family, so looking again buys no new chance to pass."
            )
        listed = ", ".join(str(c) for c in cycles[:-1]) + f" and {cycles[-1]}"
        total, full = sum(counts.values()), sum(n == len(cycles) for n in counts.values())
        text = (
            f"The holdouts of this cycle have been judged {len(cycles)} times in this workspace (cycles {listed}); the "
            f"false-discovery control counts every look: {total} verdicts on the same holdout dates and prices form its "
            f"family, not only this cycle's {len(counts)}, so looking again buys no new chance to pass."
        )
        if full < len(counts):
            text += f" {full} of the {len(counts)} tasks were judged in every one of these cycles; the others' holdout dates or prices differed in some."
        return text


def _match(cycle: int, own: Iterable[Look], recorded: Iterable[Look]) -> HoldoutLooks:
    recorded = list(recorded)
    looks = {}
    for look in own:
        same = [r for r in recorded if r.holdout == look.holdout and r.cycle != cycle]
        looks[look.task_key] = sorted([*same, look], key=lambda x: x.cycle)
    return HoldoutLooks(cycle=int(cycle), looks=looks)


def holdout_looks(ws: Workspace, cycle: int, evaluations: Mapping[str, Evaluation] | None = None) -> HoldoutLooks:
    """The looks at the holdouts of ``cycle``'s tasks (nothing is recorded).

    Args:
        ws: the workspace.
        cycle: the cycle.
        evaluations: task key -> its evaluation; ``None``: the cycle's looks as recorded.

    Raises:
        DataError: the ledger's database cannot be opened.
    """
    table = VerdictLooks.of(ws)
    try:
        if evaluations is None:
            own = [x for x in table.read() if x.cycle == int(cycle)]
        else:
            own = _cycle_looks(cycle, evaluations)
        recorded = table.read(keys=sorted({x.task_key for x in own}))
    finally:
        table.close()
    return _match(cycle, own, recorded)


def family(ws: Workspace, cycle: int, evaluations: Mapping[str, Evaluation] | None = None) -> dict[str, list[float]]:
    """Task key -> the p-values of every look at the same holdout (same task, holdout dates and
    prices) as ``cycle``'s, this cycle's included (see :func:`holdout_looks`)."""
    return holdout_looks(ws, cycle, evaluations).family()


def control_cycle(ws: Workspace, cycle: int, evaluations: Mapping[str, Evaluation]) -> tuple[CycleControl, HoldoutLooks]:
    """Record a cycle's looks and control its usable flags over every look at the same holdouts.

    The Benjamini–Hochberg family is the cycle's verdicts plus every other look at the same
    holdout of the same task (:func:`bistlab.evaluation.honesty.fdr_control` with ``earlier``).

    Args:
        ws: the workspace.
        cycle: the cycle.
        evaluations: task key -> its evaluation, for every task evaluated on its holdout.

    Returns:
        The cycle-wide control and the looks it counted.

    Raises:
        DataError: the ledger's database cannot be opened.
    """
    verdicts = {k: ev.rule_verdict() for k, ev in evaluations.items()}
    own = _cycle_looks(cycle, evaluations, verdicts)
    table = VerdictLooks.of(ws)
    try:
        table.record(own)
        recorded = table.read(keys=sorted({x.task_key for x in own}))
    finally:
        table.close()
    seen = _match(cycle, own, recorded)
    return fdr_control(verdicts, earlier=seen.earlier()), seen
