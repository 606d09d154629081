"""Labels, tasks (one symbol or a universe panel), walk-forward evaluation, split metrics and intervals, verdicts,
calibration, the forecast ledger and every look at a holdout. Imports models and the layers below."""
