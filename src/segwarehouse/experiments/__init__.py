"""Experiment statistics (campaign lift) on per-arm aggregates: tests, intervals, sample sizes."""
