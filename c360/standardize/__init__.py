"""Standardisation of bronze rows into typed, de-duplicated silver tables."""
