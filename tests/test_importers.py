from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bistlab.errors import ConfigError, DataError, MalformedFileError
from bistlab.data.importers import import_paths, load_demo
from bistlab.data.price_tables import iter_price_files, read_price_file, read_price_tables
from bistlab.data.store import PriceStore
from bistlab.data.price_frames import fingerprint

YAHOO = """Date,Close,High,Low,Open,Volume
2024-01-02,10.5,11.0,9.0,10.0,100
2024-01-03,11.0,12.0,10.0,10.5,250
"""
PLAIN = """Date,Open,High,Low,Close,Volume
2024-01-02,10.0,11.0,9.0,10.5,100
2024-01-03,10.5,12.0,10.0,11.0,250
"""
MIXED_CASE = """datetime,OPEN,high,Low,close,volume,Dividends
2024-01-02,10.0,11.0,9.0,10.5,100,0.0
2024-01-03,10.5,12.0,10.0,11.0,250,0.0
"""
# a one-ticker frame without its Ticker level (columns named "Price"), as pandas writes it
PRICE_ROW = """Price,Close,High,Low,Open,Volume
Date,,,,,
2024-01-02,10.5,11.0,9.0,10.0,100
2024-01-03,11.0,12.0,10.0,10.5,250
"""
# yfinance's one-ticker export, as the real shared/data/bist_universe/TARKM.csv
TARKM_LIKE = """Price,Close,High,Low,Open,Volume
Ticker,TARKM.IS,TARKM.IS,TARKM.IS,TARKM.IS,TARKM.IS
Date,,,,,
2024-01-02,10.5,11.0,9.0,10.0,100
2024-01-03,11.0,12.0,10.0,10.5,250
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
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))  # a lone surrogate: a byte no encoding reads
    return path


def _long_csv(n: int, *, start: str = "2020-01-02") -> str:
    dates = pd.bdate_range(start, periods=n).strftime("%Y-%m-%d")
    return "Date,Open,High,Low,Close,Volume\n" + "".join(f"{d},10,11,9,10.5,100\n" for d in dates)


@pytest.mark.parametrize(("text", "symbol"), [(YAHOO, "THYAO"), (PLAIN, "THYAO"), (MIXED_CASE, "THYAO"), (PRICE_ROW, "THYAO"), (TARKM_LIKE, "TARKM")],
                         ids=["yahoo", "plain", "mixed-case-extra-column", "yfinance-price-row", "yfinance-one-ticker"])
def test_csv_layouts(tmp_path: Path, text: str, symbol: str) -> None:
    found, frame = read_price_file(_write(tmp_path, "THYAO.csv", text))
    assert found == symbol  # a flat file is named by the file, a yfinance file by its ticker
    pd.testing.assert_frame_equal(frame, EXPECTED)


def test_a_flat_adj_close_scales_the_prices(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10.0,11.0,9.0,10.5,9.45,100\n2024-01-03,10.5,12.0,10.0,11.0,9.9,250\n"
    found = read_price_tables(_write(tmp_path, "THYAO.csv", text))
    table = found.tables[0]
    ratio = np.array([9.45, 9.9]) / np.array([10.5, 11.0])
    expected = EXPECTED.assign(open=EXPECTED["open"] * ratio, high=EXPECTED["high"] * ratio, low=EXPECTED["low"] * ratio,
                               close=[9.45, 9.9])
    pd.testing.assert_frame_equal(table.frame, expected, check_exact=True)
    assert table.basis == "adj_close" and "Adj Close (open, high, low scaled by Adj Close / Close)" in table.read_as


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
    "multi-level-header": (KARYE_LIKE, "`rows` must be at least 1 data row under a 3-line multi-level header (Price / Ticker / Date"),
    "missing-column": (PLAIN.replace(",Volume", "").replace(",100", "").replace(",250", ""), "missing: Volume"),
    "bad-date": (PLAIN.replace("2024-01-03", "someday"), "`Date` must be a date in every row but got 'someday'"),
    "non-numeric-price": (PLAIN.replace("10.5,12.0", "ten,12.0"), "`Open` must be numeric but got 'ten' in data row 2"),
    "header-only": ("Date,Open,High,Low,Close,Volume\n", "at least 1 data row but got 0"),
    "no-date-column": ("Open,High,Low,Close,Volume\n10,11,9,10.5,100\n", "but got ['Open', 'High', 'Low', 'Close', 'Volume'] (missing: Date)"),
    "dates-in-both-orders": (PLAIN.replace("2024-01-02", "13/01/2024").replace("2024-01-03", "01/14/2024"),
                             "`Date` must put the day and the month in one order but got '13/01/2024' (day first, data row 1) "
                             "and '01/14/2024' (month first, data row 2)"),
    "two-digit-year": (PLAIN.replace("2024-01-02", "02/01/24"), "`Date` must have four-digit years but got '02/01/24' in data row 1"),
    "decimal-styles-across-columns": ("Date;Open;High;Low;Close;Volume\n2024-01-02;10,5;11.25;9;10;100\n",
                                      "`numbers` must use one decimal style in a file but got '11.25' in `High` (decimal point, data row 1) "
                                      "and '10,5' in `Open` (decimal comma, data row 1)"),
    "undecodable": ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,1,1,1,\udc81\n", "`encoding` must be UTF-8 or cp1254"),
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


# --- yfinance's layouts, built as yfinance builds them (no network) --------------------------------

YF_FIELDS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]  # yf.download's order
ISTANBUL = "Europe/Istanbul"


def yf_frame(tickers: list[str], *, n: int = 6, adj: bool = True, tz: str | None = None, late: int = 0,
             by_ticker: bool = False, seed: int = 0) -> pd.DataFrame:
    """A frame as ``yf.download(tickers, auto_adjust=False)`` returns it: columns (Price, Ticker),
    index ``Date`` (aware, at midnight of the exchange's zone, as ``Ticker.history`` gives it, where
    ``tz``); the last ticker listed ``late`` sessions after the others (empty cells before);
    ``by_ticker``: ``group_by="ticker"``'s (Ticker, Price) columns."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2024-01-02", periods=n, name="Date")
    dates = dates.tz_localize(tz) if tz else dates
    data: dict[tuple[str, str], np.ndarray] = {}
    for ticker in tickers:
        close = 20.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
        open_ = close * np.exp(rng.normal(0.0, 0.005, n))
        fields = {"Adj Close": close * rng.uniform(0.9, 0.95, n), "Close": close, "High": np.maximum(open_, close) * 1.01,
                  "Low": np.minimum(open_, close) * 0.99, "Open": open_, "Volume": rng.integers(10_000, 1_000_000, n)}
        for field in YF_FIELDS[0 if adj else 1:]:
            data[(field, ticker)] = fields[field]
    frame = pd.DataFrame(data, index=dates)
    frame.columns = frame.columns.set_names(["Price", "Ticker"])
    if late:  # yfinance's volume is float where a ticker has empty cells
        frame = frame.astype({("Volume", tickers[-1]): "float64"})
        frame.loc[frame.index[:late], (slice(None), tickers[-1])] = np.nan
    if by_ticker:
        frame = frame.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    return frame


def yf_expected(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """What the store must hold for one ticker: the exchange's dates, the prices scaled to the Adj Close where there is one."""
    one = frame.xs(ticker, axis=1, level="Ticker").dropna(how="all")
    out = pd.DataFrame({c: one[c.capitalize()].astype("float64") for c in ("open", "high", "low", "close", "volume")})
    if "Adj Close" in one:
        ratio = one["Adj Close"] / one["Close"]
        out = out.assign(open=out["open"] * ratio, high=out["high"] * ratio, low=out["low"] * ratio, close=one["Adj Close"])
    index = one.index.tz_localize(None) if one.index.tz is not None else one.index
    return out.set_axis(pd.DatetimeIndex(index, name="date").as_unit("ns"), axis=0)


def _save(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path)
    else:
        frame.to_parquet(path)
    return path


YF_VARIANTS = {
    "one-ticker-adj-aware": {"tickers": ["TARKM.IS"], "adj": True, "tz": ISTANBUL},
    "three-tickers": {"tickers": ["THYAO.IS", "GARAN.IS", "AKBNK.IS"], "adj": False},
    "three-tickers-adj-late-listing": {"tickers": ["THYAO.IS", "GARAN.IS", "BALSU.IS"], "adj": True, "late": 2},
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("by_ticker", [False, True], ids=["price-ticker", "ticker-price"])
@pytest.mark.parametrize("variant", YF_VARIANTS)
def test_yfinance_layouts_store_the_source_values_exactly(store: PriceStore, tmp_path: Path, suffix: str, by_ticker: bool,
                                                          variant: str) -> None:
    spec = YF_VARIANTS[variant]
    frame = yf_frame(**spec, by_ticker=by_ticker)
    path = _save(frame, tmp_path / f"yf download{suffix}")  # the name is no symbol: the tickers are
    report = import_paths(store, [path])
    tickers = list(dict.fromkeys(frame.columns.get_level_values("Ticker")))  # the file's order
    symbols = [t.removesuffix(".IS") for t in tickers]
    assert report.failed == () and report.symbols == symbols and store.symbols() == sorted(symbols)
    for item, ticker in zip(report.imported, tickers):
        pd.testing.assert_frame_equal(store.read(item.symbol), yf_expected(frame, ticker), check_exact=True, check_freq=False)
        order = "Ticker/Price" if by_ticker else "Price/Ticker"
        assert f"yfinance {'CSV' if suffix == '.csv' else 'Parquet'} ({order} " in item.read_as
        assert item.basis == store.price_basis(item.symbol) == ("adj_close" if spec["adj"] else "close")
        assert ("Adj Close" in item.read_as) is spec["adj"] and item.source.endswith(f"(ticker {ticker})")
        loaded = store.load(item.symbol)
        assert loaded.fingerprint == fingerprint(loaded.frame, basis=item.basis)
    if spec.get("late"):
        assert "2 empty rows (dates of other tickers) left out" in report.imported[symbols.index("BALSU")].read_as
        assert len(store.read("BALSU")) == len(frame) - 2 and len(store.read("THYAO")) == len(frame)


def test_a_multi_ticker_file_refuses_a_bad_ticker_in_one_line_and_stores_the_others(store: PriceStore, tmp_path: Path) -> None:
    frame = yf_frame(["THYAO.IS", "GARAN.IS", "^XU100", "EMPTY.IS"], adj=False)
    frame = frame.drop(columns=[("Open", "GARAN.IS"), ("Volume", "GARAN.IS")]).astype({("Volume", "EMPTY.IS"): "float64"})
    frame.loc[:, (slice(None), "EMPTY.IS")] = np.nan  # yfinance's columns for a ticker it could not download
    path = _save(frame, tmp_path / "bist.csv")
    report = import_paths(store, [path])
    assert report.symbols == ["THYAO"] == store.symbols()
    messages = {f.ticker: f.message for f in report.failed}
    assert set(messages) == {"GARAN.IS", "^XU100", "EMPTY.IS"} and all("\n" not in m for m in messages.values())
    assert messages["GARAN.IS"].startswith("bist.csv: ticker GARAN.IS: `columns` must include Date, Open, High, Low, Close, Volume")
    assert messages["GARAN.IS"].endswith("(missing: Open, Volume)")
    assert messages["^XU100"].startswith("bist.csv: ticker ^XU100: `symbol` must match")
    assert "every cell empty" in messages["EMPTY.IS"]
    with pytest.raises(MalformedFileError, match=r"bist.csv: `tickers` must be one per file here but got 4"):
        read_price_file(path)


@pytest.mark.parametrize(("stamp", "day"), [
    ("2024-01-02 00:00:00+03:00", "2024-01-02"),  # yfinance's BIST bar: midnight in Istanbul
    ("2024-01-02 00:00:00-05:00", "2024-01-02"),  # a US bar: midnight in New York, its own date
    ("2024-01-01 21:00:00+00:00", "2024-01-02"),  # a BIST bar converted to UTC: the Istanbul date
])
def test_aware_dates_are_the_exchange_calendar_date(tmp_path: Path, stamp: str, day: str) -> None:
    _, frame = read_price_file(_write(tmp_path, "THYAO.csv", f"Date,Open,High,Low,Close,Volume\n{stamp},10,11,9,10.5,100\n"))
    assert list(frame.index.strftime("%Y-%m-%d")) == [day]


# --- Turkish-locale exports: the same numbers as their English twin --------------------------------

LOCALE_ROWS = [  # date, close, open, high, low, volume (as the suffixed text says), change %
    ("2024-01-15", 1234.56, 1240.0, 1250.5, 1230.25, 12_340_000.0, 1.23),
    ("2024-01-16", 12345.67, 12000.1, 12400.0, 11950.75, 1_500.0, -0.5),
    ("2024-01-17", 98.76, 97.5, 99.01, 96.3, 2_100_000_000.0, 0.0),
]
_VOLUME_TEXT = {12_340_000.0: "12.34M", 1_500.0: "1.50K", 2_100_000_000.0: "2.10B"}


def _tr(text: str) -> str:
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def locale_csv(dialect: str, *, sep: str = ",", close_name: str = "Şimdi", volume_name: str = "Hac.") -> str:
    """Investing.com's export of a few sessions: English (``"1,234.56"``, ``01/15/2024``) or Turkish
    (``"1.234,56"``, ``15.01.2024``, Turkish column names), quoted, with volume suffixes and a change %."""
    en = dialect == "en"
    header = ["Date", "Price", "Open", "High", "Low", "Vol.", "Change %"] if en else ["Tarih", close_name, "Açılış", "Yüksek", "Düşük", volume_name, "Fark %"]
    lines = [sep.join(f'"{h}"' for h in header)]
    for day, close, open_, high, low, volume, change in LOCALE_ROWS:
        y, m, d = day.split("-")
        cells = [f"{m}/{d}/{y}" if en else f"{d}.{m}.{y}", *(f"{v:,.2f}" for v in (close, open_, high, low)), _VOLUME_TEXT[volume], f"{change:.2f}%"]
        cells = cells if en else [cells[0], *(_tr(c) for c in cells[1:6]), "%" + _tr(cells[6][:-1])]
        lines.append(sep.join(f'"{c}"' for c in cells))
    return "\n".join(lines) + "\n"


LOCALE_EXPECTED = pd.DataFrame(
    [r[2:5] + (r[1], r[5]) for r in LOCALE_ROWS], columns=["open", "high", "low", "close", "volume"],
    index=pd.DatetimeIndex([r[0] for r in LOCALE_ROWS], name="date").as_unit("ns"),
)


@pytest.mark.parametrize(("sep", "close_name", "volume_name", "encoding"), [
    (",", "Şimdi", "Hac.", "utf-8"), (";", "Kapanış", "Hacim", "utf-8"), (";", "Son", "Hac.", "cp1254"),
], ids=["investing-tr", "semicolon-kapanis", "excel-cp1254"])
def test_a_turkish_file_reads_the_same_numbers_as_its_english_twin(tmp_path: Path, sep: str, close_name: str,
                                                                  volume_name: str, encoding: str) -> None:
    english = read_price_tables(_write(tmp_path, "THYAO.csv", locale_csv("en")))
    turkish_path = tmp_path / "tr" / "THYAO.csv"
    turkish_path.parent.mkdir()
    turkish_path.write_bytes(locale_csv("tr", sep=sep, close_name=close_name, volume_name=volume_name).encode(encoding))
    turkish = read_price_tables(turkish_path)
    pd.testing.assert_frame_equal(turkish.tables[0].frame, english.tables[0].frame, check_exact=True)
    pd.testing.assert_frame_equal(turkish.tables[0].frame, LOCALE_EXPECTED, check_exact=True, check_freq=False)
    assert "dialect tr (decimal comma, day-first dates)" in turkish.tables[0].read_as
    assert "dialect en (decimal point, month-first dates)" in english.tables[0].read_as
    assert ("';'-separated" in turkish.tables[0].read_as) is (sep == ";") and ("cp1254" in turkish.tables[0].read_as) is (encoding == "cp1254")


AMBIGUOUS = "Tarih;Kapanış;Açılış;Yüksek;Düşük;Hacim\n01.02.2024;1.234;1.200;1.250;1.190;1000\n02.02.2024;1.240;1.234;1.260;1.230;1200\n"


def test_a_file_that_reads_two_ways_is_refused_unless_the_dialect_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "AMBIG.csv", AMBIGUOUS)
    with pytest.raises(MalformedFileError) as info:
        read_price_file(path)
    message = str(info.value)
    assert message.startswith("AMBIG.csv: `dialect` must be named (--dialect tr or --dialect en) for a file that reads two ways")
    assert "numbers like '1.234' in `Kapanış` (data row 1: 1234 in tr, 1.234 in en)" in message
    assert "dates like '01.02.2024' (data row 1: 2024-02-01 in tr, 2024-01-02 in en)" in message
    _, tr = read_price_file(path, dialect="tr")
    _, en = read_price_file(path, dialect="en")
    assert tr["close"].tolist() == [1234.0, 1240.0] and list(tr.index.strftime("%Y-%m-%d")) == ["2024-02-01", "2024-02-02"]
    assert en["close"].tolist() == [1.234, 1.24] and list(en.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-02-02"]
    assert "dialect tr (decimal comma, day-first dates, named by --dialect)" in read_price_tables(path, dialect="TR").tables[0].read_as


def test_whole_numbers_and_iso_dates_read_alike_in_both_dialects(tmp_path: Path) -> None:
    found = read_price_tables(_write(tmp_path, "THYAO.csv", "Tarih;Kapanış;Açılış;Yüksek;Düşük;Hacim\n2024-01-02;10;10;11;9;100\n"))
    assert "dialect en and tr alike (no decimal marks, ISO dates)" in found.tables[0].read_as
    assert found.tables[0].frame["close"].tolist() == [10.0]


def test_an_unknown_dialect_is_refused_before_any_file_is_read(store: PriceStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"`dialect` must be one of en, tr \(or left out: detected\) but got 'de'"):
        import_paths(store, [_write(tmp_path, "THYAO.csv", PLAIN)], dialect="de")
    assert store.symbols() == []


def test_the_cli_says_how_each_file_was_read_and_takes_dialect(tmp_path: Path) -> None:
    from bistlab.cli.main import app

    data = tmp_path / "data"
    data.mkdir()
    _write(data, "AMBIG.csv", AMBIGUOUS)
    _save(yf_frame(["THYAO.IS", "GARAN.IS"]), data / "yf.csv")
    runner = CliRunner()
    out = runner.invoke(app, ["--workspace", str(tmp_path / "ws"), "data", "import", str(data)]).output
    assert "failed AMBIG.csv: `dialect` must be named (--dialect tr or --dialect en)" in out
    assert "read as yfinance CSV (Price/Ticker header), Adj Close" in out and "2 symbols stored" in out
    result = runner.invoke(app, ["--workspace", str(tmp_path / "ws"), "data", "import", "--dialect", "tr", str(data / "AMBIG.csv")])
    assert result.exit_code == 0 and "imported AMBIG: 2 rows" in result.output and "named by --dialect" in result.output


SHARED_UNIVERSE = SHARED_BIST.parent / "bist_universe"


@pytest.mark.shared_data
def test_shared_universe_folder_stores_every_file_but_karye(tmp_path: Path) -> None:
    if not SHARED_UNIVERSE.is_dir():
        pytest.skip(f"shared data folder {SHARED_UNIVERSE} is absent (a fresh checkout has no ../shared)")
    store = PriceStore(f"sqlite:///{tmp_path / 'prices.sqlite'}")
    report = import_paths(store, [SHARED_UNIVERSE])
    assert len(report.symbols) == len(store.symbols()) == 199
    assert [f.path.name for f in report.failed] == ["KARYE.csv"] and "no data row" not in report.failed[0].message
    assert report.failed[0].message.startswith("KARYE.csv: `rows` must be at least 1 data row under a 3-line multi-level header")
    tarkm = next(item for item in report.imported if item.symbol == "TARKM")  # yfinance's 3-line header, 449 sessions
    assert tarkm.rows == len(store.read("TARKM")) == 449 and tarkm.read_as.startswith("yfinance CSV (Price/Ticker header), Close")


@pytest.mark.parametrize("multi", [False, True], ids=["flat", "yfinance"])
def test_a_parquet_file_without_dates_is_one_clear_line(tmp_path: Path, multi: bool) -> None:
    table = yf_frame(["THYAO.IS"], adj=False) if multi else EXPECTED.rename(columns=str.capitalize)
    path = tmp_path / "THYAO.parquet"
    table.reset_index(drop=True).to_parquet(path)
    with pytest.raises(MalformedFileError, match=r"^THYAO.parquet: `columns` must include Date, Open, High, Low, Close, Volume .*\(missing: Date\)$"):
        read_price_file(path)
