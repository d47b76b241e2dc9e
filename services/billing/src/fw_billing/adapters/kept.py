"""A bounded LRU for what every invoice's rendering repeats, shared by the render threads.

:mod:`fontcache` (font subsets), :mod:`fontobjects` (width, ToUnicode and CID maps) and
:mod:`streamcache` (compressed streams) each keep one. The bound is read at each insertion, so a
module's ``MAX_ENTRIES`` can be changed at run time (the tests do). Hits and misses are counted
for the tests and the bench; a miss is counted when its result is put.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """Thread-safe LRU of at most ``bound()`` entries with hit and miss counts."""

    def __init__(self, bound: Callable[[], int]) -> None:
        self._bound = bound
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._hits = self._misses = 0

    def get(self, key: K) -> V | None:
        """The kept value (now the most recent), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self._hits += 1
            return found

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` (a miss just computed), dropping the least recent beyond the bound."""
        with self._lock:
            self._entries[key] = value
            self._misses += 1
            while len(self._entries) > self._bound():
                self._entries.popitem(last=False)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self._hits, "misses": self._misses, "entries": len(self._entries)}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = 0
