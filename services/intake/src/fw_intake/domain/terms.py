"""Versioned terms of use: the exact text a customer accepted, identified by version and hash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Same rule as ``fw_contracts.events.TermsAcceptance.terms_version``.
VERSION_PATTERN = re.compile(r"^[0-9A-Za-z._-]{1,32}$")


@dataclass(frozen=True)
class TermsDocument:
    version: str
    sha256: str
    text: str

    @classmethod
    def from_bytes(cls, version: str, raw: bytes) -> TermsDocument:
        """Hash the bytes exactly as shipped, so the hash proves which text was shown."""
        if not VERSION_PATTERN.fullmatch(version):
            raise ValueError(f"bad terms version {version!r}")
        return cls(version=version, sha256=hashlib.sha256(raw).hexdigest(), text=raw.decode("utf-8"))


class TermsCatalog:
    """All shipped versions; ``current`` is the one new customers are shown."""

    def __init__(self, documents: Iterable[TermsDocument], current: str | None = None) -> None:
        self._docs = {d.version: d for d in documents}
        if not self._docs:
            raise ValueError("no terms of use shipped")
        # Versions are named YYYY-MM[...]: the newest sorts last.
        self._current = current or max(self._docs)
        if self._current not in self._docs:
            raise ValueError(f"configured current terms version {self._current!r} is not shipped")

    @property
    def current(self) -> TermsDocument:
        return self._docs[self._current]

    def get(self, version: str) -> TermsDocument | None:
        """The document of ``version``, or None if that version was never shipped."""
        return self._docs.get(version)

    def versions(self) -> list[str]:
        return sorted(self._docs)
