"""Fixtures for the sms1601 simulator (being written)."""
