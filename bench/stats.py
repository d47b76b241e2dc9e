"""Medians with their spread, percentiles, and the printed table."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def summary(runs: Sequence[float], unit: str) -> dict[str, Any]:
    """Median of several runs, with min/max and the spread (max-min) in % of the median."""
    runs = [float(r) for r in runs]
    med = statistics.median(runs)
    return {"median": round(med, 1), "min": round(min(runs), 1), "max": round(max(runs), 1),
            "spread_pct": round(100 * (max(runs) - min(runs)) / med, 1) if med else None,
            "runs": [round(r, 1) for r in runs], "unit": unit}


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (``p`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def latency(values_s: Sequence[float]) -> dict[str, Any]:
    """p50/p95/p99/max in milliseconds."""
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms), 1) if ms else math.nan}


def table(rows: list[tuple[str, str, str]]) -> str:
    """Three columns: what, our figure, and its reference/target."""
    body = [r for r in rows if r[1] or r[2]]
    w0 = max((len(r[0]) for r in body), default=0)
    w1 = max((len(r[1]) for r in body), default=0)
    out = []
    for a, b, c in rows:
        if not b and not c:
            out.append(f"\n{a}")
        else:
            out.append(f"  {a:<{w0}}  {b:<{w1}}  {c}")
    return "\n".join(out)
