"""axe-core on the page as it stands: WCAG 2.1 A/AA violations, also kept in test-artifacts/axe.json."""

from __future__ import annotations

import json

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.support.paths import ARTIFACTS

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
FOUND: dict[str, list[str]] = {}  # page or state -> "rule (impact): nodes", written to test-artifacts/axe.json


def axe_violations(page: Page, name: str) -> list[str]:
    """axe's WCAG 2.1 A/AA violations on the page as it stands, once every animation has finished."""
    page.evaluate("() => Promise.all(document.getAnimations().map(a => a.finished))")
    found = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    lines = [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} · "
        + "; ".join(f"{' '.join(n['target'])} [{n['failureSummary'].splitlines()[-1].strip()}]" for n in v["nodes"])
        for v in found
    ]
    FOUND[name] = lines
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe.json").write_text(json.dumps(FOUND, indent=2, ensure_ascii=False))
    return lines
