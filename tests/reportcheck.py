"""Checks of rendered report HTML shared by the report tests: every DirHit's interval is of the
very number printed beside it."""

from __future__ import annotations

import html as htmllib
import re

_SPAN = re.compile(r'<span class="dirhit[^"]*">(.*?)</span>', re.S)
_FIGURE = re.compile(r"(\d+\.\d) % .*?95 % CI (\d+\.\d)–(\d+\.\d)")


def dirhit_texts(page: str) -> list[str]:
    """The text of every ``span.dirhit`` of a page (tags dropped, whitespace collapsed)."""
    return [" ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", m)).split()) for m in _SPAN.findall(page)]


def intervals_beside_figures(page: str) -> list[tuple[float, float, float]]:
    """``(figure, low, high)`` of every DirHit with an interval on the page.

    Raises:
        AssertionError: an interval that does not contain the figure printed beside it (allowing
            for the one-decimal rounding of all three).
    """
    found = []
    for text in dirhit_texts(page):
        m = _FIGURE.search(text)
        if not m:
            assert text.startswith("undefined"), text
            continue
        value, low, high = (float(x) for x in m.groups())
        assert low - 0.05 <= value <= high + 0.05, f"the interval excludes its figure: {text}"
        found.append((value, low, high))
    return found
