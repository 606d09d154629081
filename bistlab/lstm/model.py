"""The LSTM classifier: windows of feature rows in, logits of SELL / HOLD / BUY out."""

from __future__ import annotations

import torch
from torch import nn

from bistlab.lstm.barriers import N_CLASSES

__all__ = ["LSTMClassifier"]


class LSTMClassifier(nn.Module):
    """A stacked LSTM over the window, dropout, and a linear head on the last step's hidden state.

    Args:
        n_features: feature columns per row.
        hidden_size: LSTM units per layer.
        num_layers: stacked LSTM layers (dropout between them when more than one).
        dropout: dropout rate before the head (and between layers).
        n_classes: output classes (SELL, HOLD, BUY).
    """

    def __init__(self, n_features: int, *, hidden_size: int = 32, num_layers: int = 1, dropout: float = 0.2, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)`` of windows ``(batch, sequence_length, n_features)``."""
        out, _ = self.lstm(x)
        return self.head(self.dropout(out[:, -1, :]))
