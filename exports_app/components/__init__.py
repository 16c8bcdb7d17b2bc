"""Reusable widgets and the shared page layout (presentation only)."""
