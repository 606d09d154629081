"""HTML building blocks of the cycle report and the per-task pages.

Every DirHit a person reads is a :class:`bistlab.evaluation.metrics.DirHit` printed by :func:`dirhit_html` or
:func:`dirhit_text`, so it always carries its count, its effective count and the 95 % interval of
that very number (DESIGN.md "Statistical honesty"); in HTML it is a ``<span class="dirhit">``,
which the tests use to check that rule on a rendered report.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from bistlab.evaluation.dirhit import DirHit, Edge

__all__ = [
    "REPORT_CSS",
    "esc",
    "num",
    "pct",
    "dirhit_text",
    "dirhit_html",
    "edge_html",
    "html_table",
    "link",
    "page",
]

REPORT_CSS = """
.bistlab-report { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; font-size: 14px; color: #1f2328; }
.bistlab-report h1 { font-size: 26px; margin: 8px 0 4px; }
.bistlab-report h2 { font-size: 20px; margin: 22px 0 6px; border-bottom: 1px solid #d0d7de; padding-bottom: 3px; }
.bistlab-report h3 { font-size: 16px; margin: 14px 0 4px; }
.bistlab-report p, .bistlab-report li { line-height: 1.45; max-width: 1100px; }
.bistlab-report .counts { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.bistlab-report .count { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; min-width: 90px; text-align: center; background: #f6f8fa; }
.bistlab-report .count b { display: block; font-size: 22px; }
.bistlab-report .count.good { background: #dafbe1; border-color: #4ac26b; }
.bistlab-report .count.warn { background: #fff8c5; border-color: #d4a72c; }
.bistlab-report .count.bad { background: #ffebe9; border-color: #ff8182; }
.bistlab-report .scroll { overflow-x: auto; max-width: 100%; }
.bistlab-report table.bl { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 12px; }
.bistlab-report table.bl th { background: #f6f8fa; position: sticky; top: 0; text-align: left; vertical-align: bottom; }
.bistlab-report table.bl th, .bistlab-report table.bl td { border: 1px solid #d0d7de; padding: 3px 6px; vertical-align: top; text-align: left; }
.bistlab-report div.note { min-width: 240px; max-width: 420px; }
.bistlab-report table.bl td small, .bistlab-report .dirhit small { color: #57606a; white-space: nowrap; }
.bistlab-report table.bl tbody tr:nth-child(even) { background: #fbfcfd; }
.bistlab-report table#summary td { max-width: 15em; }
.bistlab-report table#summary td small { white-space: normal; }
.bistlab-report .lowsupport { color: #9a6700; font-weight: 600; }
.bistlab-report .usable { color: #1a7f37; font-weight: 600; }
.bistlab-report .notusable { color: #57606a; }
.bistlab-report .failed { color: #cf222e; font-weight: 600; }
.bistlab-report .banner { border-left: 4px solid #d4a72c; background: #fff8c5; padding: 8px 12px; margin: 10px 0; max-width: 1100px; }
.bistlab-report .banner.good { border-color: #1a7f37; background: #dafbe1; }
.bistlab-report .banner.bad { border-color: #cf222e; background: #ffebe9; }
.bistlab-report .banner.info { border-color: #0969da; background: #ddf4ff; }
.bistlab-report .biased { color: #9a6700; }
.bistlab-report code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; font-size: 12px; }
.bistlab-report nav { font-size: 13px; margin: 4px 0 10px; }
.bistlab-report details { margin: 4px 0; }
.bistlab-report details > summary { cursor: pointer; }
.bistlab-report pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; max-height: 420px; }
"""


def esc(value: Any) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def num(v: Any, spec: str = "{:.3f}") -> str:
    """A number, or an en dash when missing; a value that rounds to zero shows no minus sign."""
    if _missing(v):
        return "–"
    if isinstance(v, float) and (v == 0 or spec.format(abs(v)) == spec.format(0.0)):
        v = 0.0
    return spec.format(v)


def pct(v: Any, digits: int = 1) -> str:
    """``"54.2 %"``, or an en dash when missing."""
    return "–" if _missing(v) else f"{v:.{digits}f} %"


def dirhit_text(fig: DirHit) -> str:
    """A DirHit as plain text with its count, effective count and the 95 % interval of that very number.

    Returns:
        e.g. ``"54.2 % (n=120, n_eff=18, 95 % CI 29.5–77.4)"`` or ``"undefined (n=0)"``.
    """
    return fig.text()


def dirhit_html(fig: DirHit, *, inline: bool = False, css: str = "") -> str:
    """:func:`dirhit_text` as ``<span class="dirhit">``: the value, then its counts and interval in small print.

    ``inline`` keeps it on one line (in sentences); else the counts and the interval go on lines
    of their own (in table cells).
    """
    cls = f"dirhit {css}".strip()
    if not fig.defined:
        return f'<span class="{cls}">undefined <small>(n={fig.count})</small></span>'
    *counts, interval = fig.details()
    if inline:
        return f'<span class="{cls}">{fig.value:.1f} % <small>({esc(", ".join(counts))}, {esc(interval)})</small></span>'
    return f'<span class="{cls}">{fig.value:.1f} %<br><small>{esc(", ".join(counts))}<br>{esc(interval)}</small></span>'


def edge_html(edge: Edge | None, *, inline: bool = False) -> str:
    """The edge over a baseline in points with its 95 % interval in small print (and, inline, the
    paired test): ``"+4.2 [−3.1, +11.5]"``; ``"–"`` when undefined."""
    if edge is None or edge.value is None:
        return "–"
    if edge.low is None or edge.high is None:
        return f"{edge.value:+.1f} <small>(no interval: old record)</small>"
    if inline:
        return f'<span class="edge">{esc(edge.text())}</span>'
    return f'<span class="edge">{edge.value:+.1f}<br><small>[{edge.low:+.1f}, {edge.high:+.1f}]</small></span>'


def html_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    table_id: str | None = None,
    classes: str = "bl",
    titles: Sequence[str | None] | None = None,
) -> str:
    """A table of pre-rendered HTML cells; headers are escaped, ``titles`` become header tooltips.

    Each body row starts ``<tr>`` then ``<td>``: the first cell is the row's key.
    """
    head = []
    for i, c in enumerate(columns):
        title = titles[i] if titles and i < len(titles) and titles[i] else None
        head.append(f'<th title="{esc(title)}">{esc(c)}</th>' if title else f"<th>{esc(c)}</th>")
    body = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f'<div class="scroll"><table class="{esc(classes)}"{ident}>\n<thead><tr>{"".join(head)}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>'


def link(href: str, text: str) -> str:
    """An ``<a>`` with escaped text."""
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def page(title: str, body: str, *, scripts: Sequence[str] = ()) -> str:
    """A complete HTML page in the report's style; ``scripts`` are local script URLs for the head."""
    head_scripts = "".join(f'<script type="text/javascript" src="{esc(s)}"></script>\n' for s in scripts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        f"<title>{esc(title)}</title>\n{head_scripts}<style>\n{REPORT_CSS}\nbody {{ margin: 16px 24px; }}\n</style>\n</head>\n"
        f'<body class="bistlab-report">\n{body}\n</body>\n</html>\n'
    )
