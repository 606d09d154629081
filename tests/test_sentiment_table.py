"""The optional sentiment table, through the price store (SQLite; also PostgreSQL with ``BISTLAB_TEST_PG_URL``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bistlab.errors import DataError


def test_sentiment_table_roundtrip_through_the_store(store) -> None:
    assert store.read_sentiment("AKBNK") is None  # no table until something is written
    rows = pd.DataFrame(
        {
            "symbol": ["AKBNK", "AKBNK", "GARAN", "AKBNK"],
            "date": ["2024-01-03", "2024-01-02", "2024-01-02", "2024-01-03"],
            "score": [0.1, -0.5, 0.7, 0.3],  # AKBNK 01-03 twice: the last is kept
        }
    )
    assert store.write_sentiment(rows) == 3
    got = store.read_sentiment("AKBNK")
    assert got.index.tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]
    assert got["score"].tolist() == [-0.5, 0.3]
    assert store.write_sentiment(pd.DataFrame({"symbol": ["AKBNK"], "date": ["2024-02-01"], "score": [0.9]})) == 1
    assert store.read_sentiment("AKBNK")["score"].tolist() == [0.9]  # AKBNK's rows replaced
    assert store.read_sentiment("GARAN")["score"].tolist() == [0.7]  # other symbols kept
    assert store.read_sentiment("THYAO").empty
    with pytest.raises(DataError, match="`score` must be a finite number"):
        store.write_sentiment(pd.DataFrame({"symbol": ["AKBNK"], "date": ["2024-02-01"], "score": [np.nan]}))
    with pytest.raises(DataError, match="`frame.columns` must include symbol, date, score"):
        store.write_sentiment(pd.DataFrame({"symbol": ["AKBNK"], "score": [0.1]}))
    with pytest.raises(DataError, match="`symbol` must match"):
        store.write_sentiment(pd.DataFrame({"symbol": ["bad symbol"], "date": ["2024-02-01"], "score": [0.1]}))


def test_sentiment_dates_are_wall_clock_midnight_and_never_missing(store) -> None:
    aware = pd.DataFrame(
        {"symbol": ["SISE"], "date": [pd.Timestamp("2024-03-05 23:30", tz="Europe/Istanbul")], "score": [0.2]}
    )
    assert store.write_sentiment(aware) == 1
    assert store.read_sentiment("SISE").index.tolist() == [pd.Timestamp("2024-03-05")]  # not the UTC date
    with pytest.raises(DataError, match=r"`date` must hold a date on every row but got a missing one at row 'b'"):
        store.write_sentiment(
            pd.DataFrame({"symbol": ["SISE", "SISE"], "date": ["2024-03-06", None], "score": [0.1, 0.2]}, index=["a", "b"])
        )
    with pytest.raises(DataError, match="`date` must hold dates but got"):
        store.write_sentiment(pd.DataFrame({"symbol": ["SISE"], "date": ["not a date"], "score": [0.1]}))
    assert store.read_sentiment("SISE")["score"].tolist() == [0.2]  # nothing written by the failed calls
