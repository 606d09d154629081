"""A price table of one's own, read in place through a column mapping (SQLite always, PostgreSQL
through the throwaway server of ``pg_database`` where its binaries are installed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url

from bistlab.config import PRICE_FIELDS, parse_price_columns
from bistlab.core.workspace import Workspace
from bistlab.errors import ConfigError, DataError, SymbolNotFoundError
from bistlab.data.store import PriceStore
from bistlab.data.store_mapped import MappedPriceStore
from bistlab.data.stores import open_store, workspace_store
from bistlab.data.validate import validate_ohlcv
from bistlab.data.price_frames import fingerprint

MAPPING = {
    "symbol": "ticker",
    "date": "trade_date",
    "open": "px_open",
    "high": "px_high",
    "low": "px_low",
    "close": "px_close",
    "volume": "vol",
}


@dataclass
class Backend:
    """A database with an (initially empty) foreign price table ``table`` laid out as ``MAPPING``."""

    name: str
    url: str
    table: str  # as given to PriceStore: schema-qualified on PostgreSQL
    engine: Engine

    def create(self, *, date_type: str = "date", table: str | None = None, extra: str = "") -> None:
        price = "numeric(12,4)" if self.name == "postgresql" else "float"
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"CREATE TABLE {table or self.table} (ticker varchar(20), trade_date {date_type}, "
                    f"px_open {price}, px_high {price}, px_low {price}, px_close float, vol bigint{extra})"
                )
            )

    def insert(self, rows: list[dict], *, table: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {table or self.table} (ticker, trade_date, px_open, px_high, px_low, px_close, vol) "
                    "VALUES (:ticker, :trade_date, :px_open, :px_high, :px_low, :px_close, :vol)"
                ),
                rows,
            )

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {self.table}")).scalar_one())


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE SCHEMA market"))
        db = Backend("postgresql", url, "market.daily_prices", engine)
    else:
        url = f"sqlite:///{tmp_path / 'mine.sqlite'}"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE unrelated (x integer)"))  # the file exists, holds other things
        db = Backend("sqlite", url, "daily_prices", engine)
    yield db
    engine.dispose()


def _expected(make_ohlcv: Callable[..., pd.DataFrame], n: int, *, seed: int, start: str = "2024-01-02") -> pd.DataFrame:
    """Clean data as the foreign table holds it: prices to 4 decimals, whole volumes."""
    return make_ohlcv(n, start=start, seed=seed).round(4)


def _rows(symbol: str, frame: pd.DataFrame, backend: Backend, *, time: str = "") -> list[dict]:
    rows = []
    for day, r in frame.iterrows():
        date: object = day.date() if backend.name == "postgresql" and not time else f"{day.date()}{time}"
        rows.append(
            {"ticker": symbol, "trade_date": date, "px_open": float(r["open"]), "px_high": float(r["high"]),
             "px_low": float(r["low"]), "px_close": float(r["close"]), "vol": int(r["volume"])}
        )
    return rows


def _shuffled(rows: list[dict], seed: int = 3) -> list[dict]:
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order]


def _fill(backend: Backend, make_ohlcv, **create) -> dict[str, pd.DataFrame]:
    backend.create(**create)
    data = {"THYAO": _expected(make_ohlcv, 7, seed=1), "AKBNK": _expected(make_ohlcv, 5, seed=2, start="2024-02-01")}
    rows = [row for symbol, frame in data.items() for row in _rows(symbol, frame, backend)]
    backend.insert(_shuffled(rows))
    return data


def test_reads_a_foreign_table_through_the_mapping(backend: Backend, make_ohlcv) -> None:
    data = _fill(backend, make_ohlcv)
    store = open_store(backend.url, table=backend.table, columns=MAPPING)
    assert store.read_only
    assert store.symbols() == ["AKBNK", "THYAO"]
    for symbol, expected in data.items():
        pd.testing.assert_frame_equal(store.read(symbol), expected, check_freq=False)
        loaded = store.load(symbol)
        assert loaded.defects == ()
        pd.testing.assert_frame_equal(loaded.frame, expected, check_freq=False)
        assert loaded.fingerprint == fingerprint(validate_ohlcv(expected, symbol=symbol).frame)
    summary = store.summary()
    assert summary["symbol"].tolist() == ["AKBNK", "THYAO"]
    assert summary["rows"].tolist() == [5, 7]
    assert summary["first_date"].tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-01-02")]
    assert summary["last_date"].tolist() == [pd.Timestamp("2024-02-07"), pd.Timestamp("2024-01-10")]
    assert str(summary["first_date"].dtype) == "datetime64[ns]"
    assert store.read_sentiment("THYAO") is None  # no sentiment table in the user's database
    assert "read_only=True" in repr(store) and backend.table in repr(store)


def test_reading_creates_and_alters_nothing(backend: Backend, make_ohlcv) -> None:
    _fill(backend, make_ohlcv)
    schema = "market" if backend.name == "postgresql" else None
    before = inspect(backend.engine).get_columns("daily_prices", schema=schema)
    tables_before = set(inspect(backend.engine).get_table_names())
    store = open_store(backend.url, table=backend.table, columns=MAPPING)
    store.load("THYAO")
    store.summary()
    inspector = inspect(backend.engine)
    assert not inspector.has_table("prices") and set(inspector.get_table_names()) == tables_before
    assert [c["name"] for c in inspector.get_columns("daily_prices", schema=schema)] == [c["name"] for c in before]


def test_the_store_of_a_foreign_table_is_read_only(backend: Backend, make_ohlcv) -> None:
    data = _fill(backend, make_ohlcv)
    store = open_store(backend.url, table=backend.table, columns=MAPPING)
    with pytest.raises(DataError, match="is read-only") as info:
        store.write("THYAO", data["THYAO"])
    assert backend.table in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError, match="is read-only"):
        store.delete("THYAO")
    with pytest.raises(DataError, match="is read-only"):
        store.write_sentiment(pd.DataFrame({"symbol": ["THYAO"], "date": ["2024-01-02"], "score": [0.1]}))
    assert backend.count() == 12
    assert not inspect(backend.engine).has_table("sentiment")


def test_a_missing_column_is_one_line_naming_it(backend: Backend, make_ohlcv) -> None:
    backend.create()
    url = backend.url
    if backend.name == "postgresql":  # trust authentication: a password is accepted, and must not show
        url = make_url(url).set(password="s3cret").render_as_string(hide_password=False)
    with pytest.raises(DataError) as info:
        open_store(url, table=backend.table, columns={**MAPPING, "close": "px_last", "low": "px_min"})
    message = str(info.value)
    assert message.startswith(f"`columns` must name columns of table {backend.table} ")
    assert "but got low=px_min, close=px_last (missing; the table has ticker, trade_date" in message
    assert "\n" not in message and "s3cret" not in message
    if backend.name == "postgresql":
        assert "***" in message


def test_a_missing_table_or_schema_is_named(backend: Backend) -> None:
    with pytest.raises(DataError, match=r"`table` must name an existing table or view .* but got 'daily_prices' \(missing"):
        open_store(backend.url, table="daily_prices", columns=MAPPING)
    with pytest.raises(DataError, match=r"but got 'nowhere.daily_prices' \(no schema nowhere; the database has"):
        open_store(backend.url, table="nowhere.daily_prices", columns=MAPPING)
    assert not inspect(backend.engine).has_table("prices")


def test_unmapped_names_map_to_themselves_and_case_is_forgiven(backend: Backend, make_ohlcv) -> None:
    frame = _expected(make_ohlcv, 4, seed=5)
    with backend.engine.begin() as conn:  # unquoted: PostgreSQL stores these names in lower case
        conn.execute(text("CREATE TABLE Quotes (Symbol text, Date date, Open float, High float, Low float, "
                          "Close float, Volume float)"))
    rows = _rows("SISE", frame, backend)
    with backend.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO Quotes VALUES (:ticker, :trade_date, :px_open, :px_high, :px_low, :px_close, :vol)"), rows
        )
    store = open_store(backend.url, table="QUOTES", columns={"symbol": "SYMBOL"})
    pd.testing.assert_frame_equal(store.read("SISE"), frame, check_freq=False)


def test_timestamp_dates_become_midnight(backend: Backend, make_ohlcv) -> None:
    backend.create(date_type="timestamp")
    frame = _expected(make_ohlcv, 4, seed=6)
    backend.insert(_shuffled(_rows("EREGL", frame, backend, time=" 18:30:00")))
    read = open_store(backend.url, table=backend.table, columns=MAPPING).read("EREGL")
    pd.testing.assert_frame_equal(read, frame, check_freq=False)
    assert read.index.tz is None and str(read.index.dtype) == "datetime64[ns]"


def test_timestamptz_dates_are_the_session_time_zone_wall_clock_date(backend: Backend, make_ohlcv) -> None:
    if backend.name != "postgresql":
        pytest.skip("SQLite has no time zone type")
    backend.create(date_type="timestamptz")
    frame = _expected(make_ohlcv, 3, seed=7)
    backend.insert(_rows("KCHOL", frame, backend, time=" 00:00:00+03"))  # midnight in Istanbul: 21:00 UTC the day before
    istanbul = f"{backend.url}?options=-ctimezone%3DEurope/Istanbul"
    read = open_store(istanbul, table=backend.table, columns=MAPPING).read("KCHOL")
    pd.testing.assert_frame_equal(read, frame, check_freq=False)
    utc = f"{backend.url}?options=-ctimezone%3DUTC"
    assert open_store(utc, table=backend.table, columns=MAPPING).read("KCHOL").index[0] == frame.index[0] - pd.Timedelta(days=1)


def test_a_table_without_volume(backend: Backend, make_ohlcv) -> None:
    data = _fill(backend, make_ohlcv)
    store = open_store(backend.url, table=backend.table, columns={**MAPPING, "volume": None})
    read = store.read("THYAO")
    assert read["volume"].isna().all()
    pd.testing.assert_frame_equal(read.drop(columns="volume"), data["THYAO"].drop(columns="volume"), check_freq=False)
    loaded = store.load("THYAO")
    assert [(d.kind, d.count) for d in loaded.defects] == [("nan_rows", 7)]
    assert "7 missing volumes set to 0" in loaded.defects[0].detail
    assert (loaded.frame["volume"] == 0.0).all() and len(loaded.frame) == 7


def test_symbol_suffix_is_stripped_and_added(backend: Backend, make_ohlcv) -> None:
    backend.create()
    frame = _expected(make_ohlcv, 3, seed=8)
    backend.insert(_rows("THYAO.IS", frame, backend) + _rows("XU100", frame, backend))
    store = open_store(backend.url, table=backend.table, columns=MAPPING, symbol_suffix=".IS")
    assert store.symbols() == ["THYAO"]
    assert store.summary()["symbol"].tolist() == ["THYAO"]
    pd.testing.assert_frame_equal(store.read("THYAO"), frame, check_freq=False)
    with pytest.raises(SymbolNotFoundError, match="XU100"):
        store.read("XU100")  # stored without the suffix: not seen


def test_text_that_is_not_a_number_is_named(backend: Backend, make_ohlcv) -> None:
    if backend.name != "sqlite":
        pytest.skip("PostgreSQL's typed columns refuse such values on insert")
    backend.create()
    rows = _rows("TUPRS", _expected(make_ohlcv, 2, seed=9), backend)
    rows[1]["px_close"] = "12,5"  # a decimal comma
    backend.insert(rows)
    with pytest.raises(DataError, match=r"TUPRS: column px_close of table daily_prices must hold numbers but got '12,5'"):
        open_store(backend.url, table=backend.table, columns=MAPPING).read("TUPRS")


def test_workspace_store_uses_the_price_table_and_columns(backend: Backend, make_ohlcv, tmp_path: Path) -> None:
    data = _fill(backend, make_ohlcv)
    ws = Workspace(root=tmp_path / "ws", db_url=backend.url, price_table=backend.table, price_columns=dict(MAPPING))
    store = workspace_store(ws)
    assert store.read_only
    pd.testing.assert_frame_equal(store.load("AKBNK").frame, data["AKBNK"], check_freq=False)


# -- SQLite only: files, arguments --------------------------------------------------------------


def test_a_read_only_store_does_not_create_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "prices.sqlite"
    with pytest.raises(DataError, match="must name an existing SQLite file"):
        open_store(f"sqlite:///{path}", table="daily_prices", columns=MAPPING)
    assert not path.parent.exists()


def test_default_table_without_mapping_stays_read_write(tmp_path: Path, make_ohlcv) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'p.sqlite'}", table="prices")
    assert not store.read_only
    assert store.write("THYAO", make_ohlcv(3)) == 3
    # an explicit mapping, even onto bistlab's own table, reads it in place, read-only
    mapped = open_store(store.url, columns={})
    assert mapped.read_only and mapped.symbols() == ["THYAO"]
    with pytest.raises(DataError, match="read-only"):
        mapped.delete("THYAO")


def test_the_arguments_pick_the_kind_of_store(tmp_path: Path, make_ohlcv) -> None:
    own = open_store(f"sqlite:///{tmp_path / 'p.sqlite'}", table=" prices ")
    assert type(own) is PriceStore and own.write("THYAO", make_ohlcv(2)) == 2
    for kwargs in ({"columns": {}}, {"table": "PRICES"}, {"symbol_suffix": ".IS"}):
        assert type(open_store(own.url, **kwargs)) is MappedPriceStore
    direct = MappedPriceStore(own.url)  # constructed directly, it reads in place even bistlab's own table
    assert direct.read_only and direct.symbols() == ["THYAO"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"columns": {"clsoe": "px_close"}}, "keys from symbol, date"),
        ({"columns": {"close": ""}}, "non-empty column names"),
        ({"columns": {"close": None}}, "only volume may map to None"),
        ({"table": ""}, "`table` must be a table name"),
        ({"table": ".prices"}, "`table` must be a table name"),
    ],
)
def test_malformed_arguments_are_config_errors(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        open_store(f"sqlite:///{tmp_path / 'p.sqlite'}", **kwargs)


# -- Workspace and environment ------------------------------------------------------------------


def test_workspace_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BISTLAB_PRICE_TABLE", raising=False)
    monkeypatch.delenv("BISTLAB_PRICE_COLUMNS", raising=False)
    ws = Workspace.from_env(tmp_path)
    assert ws.price_table == "prices" and ws.price_columns is None
    assert Workspace(root=tmp_path).price_table == "prices"
    assert not workspace_store(ws).read_only


def test_workspace_reads_the_price_table_and_columns_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BISTLAB_OPTUNA_URL", "sqlite:///optuna.db")
    monkeypatch.setenv("BISTLAB_PRICE_TABLE", " market.daily_prices ")
    monkeypatch.setenv("BISTLAB_PRICE_COLUMNS", "symbol=ticker, date = trade_date,close=px_close,volume=,")
    ws = Workspace.from_env(tmp_path)
    assert ws.price_table == "market.daily_prices"
    assert ws.price_columns == {"symbol": "ticker", "date": "trade_date", "close": "px_close", "volume": None}
    assert ws.optuna_url == "sqlite:///optuna.db"
    hash(ws)  # still hashable although it holds a dict
    explicit = Workspace.from_env(tmp_path, price_table="quotes", price_columns={"close": "last"})
    assert explicit.price_table == "quotes" and explicit.price_columns == {"close": "last"}


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("date=trade_date,close", r"`BISTLAB_PRICE_COLUMNS` must be comma-separated field=column pairs .* but got 'close'"),
        ("clsoe=px_close", r"with a field from symbol, date, open, high, low, close, volume but got 'clsoe=px_close'"),
        ("close=a,close=b", r"naming each field once but got 'close=b'"),
        ("close=", r"only 'volume=' may be empty.* but got 'close='"),
    ],
)
def test_malformed_price_columns_are_config_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, match: str) -> None:
    monkeypatch.setenv("BISTLAB_PRICE_COLUMNS", value)
    with pytest.raises(ConfigError, match=match) as info:
        Workspace.from_env(tmp_path)
    assert info.value.name == "BISTLAB_PRICE_COLUMNS"


def test_parse_price_columns() -> None:
    assert parse_price_columns(None) is None and parse_price_columns("  ") is None
    full = ",".join(f"{f}=c_{f}" for f in PRICE_FIELDS)
    assert parse_price_columns(full) == {f: f"c_{f}" for f in PRICE_FIELDS}
