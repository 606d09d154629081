"""HTML building blocks of the cycle report and the per-task pages.

Every DirHit a person reads goes through :func:`dirhit_html` or :func:`dirhit_text`, so it always
carries its count and 95 % Wilson interval (DESIGN.md "Statistical honesty"); in HTML it is a
``<span class="dirhit">``, which the tests use to check that rule on a rendered report.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from bistlab.metrics import wilson_interval

__all__ = [
    "REPORT_CSS",
    "esc",
    "num",
    "pct",
    "hits_of",
    "dirhit_text",
    "dirhit_html",
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


def hits_of(dirhit: float | None, count: int | None) -> int:
    """Right calls behind a DirHit percentage over ``count`` rows (for baselines stored as percent)."""
    if dirhit is None or not count:
        return 0
    return int(round(dirhit * count / 100.0))


def _detail(hits: int, count: int, *, mean_of: int | None, pooled: bool) -> list[str]:
    lo, hi = wilson_interval(hits, count)  # type: ignore[misc]
    parts = []
    if mean_of is not None:
        parts.append(f"mean of {mean_of} split{'s' if mean_of != 1 else ''}")
    parts.append(f"{'pooled ' if pooled else ''}n={count}")
    parts.append(f"95 % CI {lo:.1f}–{hi:.1f}")
    return parts


def dirhit_text(value: float | None, hits: int | None, count: int | None, *, mean_of: int | None = None) -> str:
    """A DirHit as plain text with its count and 95 % Wilson interval.

    Args:
        value: the DirHit in percent (may differ from ``hits / count`` when it is a mean of splits).
        hits: right calls (pooled over the splits when ``mean_of`` is given).
        count: masked rows behind it.
        mean_of: the number of splits averaged, when ``value`` is a mean of split DirHits (the
            interval is then the pooled proportion's).

    Returns:
        e.g. ``"54.2 % (n=120, 95 % CI 45.3–62.8)"`` or ``"undefined (n=0)"``.
    """
    if not count or _missing(value):
        return f"undefined (n={count or 0})"
    return f"{value:.1f} % (" + ", ".join(_detail(int(hits or 0), int(count), mean_of=mean_of, pooled=mean_of is not None)) + ")"


def dirhit_html(
    value: float | None,
    hits: int | None,
    count: int | None,
    *,
    mean_of: int | None = None,
    inline: bool = False,
    css: str = "",
) -> str:
    """:func:`dirhit_text` as ``<span class="dirhit">``: the value, then its count and interval in small print.

    ``inline`` keeps it on one line (in sentences); else the count and the interval go on lines
    of their own (in table cells).
    """
    cls = f"dirhit {css}".strip()
    if not count or _missing(value):
        return f'<span class="{cls}">undefined <small>(n={int(count or 0)})</small></span>'
    hits, count = int(hits or 0), int(count)
    lo, hi = wilson_interval(hits, count)  # type: ignore[misc]
    n = f"{'mean of ' + str(mean_of) + ' splits, pooled ' if mean_of is not None else ''}n={count}"
    if inline:
        return f'<span class="{cls}">{value:.1f} % <small>({esc(n)}, 95 % CI {lo:.1f}–{hi:.1f})</small></span>'
    return f'<span class="{cls}">{value:.1f} %<br><small>{esc(n)}<br>95 % CI {lo:.1f}–{hi:.1f}</small></span>'


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
