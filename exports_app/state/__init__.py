"""Reflex state classes: call services, hold view data, never SQL."""
