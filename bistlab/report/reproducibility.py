"""The report's reproducibility section: the cycle's configuration in words (defaults named as such),
its evaluation settings, the data fingerprints, versions and wall-clock times (seconds).
"""

from __future__ import annotations

import time
from typing import Any

from bistlab.report.htmlfmt import esc, html_table, num
from bistlab.report.assemble import CycleReport
from bistlab.report.data import TaskRecord
from bistlab.core.repro import report_versions, source_revision

__all__ = ["CONFIG_DEFAULT_WORDS", "config_text", "reproducibility_html"]


def _kv(items: list[tuple[str, str]]) -> str:
    return html_table(["item", "value"], [[esc(k), v] for k, v in items], classes="bl kv")


def _evaluation_settings(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "dirhit threshold (|log return|)": spec["dirhit_threshold"],
        "walk-forward splits": len(spec["splits"]),
        "purge": "h rows",
        **{f"support filter {k}": v for k, v in spec["filter"].items()},
        "holdout refit every (rows)": spec["refit_every"],
    }


def _removed_item(tasks: list[TaskRecord]) -> tuple[str, str]:
    removed: dict[str, set[str]] = {}
    for r in tasks:
        for name, reason in (r.best.space_removed if r.best else {}).items():
            removed.setdefault(f"{name}: {reason}", set()).add(r.key)
    text = "; ".join(f"{what} ({'every task' if len(keys) == len(tasks) else ', '.join(sorted(keys))})" for what, keys in sorted(removed.items()))
    return "left out of the search space", esc(text or "nothing")


CONFIG_DEFAULT_WORDS: dict[str, str] = {
    "symbols": "every stored symbol",
    "models": "every available family",
    "dask_address": "this machine",
    "universe": "automatic (10 symbols or more)",
    "as_of": "every stored row",
    "holdout_rows": "10 % of the rows, 40 to 120",
}
"""What an unset (``None``) cycle setting means, in words: the report never prints Python's ``None``."""


def config_text(config: dict[str, Any]) -> str:
    """A cycle configuration as ``name=value`` pairs, unset values in words (:data:`CONFIG_DEFAULT_WORDS`)."""

    def value(k: str, v: Any) -> str:
        if v is None:
            return CONFIG_DEFAULT_WORDS.get(k, "not set")
        return ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

    return "; ".join(f"{k}={value(k, v)}" for k, v in config.items())


def _facts(rep: CycleReport) -> list[tuple[str, str]]:
    """The key facts: versions, revision, configuration, seeds, settings, space, wall time."""
    tasks = rep.records.tasks
    rev = source_revision()
    versions = next((r.meta.package_versions for r in reversed(tasks) if r.meta), {})
    settings = next((_evaluation_settings(r.best.evaluation_spec) for r in reversed(tasks) if r.best), {})
    seeds = sorted({r.best.config.get("seed") for r in tasks if r.best and r.best.config.get("seed") is not None})
    walls = [r.wall_seconds() for r in tasks]
    total = {k: sum(w[k] for w in walls if w[k]) for k in ("hpo", "train", "evaluate")}
    return [
        ("bistlab", f"{esc(rev['version'])}, source revision {esc(rev['commit'])}" + (" (uncommitted changes)" if rev.get("dirty") else "")),
        ("packages at training", esc(", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown")),
        ("packages rendering this report", esc(", ".join(f"{k} {v}" for k, v in report_versions().items()))),
        ("cycle configuration", "<code>" + esc(config_text(rep.records.config) or "not recorded") + "</code>"),
        ("seeds", esc(f"sampler and model seed {rep.records.config.get('seed', '?')} (cycle config); trial configs use seed(s) {seeds or '–'}")),
        ("evaluation settings", esc(", ".join(f"{k} = {v}" for k, v in settings.items()) or "none")),
        _removed_item(tasks),
        ("wall time, all tasks", esc(", ".join(f"{k} {v / 60:.1f} min" for k, v in total.items()))),
    ]


def _fingerprint_rows(tasks: list[TaskRecord]) -> list[list[str]]:
    fingerprints: dict[str, tuple[str, Any, str]] = {}
    for r in tasks:
        if r.best:
            spec = r.best.evaluation_spec
            first = spec["splits"][0]["train_dates"][0] if spec.get("splits") else "?"
            fingerprints[r.symbol] = (r.best.data_fingerprint, spec.get("n_rows"), f"{first} … {spec['holdout']['dates'][1]}")
    return [[esc(s), f"<code>{esc(f)}</code>", esc(n), esc(span)] for s, (f, n, span) in sorted(fingerprints.items())]


def _wall_row(r: TaskRecord) -> list[str]:
    w = r.wall_seconds()
    spec = r.best.evaluation_spec if r.best else {}
    hold = spec.get("holdout") or {}
    return [
        esc(r.key),
        num(w["hpo"], "{:.1f}"),
        num(w["train"], "{:.1f}"),
        num(w["evaluate"], "{:.1f}"),
        esc(f"{len(spec.get('splits') or [])} splits; holdout rows {hold.get('start')}–{hold.get('end')} ({' … '.join(hold.get('dates') or [])})" if spec else "–"),
        esc(r.timestamps.get("started") or "–"),
        esc(r.timestamps.get("completed") or "–"),
    ]


def reproducibility_html(rep: CycleReport) -> str:
    """Data fingerprints, evaluation settings, versions, commit, config, seeds, wall times."""
    tasks = rep.records.tasks
    copies = rep.ws.task_report_dir(rep.cycle, "<SYMBOL>_<h>d").relative_to(rep.ws.root)
    return "\n".join(
        [
            '<div class="bistlab-report"><h2>Reproducibility</h2>',
            _kv(_facts(rep)),
            "<h3>Data fingerprints</h3>",
            html_table(["symbol", "fingerprint", "rows", "first date … last holdout date"], _fingerprint_rows(tasks), table_id="fingerprints"),
            "<details><summary>Wall times (seconds) and evaluation specs per task</summary>",
            html_table(["task", "HPO", "training", "evaluation", "evaluation_spec", "started (UTC)", "completed (UTC)"], [_wall_row(r) for r in tasks], table_id="walltimes"),
            "</details>",
            f"<p>Each task's full evaluation_spec, configuration and executed notebooks are on its page; copies of its result "
            f"files are kept under <code>{esc(copies)}/</code>, the run artifacts under "
            f"<code>{esc(rep.ws.cycle_dir(rep.cycle).relative_to(rep.ws.root))}/</code> (until cleanup).</p></div>",
        ]
    )
