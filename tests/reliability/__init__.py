"""Helpers of the reliability suite (tests/test_reliability.py): hostile inputs generated on the fly, fault
injection, fuzzing strategies, a live server, and the summary written to artifacts/reliability-summary.md."""
