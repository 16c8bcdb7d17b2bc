"""Smoke runs of the benchmark clients (kept working, never timed), each with its own app."""
