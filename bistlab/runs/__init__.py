"""Cycles of tasks: steps, executors, kernels and notebooks, prediction, the forward record, status and tracking.
Imports any layer but api and cli."""
