"""Attacker tests against the app started as `make run` starts it (the fixtures: conftest.py; the world: world.py)."""
