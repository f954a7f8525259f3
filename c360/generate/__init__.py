"""Synthetic source data with ground truth."""
