"""Names imported on first use."""

from __future__ import annotations

import sys

import pytest

from bistlab.lazy import lazy


def test_a_lazy_name_imports_its_module_on_first_use_only(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    hls = lazy("colorsys", "rgb_to_hls")
    assert "colorsys" not in sys.modules and "colorsys.rgb_to_hls" in repr(hls)
    assert hls(1.0, 0.0, 0.0) == pytest.approx((0.0, 0.5, 1.0))
    assert "colorsys" in sys.modules


def test_a_lazy_module_reads_attributes_through():
    json = lazy("json")
    assert json.dumps([1]) == "[1]" and json.JSONDecodeError.__name__ == "JSONDecodeError"
    with pytest.raises(AttributeError):
        json.no_such_name
