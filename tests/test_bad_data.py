"""The bad-data corpus (tests/badcorpus.py and the real KARYE and BALSU): every case gets its
documented outcome, rejected with a message naming the file, the row (or column, or ticker) and
the problem, or imported with each defect recorded; one bad file, or one bad ticker of a file,
never stops the others."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bistlab.errors import DataError, MalformedFileError
from bistlab.data.importers import import_paths
from bistlab.data.price_tables import read_price_file, read_price_tables
from bistlab.data.store import PriceStore
from bistlab.data.validate import MIN_ROWS, validate_ohlcv
from tests.badcorpus import BadCase, cases, write_corpus
from tests.conftest import SHARED_BIST

CASES = {case.symbol: case for case in cases()}
REJECTED = [s for s, c in CASES.items() if c.rejected]
IMPORTED = [s for s, c in CASES.items() if not c.rejected]


def _file(tmp_path: Path, case: BadCase) -> Path:
    return write_corpus(tmp_path, [case])[case.symbol]


@pytest.mark.parametrize("symbol", REJECTED)
def test_a_rejected_case_names_the_file_the_row_and_the_problem(tmp_path, symbol):
    case = CASES[symbol]
    with pytest.raises(MalformedFileError) as info:
        read_price_file(_file(tmp_path, case))
    message = str(info.value)
    assert message.startswith(f"{case.file_name}: ") and "\n" not in message
    assert case.rejected in message


@pytest.mark.parametrize("symbol", IMPORTED)
def test_an_imported_case_records_each_defect_and_nothing_else(tmp_path, symbol):
    case = CASES[symbol]
    found_file = read_price_tables(_file(tmp_path, case))
    assert [t.symbol for t in found_file.tables] == list(case.stored)
    assert {ticker: err.args[0] for ticker, err in found_file.refused}.keys() == case.refuses.keys()
    for ticker, err in found_file.refused:
        assert str(err).startswith(f"{case.file_name}: ticker {ticker}: ") and case.refuses[ticker] in str(err)
    for table in found_file.tables:
        result = validate_ohlcv(table.frame, symbol=table.symbol, calendar="auto")
        found = {d.kind: d.detail for d in result.defects}
        assert set(found) == set(case.defects), found
        for kind, phrase in case.defects.items():
            assert phrase in found[kind], found[kind]
        assert result.frame.index.is_monotonic_increasing and result.frame.index.is_unique
        assert (len(result.frame) < MIN_ROWS) == ("insufficient data" in (case.task or ""))


def test_the_layouts_are_read_as_their_source_says(tmp_path):
    tables = {}
    for symbol in ("TRLOCALE", "YFMULTI", "YFPARQ"):
        tables.update({t.symbol: t for t in read_price_tables(_file(tmp_path, CASES[symbol])).tables})
    assert "dialect tr (decimal comma, day-first dates)" in tables["TRLOCALE"].read_as
    assert tables["YFA"].read_as.startswith("yfinance CSV (Price/Ticker header), Close, dialect en")
    assert tables["YFC"].read_as.startswith("yfinance Parquet (Ticker/Price columns), Adj Close") and tables["YFC"].basis == "adj_close"


def test_a_case_that_reads_two_ways_imports_with_its_dialect(store: PriceStore, tmp_path):
    for case in (c for c in CASES.values() if c.dialect):
        report = import_paths(store, [_file(tmp_path, case)], dialect=case.dialect)
        assert report.failed == () and report.symbols == [case.symbol]
        assert f"dialect {case.dialect}" in report.imported[0].read_as and "named by --dialect" in report.imported[0].read_as


def test_real_data_is_never_dropped_for_a_calendar_finding(tmp_path):
    for symbol in ("HOLIDAY", "MISSRUN", "SPLIT10", "HIGHLOW", "GAPMONTHS"):
        case = CASES[symbol]
        _, raw = read_price_file(_file(tmp_path, case))
        result = validate_ohlcv(raw, symbol=symbol, calendar="auto")
        assert len(result.frame) == len(case.rows), symbol  # every row kept


def test_a_ten_to_one_jump_is_reported_not_fixed(tmp_path):
    _, raw = read_price_file(_file(tmp_path, CASES["SPLIT10"]))
    result = validate_ohlcv(raw, symbol="SPLIT10")
    pd.testing.assert_series_equal(result.frame["close"], raw["close"])  # prices as exported
    jump = next(d for d in result.defects if d.kind == "price_jumps")
    assert jump.count == 1 and "cannot know the ratio" in jump.detail


def test_timezone_aware_dates_keep_their_own_day(tmp_path):
    _, aware = read_price_file(_file(tmp_path, CASES["TZAWARE"]))
    _, plain = read_price_file(_file(tmp_path / "plain", BadCase("PLAIN", "", CASES["GOOD"].rows)))
    expected = [r[0][:10] for r in CASES["TZAWARE"].rows]
    assert list(aware.index.strftime("%Y-%m-%d")) == expected
    assert aware.index.tz is None and len(plain) == len(aware)


def test_the_whole_corpus_in_one_import_stores_the_rest(store: PriceStore, tmp_path):
    paths = write_corpus(tmp_path / "corpus")
    report = import_paths(store, [tmp_path / "corpus"])
    stored = sorted(s for case in CASES.values() for s in case.stored)
    assert sorted(report.symbols) == stored == store.symbols()
    whole_files = [f for f in report.failed if f.ticker is None]
    assert sorted(f.path.stem for f in whole_files) == sorted(REJECTED)
    for failed in whole_files:
        assert failed.message.startswith(failed.path.name) and CASES[failed.path.stem].rejected in failed.message
    tickers = {f.ticker: f for f in report.failed if f.ticker is not None}
    assert tickers.keys() == {t for case in CASES.values() for t in case.refuses}
    for ticker, failed in tickers.items():
        assert failed.message.startswith(f"{failed.path.name}: ticker {ticker}: ") and CASES[failed.path.stem].refuses[ticker] in failed.message
    assert report.too_short == ["SHORT"]
    assert len(paths) == len(CASES)
    assert store.price_basis("YFC") == "adj_close" and store.price_basis("YFA") == "close"


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "outcome"), [("KARYE.csv", "multi-level header"), ("BALSU.csv", "too short")])
def test_the_real_bad_files(store: PriceStore, name, outcome):
    if not SHARED_BIST.is_dir():
        pytest.skip(f"../shared/data/bist is absent ({SHARED_BIST}); it is only in the project's development checkout")
    report = import_paths(store, [SHARED_BIST / name])
    if outcome == "too short":
        assert report.too_short == ["BALSU"] and report.imported[0].clean_rows < MIN_ROWS
    else:
        assert report.symbols == [] and outcome in report.failed[0].message and report.failed[0].message.startswith(name)


@pytest.mark.shared_data
def test_the_real_bist_files_are_checked_against_xist_without_dropping_a_row(tmp_path):
    if not SHARED_BIST.is_dir():
        pytest.skip(f"../shared/data/bist is absent ({SHARED_BIST}); it is only in the project's development checkout")
    _, raw = read_price_file(SHARED_BIST / "THYAO.csv")
    result = validate_ohlcv(raw, symbol="THYAO", calendar="auto")
    found = {d.kind: d for d in result.defects}
    assert result.calendar == "XIST"
    assert "2023-02-08" in found["off_session_rows"].detail  # the earthquake closure: a row Yahoo has
    assert "2024-04-09" in found["missing_sessions"].detail  # a half day Yahoo lacks
    assert len(result.frame) == len(raw) - found["placeholder_sessions"].count


def test_a_missing_path_says_it_does_not_exist(tmp_path):
    with pytest.raises(DataError, match=r"nonexistent: `path` must be an existing \.csv or \.parquet file .* which does not exist"):
        read_price_file(tmp_path / "nonexistent")
