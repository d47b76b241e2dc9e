"""Data-subject access (Art. 15 GDPR): everything the vault holds about one support request.

The export is the one read of the vault that returns personal data over HTTP (to the office,
which hands it to the data subject). Every export is recorded in the access log with the purpose
``data_subject_access`` in the same transaction as the read, so the export itself shows up in
the log it returns. After erasure the export says that, when and why — and holds no data.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from fw_contracts.events import ErasureReason
from fw_contracts.vault import PersonalData, PromotionStatement
from fw_retention.application.ports import Cipher, Part, VaultStore
from fw_retention.application.vault import open_data, open_statement
from fw_retention.domain.rules import erasure_deadline

log = logging.getLogger(__name__)

EXPORT_FORMAT: Final = "fernwartung.retention.art15-export.v1"
EXPORT_PURPOSE = "data_subject_access"
#: The export is retention's own read of the vault (access-log caller).
EXPORT_CALLER = "retention"

#: Art. 15(1)(a)-(h) information that is the same for every request (German, for the data
#: subject). Kept short and factual; the Art. 30 record (docs/privacy) has the details.
PROCESSING_INFO_DE: dict[str, str] = {
    "zweck": ("Bearbeitung Ihrer Fernwartungsanfrage und Abrechnung der erbrachten Leistung "
              "(Art. 6 Abs. 1 lit. b DSGVO). Die Daten werden nicht für spätere Anfragen verwendet."),
    "kategorien": "Firma, Name der Ansprechperson, Telefon, ggf. E-Mail und Rechnungsanschrift, "
                  "ggf. Ihre Erklärung, Stammkunde werden zu wollen.",
    "empfaenger": ("Nur intern: der bearbeitende Techniker (Warteschlange) und die Abrechnung. "
                   "Keine Übermittlung an Dritte oder in Drittländer durch dieses System."),
    "speicherdauer": ("Automatische Löschung, sobald die Rechnung ausgestellt ist, die Sitzung ohne "
                      "Abrechnung endet, Sie die Anfrage zurückziehen oder spätestens mit Ablauf der "
                      "Frist für nicht bearbeitete Anfragen. Wartet die Rechnung auf eine "
                      "Rechnungsanschrift, die in der Anfrage fehlt, gilt stattdessen eine begrenzte "
                      "Frist für die Abrechnung; danach wird ebenfalls gelöscht. Eine E-Mail-Adresse für "
                      "die Rechnung wird erst gelöscht, wenn die Rechnung Sie erreicht hat oder die "
                      "Zustellung aufgegeben ist, spätestens 14 Tage nach der Rechnung. Ausnahmen: die "
                      "gesetzlich aufzubewahrende "
                      "Rechnungskopie (8 Jahre, § 147 AO, § 14b UStG) und ein auf Ihren Wunsch "
                      "angelegtes Kundenkonto; beide führt die Abrechnung, nicht dieser Datentresor."),
    "herkunft": "Von Ihnen selbst bei der Anfrage eingegeben (Art. 15 Abs. 1 lit. g DSGVO).",
    "rechte": ("Berichtigung (Art. 16), Löschung (Art. 17), Einschränkung (Art. 18), Widerspruch "
               "(Art. 21), Beschwerde bei einer Aufsichtsbehörde (Art. 77 DSGVO)."),
    "automatisierte_entscheidung": "Keine automatisierte Entscheidungsfindung (Art. 22 DSGVO).",
}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class AccessEntry(_Out):
    at: datetime
    purpose: str
    outcome: str
    #: Which service asked (``retention`` for this export); None on entries from before it was kept.
    caller: str | None = None


class ErasureInfo(_Out):
    erased_at: datetime
    reason: ErasureReason
    trigger_event_id: uuid.UUID | None
    had_data: bool


class RequestExport(_Out):
    """The Art. 15 export of one support request (JSON)."""

    format: Literal["fernwartung.retention.art15-export.v1"] = EXPORT_FORMAT
    request_id: uuid.UUID
    exported_at: datetime
    state: Literal["stored", "erased", "unknown"]
    #: When the data were stored, and when they are erased at the latest if nothing else does.
    stored_at: datetime | None = None
    erasure_deadline: datetime | None = None
    personal_data: PersonalData | None = None
    promotion_statement: PromotionStatement | None = None
    #: After the first erasure step: the e-mail address still kept for delivering the invoice,
    #: and when it is erased at the latest (LEGAL.md L21).
    delivery_email: str | None = None
    delivery_email_erased_by: datetime | None = None
    erasure: ErasureInfo | None = None
    #: Who read or wrote this request's data, for which purpose (incl. this export).
    access_log: tuple[AccessEntry, ...] = ()
    processing: dict[str, str] = PROCESSING_INFO_DE
    note_de: str


async def export_request(store: VaultStore, cipher: Cipher, request_id: uuid.UUID, now: datetime,
                         abandon_after: timedelta, *, billing_hold: timedelta) -> RequestExport:
    """Build the export and record it in the access log (one transaction, under the request lock)."""
    await store.lock(request_id)
    marker = await store.erasure(request_id)
    entry = None if marker else await store.load(request_id)
    outcome = "erased" if marker else ("ok" if entry else "not_found")
    await store.log_access(request_id, EXPORT_PURPOSE, outcome, now, caller=EXPORT_CALLER)
    access = tuple(AccessEntry(at=a.at, purpose=a.purpose, outcome=a.outcome, caller=a.caller)
                   for a in await store.access_log(request_id))
    log.info("data-subject export served", extra={"request_id": str(request_id), "status": outcome})
    blocked_at = await store.billing_blocked_at(request_id)
    if marker is not None and marker.partial:
        held = await store.load_delivery_email(request_id)
        if held is not None:
            key = cipher.unwrap(request_id, held.wrapped_key)
            email = cipher.open(key, request_id, held.email.nonce, held.email.ciphertext, Part.DELIVERY_EMAIL).decode()
            until = marker.delivery_hold_until
            return RequestExport(
                request_id=request_id, exported_at=now, state="erased", access_log=access,
                erasure=ErasureInfo(erased_at=marker.erased_at, reason=marker.reason,
                                    trigger_event_id=marker.trigger_event_id, had_data=marker.had_data),
                delivery_email=email, delivery_email_erased_by=until,
                note_de=(f"Die personenbezogenen Daten dieser Anfrage wurden am "
                         f"{marker.erased_at:%d.%m.%Y um %H:%M:%S} UTC gelöscht (Grund: "
                         f"{_reason_de(marker.reason, blocked_at)}) – bis auf die E-Mail-Adresse, an die "
                         "die Rechnung geschickt wird. Sie wird gelöscht, sobald die Rechnung zugestellt "
                         "oder die Zustellung aufgegeben ist"
                         + (f", spätestens am {until:%d.%m.%Y}." if until else ".")))
    if marker is not None:
        erasure = ErasureInfo(erased_at=marker.erased_at, reason=marker.reason,
                              trigger_event_id=marker.trigger_event_id, had_data=marker.had_data)
        return RequestExport(
            request_id=request_id, exported_at=now, state="erased", erasure=erasure, access_log=access,
            note_de=(f"Die personenbezogenen Daten dieser Anfrage wurden am "
                     f"{marker.erased_at:%d.%m.%Y um %H:%M:%S} UTC gelöscht "
                     f"(Grund: {_reason_de(marker.reason, blocked_at)}). Der Datentresor enthält dazu keine "
                     "Daten mehr; nur der Löschvermerk und das Zugriffsprotokoll (ohne Inhalte) "
                     "bleiben als Nachweis."))
    if entry is None:
        return RequestExport(request_id=request_id, exported_at=now, state="unknown", access_log=access,
                             note_de="Zu dieser Kennung sind im Datentresor keine Daten gespeichert.")
    key, data = open_data(cipher, entry)
    return RequestExport(
        request_id=request_id, exported_at=now, state="stored", stored_at=entry.stored_at,
        erasure_deadline=erasure_deadline(entry.stored_at, abandon_after, billing_blocked_at=blocked_at,
                                          billing_hold=billing_hold), personal_data=data,
        promotion_statement=open_statement(cipher, key, entry), access_log=access,
        note_de=("Dies sind alle Daten, die der Datentresor zu dieser Anfrage gespeichert hat. "
                 "Rechnungskopien und Kundenkonten führt die Abrechnung gesondert."))


_REASON_DE: dict[ErasureReason, str] = {
    ErasureReason.INVOICE_ISSUED: "Rechnung ausgestellt",
    ErasureReason.NOT_BILLED: "Sitzung ohne Abrechnung beendet",
    ErasureReason.WITHDRAWN: "Anfrage zurückgezogen",
    ErasureReason.ABANDONED: "Frist für nicht bearbeitete Anfragen abgelaufen",
    ErasureReason.INVOICE_DELIVERED: "Rechnung zugestellt",
    ErasureReason.INVOICE_DELIVERY_FAILED: "Zustellung der Rechnung aufgegeben",
    ErasureReason.DELIVERY_HOLD_ENDED: "Frist für die Zustellung der Rechnung abgelaufen",
}


def _reason_de(reason: ErasureReason, billing_blocked_at: datetime | None) -> str:
    if reason is ErasureReason.ABANDONED and billing_blocked_at is not None:
        return "Frist für die Abrechnung abgelaufen, die Rechnung konnte bis dahin nicht gestellt werden"
    return _REASON_DE[reason]
