"""Windows, splits and scalers of the LSTM: no window crosses symbols, no training label reaches a
validation window, scalers see training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bistlab.evaluation.dataset import prepare_task
from bistlab.lstm.barriers import UNLABELLED
from bistlab.lstm.samples import prepare_data
from bistlab.data.price_frames import fingerprint
from tests.conftest import _market

H = 5
L = 12


START = pd.Timestamp("2015-01-02")


def _tasks(n_rows=(400, 300), starts=(0, 100)):
    """Symbols over one business-day calendar; BBB listed 100 sessions after AAA, both ending the same day."""
    frames = [_market(n, seed=i + 1, start=str((START + pd.offsets.BDay(k)).date())) for i, (n, k) in enumerate(zip(n_rows, starts))]
    return [prepare_task(sym, f, horizon=H, fingerprint=fingerprint(f)) for sym, f in zip(("AAA", "BBB", "CCC", "DDD"), frames)]


@pytest.fixture
def data():
    return prepare_data(_tasks(), sequence_length=L, n_splits=3)


def test_no_training_label_reaches_its_validation_window(data):
    labels = data.labels({"threshold": 0.005, "take_profit": 0.03, "stop_loss": 0.03})
    for i in range(data.n_splits):
        train, val = data.split(i)
        for k, s in enumerate(data.symbols):
            tr, va = train.row[train.symbol == k], val.row[val.symbol == k]
            assert va.size  # BBB, listed later, has no training rows before the first test window
            # a label at row t reads closes up to t + h
            assert not tr.size or tr.max() + H < va.min(), (s.symbol, i)
            assert (labels[k][tr] != UNLABELLED).all() and (labels[k][va] != UNLABELLED).all()
        assert (train.symbol == 0).any()
        y_val = data.targets(val, labels)
        assert y_val.shape == (len(val),)


def test_holdout_is_after_every_split_and_never_in_them(data):
    dev, hold = data.final()
    for k, s in enumerate(data.symbols):
        h_rows = hold.row[hold.symbol == k]
        assert h_rows.min() == s.plan.holdout_start and h_rows.max() == s.plan.holdout_end - 1
        assert dev.row[dev.symbol == k].max() + H < h_rows.min()
        for i in range(data.n_splits):
            _, val = data.split(i)
            assert val.row[val.symbol == k].max() < s.plan.holdout_start


def test_a_window_never_crosses_symbols(data):
    train, _ = data.split(2)
    for k, s in enumerate(data.symbols):
        rows = train.row[train.symbol == k]
        windows = train.X[train.symbol == k]
        assert (rows - L + 1 >= s.first_valid).all()
        # the last row of each window is the symbol's own row t (scaled): compare the ordering of one feature
        col = 0
        raw = s.features[rows, col]
        assert np.corrcoef(raw, windows[:, -1, col])[0, 1] > 0.999
        assert np.isfinite(windows).all()


def test_scaler_is_fit_on_training_rows_only():
    tasks = _tasks()
    base = prepare_data(tasks, sequence_length=L, n_splits=3)
    train_a, val_a = base.split(0)
    changed = prepare_data(tasks, sequence_length=L, n_splits=3)
    val_start = changed.symbols[0].boundaries[0][1]
    changed.symbols[0].features = changed.symbols[0].features.copy()
    changed.symbols[0].features[val_start:] *= 50.0  # validation and later rows change wildly
    train_b, val_b = changed.split(0)
    np.testing.assert_array_equal(train_a.X, train_b.X)
    assert not np.allclose(val_a.X, val_b.X)


def test_windows_are_standardised_on_the_training_rows(data):
    train, _ = data.split(1)
    last_rows = train.X[:, -1, :]
    assert np.abs(last_rows.mean(axis=0)).max() < 0.2
    assert np.abs(last_rows.std(axis=0) - 1).max() < 0.3


def test_too_few_rows_for_the_splits_is_a_clear_error():
    from bistlab.errors import InsufficientDataError

    with pytest.raises(InsufficientDataError, match="insufficient data"):
        prepare_data(_tasks((150, 150)), sequence_length=80, n_splits=4)


@pytest.mark.parametrize(
    ("n_rows", "starts"),
    [
        ((400, 300), (0, 100)),  # BBB listed later
        ((400, 300, 350), (0, 0, 30)),  # BBB's prices end 100 sessions before AAA's: its last rows fall in AAA's validation and holdout dates
        ((500, 260, 420), (0, 240, 40)),  # listed late, ending early: every symbol a different span
    ],
)
def test_no_training_label_of_any_symbol_reaches_a_validation_or_holdout_date_of_any_symbol(n_rows, starts):
    data = prepare_data(_tasks(n_rows, starts), sequence_length=L, n_splits=3)

    def label_end(k, rows):  # the date of the close that realises the labels of rows
        return data.symbols[k].dates[rows + H]

    def dates(k, rows):
        return data.symbols[k].dates[rows]

    for i in range(data.n_splits):
        train, val = data.split(i)
        first_val = min(dates(k, val.row[val.symbol == k]).min() for k in range(len(data.symbols)) if (val.symbol == k).any())
        for k in range(len(data.symbols)):
            tr = train.row[train.symbol == k]
            assert not tr.size or label_end(k, tr).max() < first_val, (data.symbols[k].symbol, i)
    dev, hold = data.final()
    first_hold = min(dates(k, hold.row[hold.symbol == k]).min() for k in range(len(data.symbols)) if (hold.symbol == k).any())
    last_val = max(dates(k, data.split(data.n_splits - 1)[1].row[data.split(data.n_splits - 1)[1].symbol == k]).max() for k in range(len(data.symbols)) if (data.split(data.n_splits - 1)[1].symbol == k).any())
    for k in range(len(data.symbols)):
        d = dev.row[dev.symbol == k]
        assert label_end(k, d).max() < first_hold, data.symbols[k].symbol
    assert last_val < first_hold
    # the same dates for every symbol: each symbol's validation rows of split i lie in one date window
    for i in range(data.n_splits):
        _, val = data.split(i)
        spans = [(dates(k, val.row[val.symbol == k]).min(), dates(k, val.row[val.symbol == k]).max()) for k in range(len(data.symbols)) if (val.symbol == k).any()]
        lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
        for k in range(len(data.symbols)):
            d = dates(k, np.arange(len(data.symbols[k].dates)))
            inside = np.flatnonzero((d >= lo) & (d <= hi))
            inside = inside[(inside >= data.symbols[k].first_sample) & (inside < data.symbols[k].plan.dev_end)]
            assert set(val.row[val.symbol == k]) == set(inside), (data.symbols[k].symbol, i)
