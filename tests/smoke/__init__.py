"""Smoke runs of the benchmark clients (kept working, never timed); after the browser suites, with their own apps."""
