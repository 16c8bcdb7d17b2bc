"""Attacker tests against the app started as `make run` starts it (see conftest.py)."""
