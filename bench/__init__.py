"""Benchmarks of django-helpdesk-sms against raw references (``make bench``).

Figures, not tests: every benchmark runs the app (A) and a reference doing the same work
without it (B) interleaved A B A B in one process, and prints both with their ratio, so
a noisy machine moves both sides alike. See ``docs/performance.md``.
"""
