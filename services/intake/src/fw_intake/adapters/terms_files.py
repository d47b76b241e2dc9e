"""The terms of use shipped inside the package as ``terms/<version>.de.md``."""

from __future__ import annotations

from importlib import resources

from fw_intake.domain.terms import TermsCatalog, TermsDocument

_SUFFIX = ".de.md"


def load_terms(current: str | None = None) -> TermsCatalog:
    """Read every shipped version; ``current`` overrides the default (the newest version)."""
    folder = resources.files("fw_intake") / "terms"
    docs = [TermsDocument.from_bytes(p.name[: -len(_SUFFIX)], p.read_bytes())
            for p in folder.iterdir() if p.name.endswith(_SUFFIX)]
    return TermsCatalog(docs, current=current)
