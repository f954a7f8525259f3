"""Predictive models on Spark ML (cross-sell association rules so far)."""
