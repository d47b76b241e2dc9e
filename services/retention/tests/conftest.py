"""Shared helpers of retention's tests (unit and integration)."""

from __future__ import annotations

import sys
from pathlib import Path

# The helper module has a service-specific name, so it cannot clash with other services' tests.
sys.path.insert(0, str(Path(__file__).parent))
