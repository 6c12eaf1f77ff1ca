"""Fixtures for the smsclone simulator (being written)."""
