"""The checks of ``fernwartung audit verify``.

Each check is a collector: the verifier feeds it every decoded event (or every raw record) in
stream order, then asks it for its :class:`fw_audit.model.CheckResult`. Collectors keep only the
few fields they need, so a long history does not have to be held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fw_contracts import Event


@dataclass(frozen=True, slots=True)
class Seen:
    """A decoded event together with where the stream stored it."""

    seq: int
    time: datetime
    event: Event
