"""Fixtures for the unified simulator (being written)."""
