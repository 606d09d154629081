from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bistlab.errors import DataError, MalformedFileError
from bistlab.importers import import_paths, iter_price_files, load_demo, read_price_file
from bistlab.store import PriceStore

YAHOO = """Date,Close,High,Low,Open,Volume
2024-01-02,10.5,11.0,9.0,10.0,100
2024-01-03,11.0,12.0,10.0,10.5,250
"""
PLAIN = """Date,Open,High,Low,Close,Volume
2024-01-02,10.0,11.0,9.0,10.5,100
2024-01-03,10.5,12.0,10.0,11.0,250
"""
MIXED_CASE = """datetime,OPEN,high,Low,Adj Close,close,volume
2024-01-02,10.0,11.0,9.0,1.0,10.5,100
2024-01-03,10.5,12.0,10.0,1.1,11.0,250
"""
# yfinance's multi-ticker export, as in shared/data/bist/KARYE.csv: three header lines, no data row
KARYE_LIKE = """Price,Adj Close,Close,High,Low,Open,Volume
Ticker,KARYE.IS,KARYE.IS,KARYE.IS,KARYE.IS,KARYE.IS,KARYE.IS
Date,,,,,,
"""
EXPECTED = pd.DataFrame(
    {"open": [10.0, 10.5], "high": [11.0, 12.0], "low": [9.0, 10.0], "close": [10.5, 11.0], "volume": [100.0, 250.0]},
    index=pd.DatetimeIndex(["2024-01-02", "2024-01-03"], name="date").as_unit("ns"),
)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _long_csv(n: int, *, start: str = "2020-01-02") -> str:
    dates = pd.bdate_range(start, periods=n).strftime("%Y-%m-%d")
    return "Date,Open,High,Low,Close,Volume\n" + "".join(f"{d},10,11,9,10.5,100\n" for d in dates)


@pytest.mark.parametrize("text", [YAHOO, PLAIN, MIXED_CASE], ids=["yahoo", "plain", "mixed-case-adj-close"])
def test_csv_layouts(tmp_path: Path, text: str) -> None:
    symbol, frame = read_price_file(_write(tmp_path, "THYAO.csv", text))
    assert symbol == "THYAO"
    pd.testing.assert_frame_equal(frame, EXPECTED)


@pytest.mark.parametrize("as_index", [True, False], ids=["date-index", "date-column"])
def test_parquet(tmp_path: Path, as_index: bool) -> None:
    table = EXPECTED.rename(columns=str.capitalize).rename_axis("Date")
    path = tmp_path / "garan.parquet"
    (table if as_index else table.reset_index()).to_parquet(path)
    symbol, frame = read_price_file(path)
    assert symbol == "GARAN"
    pd.testing.assert_frame_equal(frame, EXPECTED)


@pytest.mark.parametrize(
    ("name", "symbol"),
    [("THYAO.IS.csv", "THYAO"), ("akbnk.csv", "AKBNK"), ("brk-b.csv", "BRK-B"), ("xu100.is.csv", "XU100")],
)
def test_symbol_from_file_name(tmp_path: Path, name: str, symbol: str) -> None:
    assert read_price_file(_write(tmp_path, name, PLAIN))[0] == symbol


@pytest.mark.parametrize("name", ["my prices.csv", "_x.csv", "ä.csv", "A" * 33 + ".csv"])
def test_bad_symbol_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match="`symbol`") as info:
        read_price_file(_write(tmp_path, name, PLAIN))
    assert name in str(info.value)


MALFORMED = {
    "multi-level-header": (KARYE_LIKE, "3-line multi-level header (Price / Ticker / Date"),
    "missing-column": (PLAIN.replace(",Volume", "").replace(",100", "").replace(",250", ""), "missing: Volume"),
    "bad-date": (PLAIN.replace("2024-01-03", "someday"), "`Date` must be a date in every row but got 'someday'"),
    "non-numeric-price": (PLAIN.replace("10.5,12.0", "ten,12.0"), "`Open` must be numeric but got 'ten' in data row 2"),
    "header-only": ("Date,Open,High,Low,Close,Volume\n", "at least 1 data row but got 0"),
    "empty": ("", "empty file"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_file_gives_one_clear_line(tmp_path: Path, case: str) -> None:
    text, phrase = MALFORMED[case]
    with pytest.raises(MalformedFileError) as info:
        read_price_file(_write(tmp_path, "KARYE.csv", text))
    message = str(info.value)
    assert message.startswith("KARYE.csv: ") and "\n" not in message
    assert phrase in message
    assert info.value.symbol == "KARYE" and info.value.path == tmp_path / "KARYE.csv"


def test_iter_price_files(tmp_path: Path) -> None:
    for name in ["b.parquet", "a.csv", "notes.txt"]:
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.csv").write_text("x")
    explicit = tmp_path / "sub" / "c.csv"
    assert iter_price_files([tmp_path, explicit, tmp_path / "a.csv"]) == [
        tmp_path / "a.csv", tmp_path / "b.parquet", explicit,
    ]


def test_one_bad_file_does_not_stop_the_others(store: PriceStore, tmp_path: Path) -> None:
    _write(tmp_path, "AAA.csv", _long_csv(120))
    _write(tmp_path, "BAD.csv", KARYE_LIKE)
    _write(tmp_path, "SHORT.IS.csv", _long_csv(30))
    _write(tmp_path, "ZZZ.csv", _long_csv(100))
    report = import_paths(store, [tmp_path, tmp_path / "missing.csv"])
    assert report.symbols == ["AAA", "SHORT", "ZZZ"] == store.symbols()
    assert [f.path.name for f in report.failed] == ["BAD.csv", "missing.csv"]
    assert all(f.message.startswith(f.path.name) for f in report.failed)
    assert report.too_short == ["SHORT"]
    short = report.imported[1]
    assert short.rows == 30 and short.warning == "too short for HPO (30 rows, need 100)"
    assert len(store.read("SHORT")) == 30  # stored all the same


def test_import_reports_defects_and_stores_raw_rows(store: PriceStore, tmp_path: Path) -> None:
    text = _long_csv(3) + "2020-01-07,7,7,7,7,0\n2020-01-06,10,11,9,10.5,100\n"  # placeholder, then a duplicate
    report = import_paths(store, [_write(tmp_path, "EREGL.csv", text)])
    item = report.imported[0]
    assert {d.kind: d.count for d in item.defects} == {
        "duplicate_dates": 1, "unsorted_dates": 1, "placeholder_sessions": 1,
    }
    assert item.rows == 4 and item.clean_rows == 3
    assert len(store.read("EREGL")) == 4  # the placeholder stays in the store; validation drops it on load


def test_second_file_for_a_symbol_fails(store: PriceStore, tmp_path: Path) -> None:
    first = _write(tmp_path, "THYAO.csv", _long_csv(5))
    second = _write(tmp_path, "THYAO.IS.csv", _long_csv(7))
    report = import_paths(store, [first, second])
    assert report.symbols == ["THYAO"] and len(store.read("THYAO")) == 5
    assert "already from THYAO.csv" in report.failed[0].message


DEMO_STOCKS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT", "PEP",
               "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]


def test_demo_loads_three_long_series_and_twenty_close_only_stocks(store: PriceStore) -> None:
    report = load_demo(store)
    assert report.failed == ()
    assert len(report.symbols) >= 23
    assert sorted(report.symbols) == sorted(["GOOG", "NASDAQ", "SP500", *DEMO_STOCKS]) == store.symbols()
    summary = store.summary().set_index("symbol")
    assert (summary.loc[["GOOG", "NASDAQ", "SP500"], "rows"] > 2000).all()
    assert summary.loc["SP500", "first_date"] == pd.Timestamp("1999-01-04")
    sp500 = store.read("SP500")
    from arch.data import sp500 as source

    assert sp500["close"].iloc[0] == source.load()["Close"].iloc[0]  # Close, not Adj Close
    stocks = summary.loc[DEMO_STOCKS]
    assert (stocks["first_date"] == pd.Timestamp("2019-01-02")).all()  # the first session from DEMO_STOCKS_START
    assert (stocks["last_date"] == pd.Timestamp("2022-12-28")).all()
    assert (stocks["rows"] == 1006).all()
    assert all("adjusted close only, 2019-01-02 to 2022-12-28" in item.source for item in report.imported[3:])


def test_demo_stocks_are_stored_close_only_and_load_as_such(store: PriceStore) -> None:
    load_demo(store)
    raw = store.read("AAPL")
    assert raw[["open", "high", "low", "volume"]].isna().all().all()  # NULL in the store, never the close
    assert raw["close"].notna().all() and (raw["close"] > 0).all()
    loaded = store.load("AAPL")
    assert len(loaded.frame) == 1006  # validation drops no close-only row
    pd.testing.assert_series_equal(loaded.frame["close"], raw["close"])
    assert loaded.frame[["open", "high", "low", "volume"]].isna().all().all()
    kinds = {d.kind: d for d in loaded.defects}
    assert kinds["close_only"].count == 1006 and "never filled from the close" in kinds["close_only"].detail
    assert not {"nan_rows", "placeholder_sessions", "inconsistent_range"} & set(kinds)
    assert store.load("AAPL").fingerprint == loaded.fingerprint  # NaN hashes the same every time
    assert {d.kind for d in store.load("SP500").defects}.isdisjoint({"close_only"})


def test_demo_without_skfolio_is_one_clear_error(store: PriceStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "skfolio" else real(name, *a))
    with pytest.raises(DataError, match=r"`demo stock file` must be skfolio's datasets/data/sp500_dataset.csv.gz .* skfolio is not installed"):
        load_demo(store)
    assert store.symbols() == []  # nothing half-loaded


SHARED_BIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "bist"


@pytest.mark.shared_data
def test_shared_bist_folder(store: PriceStore) -> None:
    if not SHARED_BIST.is_dir():
        pytest.skip(f"shared data folder {SHARED_BIST} is absent (a fresh checkout has no ../shared)")
    report = import_paths(store, [SHARED_BIST])
    assert len(store.symbols()) == 21 and len(report.imported) == 21
    assert len([item for item in report.imported if not item.too_short]) == 20
    assert report.too_short == ["BALSU"]
    assert [f.path.name for f in report.failed] == ["KARYE.csv"]
    assert "KARYE.csv" in report.failed[0].message and "multi-level header" in report.failed[0].message
    thyao = store.load("THYAO")
    placeholders = [d for d in thyao.defects if d.kind == "placeholder_sessions"]
    assert placeholders and "2020-03-11" in placeholders[0].detail
    assert pd.Timestamp("2020-03-11") not in thyao.frame.index
    assert pd.Timestamp("2020-03-11") in store.read("THYAO").index
