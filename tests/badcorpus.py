"""The bad-data corpus of the reliability suite: one case per defect a real export can have, each
with its documented outcome (see docs/reliability.md).

A row-level case is a CSV file (``<SYMBOL>.csv``, columns ``Date,Open,High,Low,Close,Volume``)
whose rows are text, so that it can also be written, as it is, into a table of one's own read in
place (the slow cycle test puts every row-level case into one universe that way). A file-level
case is a whole file: the layouts researchers have (yfinance's multi-level CSV and Parquet with a
symbol per ticker, Turkish-locale exports), good and broken. An outcome is either a rejection
(the import fails with a message naming the file, and the row, date, column or ticker, and the
problem) or an import with the defects validation records, then a task that completes or is
skipped with its reason.

Most series follow Borsa Istanbul's calendar (dates from ``XIST``), so the calendar checks apply;
``GAPMONTHS`` is a plain business-day series (it trades on Turkish holidays), so none does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bistlab.data.sessions import exchange_sessions

HEADER = ("Date", "Open", "High", "Low", "Close", "Volume")
Row = tuple[str, str, str, str, str, str]
N_ROWS = 260
START = "2021-01-04"


@dataclass(frozen=True)
class BadCase:
    """One input and what must become of it.

    Attributes:
        symbol: the symbol (and file stem).
        what: the input, in words.
        rows: the data rows as text (``None``: the case is a file of its own, ``text``).
        text: the whole file, for the cases no table can hold.
        rejected: a phrase of the import's error (``None``: imported).
        defects: defect kind -> a phrase of its detail, for an imported case.
        task: ``"completed"``, or a phrase of the skip reason; ``None`` for a file-level case.
        outcome: the documented outcome, in words.
        suffix: the file's suffix.
        payload: the whole file as bytes, for a binary case (Parquet).
        stores: the symbols an imported file stores (default: ``symbol`` alone).
        refuses: ticker -> a phrase of its one-line refusal, for a file of several tickers.
        dialect: the ``--dialect`` that makes a rejected case import (``None``: none does).
    """

    symbol: str
    what: str
    rows: list[Row] | None = None
    text: str | None = None
    rejected: str | None = None
    defects: dict[str, str] = field(default_factory=dict)
    task: str | None = "completed"
    outcome: str = ""
    suffix: str = ".csv"
    payload: bytes | None = None
    stores: tuple[str, ...] = ()
    refuses: dict[str, str] = field(default_factory=dict)
    dialect: str | None = None

    @property
    def stored(self) -> tuple[str, ...]:
        """The symbols importing the case stores."""
        if self.rejected:
            return ()
        return self.stores or (self.symbol,)

    @property
    def file_name(self) -> str:
        return f"{self.symbol}{self.suffix}"

    def csv(self) -> str:
        if self.rows is None:
            return self.text or ""
        return "\n".join(",".join(r) for r in [HEADER, *self.rows]) + "\n"


def xist_days(n: int = N_ROWS, start: str = START) -> pd.DatetimeIndex:
    """``n`` consecutive XIST sessions from ``start``."""
    sessions = exchange_sessions("XIST")
    return sessions[sessions >= pd.Timestamp(start)][:n]


def _series(dates: pd.DatetimeIndex, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 20.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, len(dates))))
    open_ = close * np.exp(rng.normal(0.0, 0.005, len(dates)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0.001, 0.01, len(dates)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0.001, 0.01, len(dates)))
    volume = rng.integers(10_000, 1_000_000, len(dates)).astype(float)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=dates)


def _rows(frame: pd.DataFrame, *, dates: list[str] | None = None) -> list[Row]:
    days = dates or [str(d.date()) for d in frame.index]
    return [(d, *(f"{v:.6f}" if c != "volume" else f"{v:.0f}" for c, v in r.items())) for d, (_, r) in zip(days, frame.iterrows())]


def _edit(rows: list[Row], index: int, **cells: str) -> None:
    names = {"date": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5}
    row = list(rows[index])
    for name, value in cells.items():
        row[names[name]] = value
    rows[index] = tuple(row)  # type: ignore[assignment]


def good(symbol: str = "GOOD", *, seed: int = 1, n: int = N_ROWS) -> BadCase:
    return BadCase(symbol, "a clean XIST series (the control)", _rows(_series(xist_days(n), seed=seed)), outcome="imported, no defect; completed")


def _row_cases() -> list[BadCase]:
    base = _rows(_series(xist_days(), seed=2))
    days = xist_days()

    nan_run = list(base)
    for i in range(100, 106):
        _edit(nan_run, i, close="")
    non_pos = list(base)
    _edit(non_pos, 50, low="0")
    _edit(non_pos, 51, open="-3.5")
    absurd = list(base)
    _edit(absurd, 80, close=f"{float(base[80][4]) * 1000:.6f}", high=f"{float(base[80][4]) * 1000:.6f}")
    _edit(absurd, 81, open="1e12", high="1e12")
    high_low = list(base)
    _edit(high_low, 30, high=high_low[30][3], low=high_low[30][2])  # swapped: high < low
    _edit(high_low, 31, high=high_low[31][3], low=high_low[31][2])
    dup = list(base)
    middle = (float(base[120][1]) + float(base[120][4])) / 2  # another close, inside the day's range
    dup.insert(121, (base[120][0], base[120][1], base[120][2], base[120][3], f"{middle:.6f}", base[120][5]))
    unsorted = list(base)
    unsorted[40], unsorted[41] = unsorted[41], unsorted[40]
    aware = [(f"{r[0]} 00:00:00{'+03:00' if i % 2 else '+02:00'}", *r[1:]) for i, r in enumerate(base)]
    gap = [r for r in base if not ("2021-03-01" <= r[0] <= "2021-03-16")]
    placeholder = list(base)
    for i in range(60, 65):
        p = placeholder[i][4]
        _edit(placeholder, i, open=p, high=p, low=p, volume="0")
    holiday = list(base)
    for day in ("2021-04-23", "2021-05-19"):  # National Sovereignty Day, Youth Day: XIST closed
        holiday.append((day, *base[-1][1:]))
    holiday.sort(key=lambda r: r[0])
    split = _series(xist_days(), seed=3)
    split.iloc[150] = split.iloc[149]  # the same day again, then a tenth of the price: a jump of exactly 10:1
    split.iloc[150:, :4] = split.iloc[150:, :4] / 10.0
    bdays = pd.bdate_range(START, periods=N_ROWS + 70)
    months_gap = _series(bdays[(bdays < "2021-03-01") | (bdays >= "2021-06-01")], seed=4)
    flat = _series(xist_days(), seed=5).assign(open=7.0, high=7.2, low=6.9, close=7.0)
    return [
        BadCase("NANRUN", "a run of 6 empty closes", nan_run, defects={"nan_rows": "6 rows with NaN or infinite prices dropped"},
                outcome="the 6 rows dropped, `nan_rows` recorded; completed"),
        BadCase("NONPOS", "a zero and a negative price", non_pos, defects={"non_positive_prices": "2 rows with a price <= 0 dropped"},
                outcome="the 2 rows dropped, `non_positive_prices` recorded; completed"),
        BadCase("ABSURD", "a 1000x one-day spike and a price of 1e12", absurd, defects={"absurd_prices": "2 rows with a price above 1e+09 or 10x away"},
                outcome="the 2 rows dropped, `absurd_prices` recorded (date and close); completed"),
        BadCase("HIGHLOW", "High < Low on 2 rows", high_low, defects={"inconsistent_range": "(2 with high < low) kept"},
                outcome="kept, `inconsistent_range` recorded with the dates; completed"),
        BadCase("DUPDIFF", "a date twice with different closes", dup, defects={"duplicate_dates": "1 with other values than the row kept"},
                outcome="the last row of the date kept, `duplicate_dates` recorded; completed"),
        BadCase("UNSORTED", "two rows out of order", unsorted, defects={"unsorted_dates": "1 row dated before the row above; rows sorted"},
                outcome="sorted, `unsorted_dates` recorded; completed"),
        BadCase("TZAWARE", "timezone-aware dates with mixed UTC offsets (+02:00 / +03:00)", aware,
                outcome="each row keeps its own wall-clock date; no defect; completed"),
        BadCase("MISSRUN", "12 XIST sessions without a row", gap, defects={"missing_sessions": "12 sessions 2021-03-01 … 2021-03-16"},
                outcome="kept as a gap (nothing filled), `missing_sessions` recorded with the run; completed"),
        BadCase("PLACEHOLD", "a run of 5 placeholder sessions (O = H = L = C, volume 0)", placeholder,
                defects={"placeholder_sessions": "5 sessions with open = high = low = close and volume 0 dropped"},
                outcome="the 5 rows dropped, `placeholder_sessions` recorded; completed"),
        BadCase("HOLIDAY", "rows on 2 XIST holidays", holiday, defects={"off_session_rows": "2021-04-23, 2021-05-19"},
                outcome="kept, `off_session_rows` recorded with the dates; completed"),
        BadCase("SPLIT10", "a 10:1 price jump (unadjusted split)", _rows(split),
                defects={"price_jumps": f"{split.index[150].date()} x0.1"},
                outcome="kept (bistlab cannot know the ratio), `price_jumps` recorded with date and ratio; completed"),
        BadCase("GAPMONTHS", "a gap of 3 months in a non-XIST series", _rows(months_gap),
                defects={"long_gaps": "2021-02-26 → 2021-06-01 (95 days)"},
                outcome="kept, `long_gaps` recorded with the gap; completed"),
        BadCase("FLAT", "a constant close", _rows(flat), defects={"constant_prices": "the close is 7 on every one of 260 rows"},
                task="constant series has no direction", outcome="imported, `constant_prices` recorded; task skipped with the reason"),
        BadCase("SHORT", "90 rows (fewer than 100)", _rows(_series(days[:90], seed=6)), task="insufficient data",
                outcome="imported, flagged too short for HPO; task skipped: insufficient data (N rows, need 100)"),
        BadCase("NONNUM", "a non-numeric close", _nonnumeric(base), rejected="`Close` must be numeric but got 'ten' in data row 8",
                task="must hold numbers", outcome="rejected: file, data row and value named; in a table read in place: task skipped with the reason"),
        BadCase("BADDATE", "a malformed date", _baddate(base), rejected="`Date` must be a date in every row but got '2021-13-45' in data row 5",
                task="must hold dates", outcome="rejected: file, data row and value named; in a table read in place: task skipped with the reason"),
    ]


def _nonnumeric(base: list[Row]) -> list[Row]:
    rows = list(base)
    _edit(rows, 7, close="ten")
    return rows


def _baddate(base: list[Row]) -> list[Row]:
    rows = list(base)
    _edit(rows, 4, date="2021-13-45")
    return rows


_KARYE_LIKE = """Price,Adj Close,Close,High,Low,Open,Volume
Ticker,KARYE.IS,KARYE.IS,KARYE.IS,KARYE.IS,KARYE.IS,KARYE.IS
Date,,,,,,
"""


def _file_cases() -> list[BadCase]:
    header = ",".join(HEADER) + "\n"
    no_volume = "Date,Open,High,Low,Close\n2021-01-04,1,2,0.5,1.5\n"
    return [
        BadCase("EMPTY", "an empty file", text="", rejected="empty file", task=None, outcome="rejected: the file named, 'an empty file'"),
        BadCase("HEADERONLY", "a header and no rows", text=header, rejected="at least 1 data row but got 0", task=None,
                outcome="rejected: the file named, no data row"),
        BadCase("MULTIHDR", "yfinance's multi-level header and no data row (the real KARYE.csv)", text=_KARYE_LIKE,
                rejected="at least 1 data row under a 3-line multi-level header", task=None,
                outcome="rejected: the file named, the header lines and the ticker shown"),
        BadCase("NOVOLUME", "a missing column", text=no_volume, rejected="(missing: Volume)", task=None,
                outcome="rejected: the file named, the missing column named"),
    ]


def yf_frame(tickers: dict[str, int], *, adj: bool = False, by_ticker: bool = False, n: int = N_ROWS) -> pd.DataFrame:
    """A frame as ``yf.download`` returns it (columns (Price, Ticker), index ``Date``): ticker -> seed."""
    data = {}
    for ticker, seed in tickers.items():
        frame = _series(xist_days(n), seed=seed)
        fields = {"Adj Close": frame["close"] * 0.93, "Close": frame["close"], "High": frame["high"], "Low": frame["low"],
                  "Open": frame["open"], "Volume": frame["volume"].astype("int64")}
        data.update({(name, ticker): values for name, values in fields.items() if adj or name != "Adj Close"})
    out = pd.DataFrame(data).rename_axis("Date")
    out.columns = out.columns.set_names(["Price", "Ticker"])
    return out.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False) if by_ticker else out


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def _tr_number(value: float, digits: int = 4) -> str:
    return f"{value:,.{digits}f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


def _turkish(frame: pd.DataFrame, *, days: list[str] | None = None) -> str:
    """A Turkish-locale export: ``;``, ``1.234,5678``, ``DD.MM.YYYY``, Turkish names, volumes in millions (``0,12M``)."""
    lines = ["Tarih;Kapanış;Açılış;Yüksek;Düşük;Hac.;Fark %"]
    dates = days or [d.strftime("%d.%m.%Y") for d in frame.index]
    for day, (_, r) in zip(dates, frame.iterrows()):
        prices = [_tr_number(r[c]) for c in ("close", "open", "high", "low")]
        lines.append(";".join([day, *prices, _tr_number(r["volume"] / 1e6, 2) + "M", "%0,00"]))
    return "\n".join(lines) + "\n"


def _layout_cases() -> list[BadCase]:
    """yfinance's and Turkish-locale layouts, good and broken."""
    partial = yf_frame({"YFE.IS": 21, "YFF.IS": 22}).drop(columns=[("Open", "YFF.IS"), ("Volume", "YFF.IS")])
    mixed = _turkish(_series(xist_days(20), seed=23)).splitlines()  # prices about 20: no thousands mark
    mixed[5] = mixed[5].replace(",", ".", 1)  # data row 5's close with a decimal point
    ambiguous = _series(xist_days(10, "2021-02-01"), seed=24)
    return [
        BadCase("YFMULTI", "yfinance's multi-level CSV, two tickers", text=yf_frame({"YFA.IS": 11, "YFB.IS": 12}).to_csv(),
                task=None, stores=("YFA", "YFB"), outcome="a symbol per ticker (.IS dropped), each stored; no defect"),
        BadCase("YFPARQ", "yfinance Parquet, group_by='ticker' (Ticker, Price) columns, with Adj Close", suffix=".parquet",
                payload=_parquet(yf_frame({"YFC.IS": 13, "YFD.IS": 14}, adj=True, by_ticker=True)), task=None, stores=("YFC", "YFD"),
                outcome="a symbol per ticker, prices scaled to the Adj Close (basis adj_close in the fingerprint)"),
        BadCase("YFPART", "a multi-ticker file with one ticker's columns missing", text=partial.to_csv(), task=None,
                stores=("YFE",), refuses={"YFF.IS": "ticker YFF.IS: `columns` must include Date, Open, High, Low, Close, Volume"},
                outcome="that ticker refused in one line naming file and ticker (missing: Open, Volume); the other stored"),
        BadCase("TRLOCALE", "a Turkish-locale export (;, 1.234,5678, DD.MM.YYYY, Kapanış, Hac. 0,12M)", text=_turkish(_series(xist_days(), seed=25) * 100),
                task=None, outcome="read as dialect tr (said on the import line); no defect"),
        BadCase("MIXEDDEC", "mixed decimal styles in one column", text="\n".join(mixed) + "\n", task=None,
                rejected="`Kapanış` must use one decimal style but got", outcome="rejected: the file and the column named, a cell of each style shown"),
        BadCase("TWODATES", "a date column that reads two ways (01.02.2021: 1 February or 2 January)",
                text=_turkish(ambiguous, days=[d.strftime("%d.%m.%Y") for d in ambiguous.index]), task=None, dialect="tr",
                rejected="`dialect` must be named (--dialect tr or --dialect en) for a file that reads two ways but got dates like '01.02.2021'",
                outcome="rejected naming what makes it unambiguous; with --dialect tr: imported"),
    ]


def cases() -> list[BadCase]:
    """Every case: the control, the row-level cases, the file-level cases, the layouts."""
    return [good(), *_row_cases(), *_file_cases(), *_layout_cases()]


def write_corpus(folder: Path, corpus: list[BadCase] | None = None) -> dict[str, Path]:
    """Write each case as ``<SYMBOL><suffix>`` into ``folder``; returns symbol -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for case in corpus or cases():
        path = folder / case.file_name
        if case.payload is not None:
            path.write_bytes(case.payload)
        else:
            path.write_text(case.csv(), encoding="utf-8")
        out[case.symbol] = path
    return out


def table_rows(corpus: list[BadCase]) -> list[dict[str, object]]:
    """The row-level cases as rows of a table of one's own (text cells as in the files; an empty
    cell is NULL): ``ticker, day, o, h, l, c, v``."""
    out = []
    for case in corpus:
        for r in case.rows or []:
            cells = [None if v == "" else v for v in r[1:]]
            out.append({"ticker": case.symbol, "day": r[0], "o": cells[0], "h": cells[1], "l": cells[2], "c": cells[3], "v": cells[4]})
    return out
