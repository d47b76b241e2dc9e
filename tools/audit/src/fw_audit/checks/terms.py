"""Check ``terms``: every request accepted terms whose text is in the history.

``SupportRequestCreated.terms`` names the accepted version and the SHA-256 of its text; intake
publishes each version's text (``TermsPublished``) before any request can accept it. So the
accepted (version, hash) must have been published before the request, and each published text
must hash to what its event says (an edited text no longer does). A history from before intake
published its terms has no ``TermsPublished``: then nothing can be compared, and the notes say so.
"""

from __future__ import annotations

import hashlib

from fw_audit.checks import Seen
from fw_audit.model import CheckResult
from fw_contracts.events import SupportRequestCreated
from fw_contracts.reference import TermsPublished

NAME = "terms"
TITLE = "Accepted terms of use are published in the history"


class TermsCheck:
    """Collects the published terms; checks each request's acceptance against them."""

    def __init__(self) -> None:
        self.res = CheckResult(NAME, TITLE)
        self._published: dict[str, set[str]] = {}
        self._unchecked = 0
        #: Whether intake published its terms in this history at all (even an altered text).
        self._any = False

    def feed(self, seen: Seen) -> None:
        e = seen.event
        if isinstance(e, TermsPublished):
            self._any = True
            self.res.checked += 1
            if hashlib.sha256(e.text.encode()).hexdigest() != e.terms_sha256:
                self.res.fail(f"TermsPublished {e.terms_version}: the text does not match its hash (altered)",
                              seen.seq, terms_version=e.terms_version)
                return
            self._published.setdefault(e.terms_version, set()).add(e.terms_sha256)
        elif isinstance(e, SupportRequestCreated):
            if not self._any:
                self._unchecked += 1
                return
            self.res.checked += 1
            t = e.terms
            if t.terms_sha256 not in self._published.get(t.terms_version, set()):
                self.res.fail(f"accepted terms {t.terms_version} (sha256 {t.terms_sha256[:12]}…) were not published "
                              "before the request", seen.seq, request_id=e.request_id)

    def result(self) -> CheckResult:
        self.res.notes.append(f"{sum(len(v) for v in self._published.values())} terms texts published "
                              f"({', '.join(sorted(self._published)) or 'none'})")
        if self._unchecked:
            self.res.notes.append(f"{self._unchecked} requests before any TermsPublished (an older history): "
                                  "their accepted terms text cannot be compared")
        return self.res
