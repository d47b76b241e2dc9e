"""The reference data in the stream: published tariffs and issuer details, as the checks use them.

``TariffPublished`` carries a tariff version's whole content and its hash. The audit recomputes
the hash from the content (an edited tariff event no longer matches its hash, nor the hash the
invoices name), refuses a version published twice with different content, and re-prices each
invoice with :func:`fw_contracts.pricing.price` and the tariff the stream holds for the version
*and hash* the invoice names. Histories from before billing published its tariffs fall back to
``--tariff-dir`` files, and the notes say so.

``IssuerDetailsChanged``: the issuer details in force are the last ones before an invoice in
stream order (billing publishes them in the invoice's transaction, before the invoice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fw_audit.checks import Seen
from fw_audit.model import CheckResult
from fw_contracts.reference import (
    IssuerDetails,
    IssuerDetailsChanged,
    TariffContent,
    TariffPublished,
    issuer_sha256,
    tariff_sha256,
)


@dataclass
class StreamReference:
    """Tariffs and issuer details read from the stream so far (stream order)."""

    files: dict[str, TariffContent] = field(default_factory=dict)
    files_note: str = ""
    tariffs: dict[str, tuple[str, TariffContent]] = field(default_factory=dict)
    issuer: IssuerDetails | None = None
    issuer_events: int = 0
    #: How many prices came from the stream, how many from files.
    from_stream: int = 0
    from_files: int = 0

    def feed(self, seen: Seen, res: CheckResult) -> None:
        """Take a reference event; its problems are failures of ``res``."""
        e = seen.event
        if isinstance(e, TariffPublished):
            actual = tariff_sha256(e.tariff)
            if actual != e.tariff_sha256:
                res.fail(f"TariffPublished {e.tariff_version}: the content does not match its hash (altered "
                         "tariff event)", seen.seq, tariff_version=e.tariff_version)
                return
            known = self.tariffs.get(e.tariff_version)
            if known is not None and known[0] != actual:
                res.fail(f"tariff {e.tariff_version} published again with other content (a published "
                         "version never changes)", seen.seq, tariff_version=e.tariff_version)
                return
            self.tariffs.setdefault(e.tariff_version, (actual, e.tariff))
        elif isinstance(e, IssuerDetailsChanged):
            if issuer_sha256(e.issuer) != e.issuer_sha256:
                res.fail("IssuerDetailsChanged: the details do not match their hash (altered event)", seen.seq)
                return
            self.issuer = e.issuer
            self.issuer_events += 1

    def tariff(self, version: str, named_sha: str | None) -> tuple[TariffContent | None, str | None]:
        """``(tariff, problem)`` for an invoice that names ``version`` (and ``named_sha``)."""
        published = self.tariffs.get(version)
        if published is not None:
            sha, content = published
            if named_sha is not None and named_sha != sha:
                return None, (f"names tariff {version} with hash {named_sha[:12]}…, the stream's TariffPublished "
                              f"has {sha[:12]}…")
            self.from_stream += 1
            return content, None
        if named_sha is not None:
            return None, f"names tariff {version} by hash, but no TariffPublished of it precedes the invoice"
        shipped = self.files.get(version)
        if shipped is None:
            return None, f"unknown tariff version {version[:40]!r}: cannot re-price"
        self.from_files += 1
        return shipped, None

    def notes(self) -> list[str]:
        out = [(f"{len(self.tariffs)} tariff versions published in the stream; {self.from_stream} prices "
                "re-computed from them (fw_contracts.pricing)")]
        if self.from_files:
            out.append(f"{self.from_files} prices of invoices without a TariffPublished (older history) "
                       f"re-computed from --tariff-dir files ({self.files_note})")
        elif not self.tariffs:
            out.append("the stream has no TariffPublished (a history from before billing published its "
                       "tariffs): re-pricing needs --tariff-dir"
                       + (f" ({self.files_note})" if self.files_note else ""))
        return out
