"""The render caches' one LRU: least recent dropped first, bound read at each insertion, counts."""

from __future__ import annotations

from fw_billing.adapters.kept import Kept


def test_least_recent_goes_first_and_counts_are_kept() -> None:
    bound = [2]
    kept: Kept[str, int] = Kept(lambda: bound[0])
    assert kept.get("a") is None
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1          # "a" is now the most recent
    kept.put("c", 3)                   # drops "b"
    assert kept.get("b") is None and kept.get("c") == 3
    assert kept.stats() == {"hits": 2, "misses": 3, "entries": 2}
    bound[0] = 1
    kept.put("d", 4)                   # the new bound holds from the next insertion
    assert kept.stats()["entries"] == 1 and kept.get("d") == 4
    kept.clear()
    assert kept.stats() == {"hits": 0, "misses": 0, "entries": 0}
