from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event

from bistlab.core.workspace import Workspace
from bistlab.errors import DataError, SymbolNotFoundError
from bistlab.data.store import PriceStore
from bistlab.data.stores import workspace_store
from bistlab.data.validate import validate_ohlcv
from bistlab.data.price_frames import fingerprint


def test_write_read_roundtrip_keeps_raw_rows(store: PriceStore, make_ohlcv) -> None:
    frame = make_ohlcv(8)
    frame.iloc[2, frame.columns.get_loc("volume")] = np.nan  # raw defects are stored as they are
    frame.iloc[5, frame.columns.get_loc("low")] = -1.0
    assert store.write("THYAO", frame.iloc[::-1]) == 8
    back = store.read("THYAO")
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    assert back.index.name == "date" and str(back.index.dtype) == "datetime64[ns]"


def test_duplicate_dates_in_one_write_keep_the_last(store: PriceStore, make_ohlcv) -> None:
    frame = make_ohlcv(4)
    last = frame.iloc[[1]].assign(close=99.0)
    assert store.write("AKBNK", pd.concat([frame, last])) == 4
    assert store.read("AKBNK").loc[frame.index[1], "close"] == 99.0


def test_replace_deletes_old_rows_and_merge_overwrites_same_dates(store: PriceStore, make_ohlcv) -> None:
    store.write("GARAN", make_ohlcv(6, start="2024-01-01"))
    store.write("GARAN", make_ohlcv(3, start="2024-02-01"), replace=True)
    assert store.read("GARAN").index.min() == pd.Timestamp("2024-02-01")
    assert len(store.read("GARAN")) == 3

    update = make_ohlcv(2, start="2024-02-05", seed=7)  # stored: 02-01, 02-02, 02-05; adds 02-06
    assert store.write("GARAN", update, replace=False) == 2
    merged = store.read("GARAN")
    assert len(merged) == 4
    assert merged.loc["2024-02-05", "close"] == update.loc["2024-02-05", "close"]
    assert merged.index.min() == pd.Timestamp("2024-02-01")


def test_replace_touches_only_its_symbol(store: PriceStore, make_ohlcv) -> None:
    store.write("A", make_ohlcv(5))
    store.write("B", make_ohlcv(5))
    store.write("A", make_ohlcv(2))
    assert len(store.read("B")) == 5


def test_summary_is_one_query_with_counts_and_dates(store: PriceStore, make_ohlcv) -> None:
    store.write("ZZ", make_ohlcv(3, start="2024-03-01"))
    store.write("AA", make_ohlcv(5, start="2024-01-01"))
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    summary = store.summary()
    assert len(statements) == 1
    assert list(summary.columns) == ["symbol", "rows", "first_date", "last_date"]
    assert summary["symbol"].tolist() == ["AA", "ZZ"] == store.symbols()
    assert summary["rows"].tolist() == [5, 3]
    assert summary["first_date"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01")]
    assert summary["last_date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-03-05")]


def test_empty_store_summary_and_symbols(store: PriceStore) -> None:
    assert store.symbols() == []
    assert store.summary().empty


def test_missing_symbol_error_names_symbol_and_store(store: PriceStore) -> None:
    with pytest.raises(SymbolNotFoundError, match="NOPE") as info:
        store.read("NOPE")
    assert info.value.symbol == "NOPE"
    assert store.safe_url in str(info.value)


def test_missing_symbol_error_suggests_the_upper_case_symbol(store: PriceStore, make_ohlcv) -> None:
    store.write("THYAO", make_ohlcv(2))
    with pytest.raises(SymbolNotFoundError, match="but got 'thyao' \\(did you mean 'THYAO'\\?\\)"):
        store.load("thyao")


def test_unreachable_postgres_error_hides_the_password() -> None:
    with pytest.raises(DataError) as info:
        PriceStore("postgresql+psycopg2://bist:s3cret@127.0.0.1:1/bist?connect_timeout=2")
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def test_delete(store: PriceStore, make_ohlcv) -> None:
    store.write("SISE", make_ohlcv(4))
    assert store.delete("SISE") == 4
    assert store.delete("SISE") == 0
    assert "SISE" not in store.symbols()


@pytest.mark.parametrize("symbol", ["", "bad symbol", "x" * 40])
def test_write_rejects_bad_symbols(store: PriceStore, make_ohlcv, symbol: str) -> None:
    with pytest.raises(DataError, match="`symbol` must match"):
        store.write(symbol, make_ohlcv(2))


def test_write_rejects_an_empty_frame(store: PriceStore, make_ohlcv) -> None:
    store.write("KEEP", make_ohlcv(3))
    with pytest.raises(DataError, match="at least one dated row"):
        store.write("KEEP", make_ohlcv(3).iloc[:0])
    assert len(store.read("KEEP")) == 3  # nothing lost


def test_load_validates_and_fingerprints(store: PriceStore, make_ohlcv) -> None:
    frame = make_ohlcv(6)
    frame.iloc[3] = [5.0, 5.0, 5.0, 5.0, 0.0]  # a placeholder session
    store.write("EREGL", frame)
    loaded = store.load("EREGL")
    assert loaded.symbol == "EREGL"
    assert [(d.kind, d.count) for d in loaded.defects] == [("placeholder_sessions", 1)]
    assert frame.index[3] not in loaded.frame.index and len(loaded.frame) == 5
    assert loaded.fingerprint == fingerprint(validate_ohlcv(frame, symbol="EREGL").frame)


def test_sqlite_parent_folder_is_created_and_workspace_default(tmp_path: Path, make_ohlcv) -> None:
    nested = PriceStore(f"sqlite:///{tmp_path / 'a' / 'b' / 'p.sqlite'}")
    nested.write("X", make_ohlcv(2))
    assert (tmp_path / "a" / "b" / "p.sqlite").is_file()
    ws_store = workspace_store(Workspace(root=tmp_path / "ws"))
    ws_store.write("X", make_ohlcv(2))
    assert (tmp_path / "ws" / "runs" / "prices.sqlite").is_file()
    assert ws_store.symbols() == ["X"]


def test_the_default_store_is_bistlab_own_read_write_table(store: PriceStore) -> None:
    assert not store.read_only and store.table_name == "prices" and store.symbol_suffix == ""
    assert repr(store) == f"PriceStore({store.safe_url!r})"


def test_the_import_record_keeps_the_price_basis_and_it_enters_the_fingerprint(store: PriceStore, make_ohlcv) -> None:
    frame = make_ohlcv(120)
    store.write("THYAO", frame, basis="adj_close", source="THYAO.csv (ticker THYAO.IS)")
    loaded = store.load("THYAO")
    assert store.price_basis("THYAO") == loaded.basis == "adj_close"
    assert loaded.fingerprint == fingerprint(loaded.frame, basis="adj_close") != fingerprint(loaded.frame)
    store.write("THYAO", make_ohlcv(3, start="2024-12-02"), replace=False)  # a merge keeps the basis
    assert store.price_basis("THYAO") == "adj_close"
    with pytest.raises(DataError, match=r"THYAO: `basis` must be the stored rows' \('adj_close'\) when merging but got 'close'"):
        store.write("THYAO", frame, replace=False, basis="close")
    store.write("THYAO", frame)  # replaced without a basis: on the close again
    assert store.price_basis("THYAO") == "close" and store.load("THYAO").fingerprint == fingerprint(store.load("THYAO").frame)
    store.write("GARAN", frame, basis="adj_close")
    store.delete("GARAN")
    assert store.price_basis("GARAN") == "close"  # no record left behind
    with pytest.raises(DataError, match="`basis` must be one of close, adj_close but got 'adjusted'"):
        store.write("GARAN", frame, basis="adjusted")
