"""Accessibility and layout checks for the browser tests: axe-core (vendored, see
``vendor/axe-core/README.md``), horizontal overflow, visible focus."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
#: The committed axe-core 4.10.3 ``axe.min.js`` (see vendor/axe-core/README.md, make vendor-axe).
AXE_SHA256 = "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb"
#: Findings that fail a page.
BLOCKING = ("serious", "critical")
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, "vendored axe.min.js changed: see its README"
    return data.decode("utf-8")


async def axe_violations(page: Any) -> list[str]:
    """The page's serious and critical axe findings as short lines (rule, impact, where)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=axe_source())
    result = await page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }")
    return [f"{v['id']} ({v['impact']}): {json.dumps(v['nodes'])}" for v in result if v["impact"] in BLOCKING]


async def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no horizontal scrolling)."""
    return int(await page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"))
