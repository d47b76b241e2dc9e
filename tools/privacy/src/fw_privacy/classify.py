"""Classify every stored column: personal (with its retention-map entry) or not (with a reason).

Precedence: a column named as a place of an entry belongs to that entry; else a pseudonymous
identifier matched by column name; else the not-personal allow-list. Anything else is
*unclassified*, and so is a map or allow-list item whose column no longer exists (*stale*): both
make the completeness check fail with a message saying what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from fw_privacy.model import RetentionEntry
from fw_privacy.not_personal import NOT_PERSONAL
from fw_privacy.retention_map import ENTRIES
from fw_privacy.schema_scan import Column


@dataclass
class Classification:
    personal: dict[Column, RetentionEntry] = field(default_factory=dict)
    not_personal: dict[Column, str] = field(default_factory=dict)
    unclassified: list[Column] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.unclassified or self.stale or self.conflicts)

    def places_of(self, entry_key: str) -> list[Column]:
        """Every column that belongs to an entry (explicit places and name matches)."""
        return sorted(c for c, e in self.personal.items() if e.key == entry_key)

    def message(self) -> str:
        """What is wrong and how to fix it (empty when complete)."""
        lines: list[str] = []
        if self.unclassified:
            lines.append("Columns that are neither in the retention map nor on the not-personal list:")
            lines += [f"  - {c}" for c in self.unclassified]
            lines.append("  Fix: personal data -> add a Place to an entry in tools/privacy/src/fw_privacy/"
                         "retention_map.py (purpose, legal basis, deletion rule); not personal -> add "
                         "'schema.table.column': '<one-line reason>' to tools/privacy/src/fw_privacy/"
                         "not_personal.py. Then run: python -m fw_privacy render --out docs/privacy/")
        if self.stale:
            lines.append("Map or allow-list items whose column no longer exists in any migration:")
            lines += [f"  - {s}" for s in self.stale]
            lines.append("  Fix: remove or rename them.")
        if self.conflicts:
            lines.append("Columns classified twice:")
            lines += [f"  - {s}" for s in self.conflicts]
        return "\n".join(lines)


def _matches(key: str, column: Column) -> bool:
    schema, table, col = key.split(".")
    return (schema in ("*", column.schema)) and table == column.table and col == column.column


def classify(columns: Sequence[Column], entries: Iterable[RetentionEntry] = ENTRIES,
             not_personal: Mapping[str, str] = NOT_PERSONAL) -> Classification:
    """Classify ``columns`` (from :func:`fw_privacy.schema_scan.stored_columns`)."""
    entries = tuple(entries)
    result = Classification()
    present = set(columns)
    by_place: dict[Column, RetentionEntry] = {}
    for e in entries:
        for p in e.places:
            col = Column(p.schema, p.table, p.column)
            if col in by_place:
                result.conflicts.append(f"{p} is a place of {by_place[col].key} and {e.key}")
            by_place[col] = e
            if col not in present:
                result.stale.append(f"{e.key}: place {p}")
    by_name = {name: e for e in entries for name in e.column_names}
    used_allow: set[str] = set()
    for col in columns:
        allowed = [k for k in not_personal if _matches(k, col)]
        used_allow.update(allowed)
        entry = by_place.get(col) or by_name.get(col.column)
        if entry is not None:
            result.personal[col] = entry
            if allowed:
                result.conflicts.append(f"{col} is personal ({entry.key}) and on the not-personal list")
        elif allowed:
            result.not_personal[col] = not_personal[allowed[0]]
        else:
            result.unclassified.append(col)
    result.stale += [f"not_personal: {k}" for k in not_personal if k not in used_allow]
    return result
