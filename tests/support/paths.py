"""Where things are: the repository the tests run from, and test-artifacts/, where tests leave what a person may
want to see (screenshots, axe's findings, figures of a run)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
