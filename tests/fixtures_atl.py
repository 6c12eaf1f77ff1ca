"""Fixtures for the atl simulator (being written)."""
