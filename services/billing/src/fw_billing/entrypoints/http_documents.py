"""HTTP routes for documents, cancellation (Storno), correction, deliveries and accounting exports."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from fw_billing.adapters.exports import DatevNotConfigured, Exports
from fw_billing.adapters.views import BillingViews, CancellationView, DeliveryView, DownloadView, RequestDocument
from fw_billing.application.cancellation import AlreadyCancelled, CancelRefused
from fw_billing.application.correction import AlreadyCorrected, CorrectionRequest
from fw_billing.application.delivery import DeliveryRefused
from fw_billing.application.ports import Recipient
from fw_billing.domain.datev import DatevRangeError
from fw_contracts import utcnow
from fw_contracts.address import check_country, check_postal_code
from fw_contracts.events import CorrectionReason, InvoiceCancelled, InvoiceIssued, TechnicianId
from fw_contracts.tax_ids import LEITWEG_ID_CHECK, VAT_ID_CHECK, VAT_ID_INVALID
from fw_contracts.text import CleanLine
from fw_platform.http import problem

Number = Annotated[str, Path(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")]
ReasonCode = Literal["wrong_amount", "wrong_recipient", "duplicate", "goodwill", "other"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown (JSON: code, message_de, message_en)"},
    409: {"description": "Refused (JSON: code, message_de, message_en)"},
}
_MESSAGES: dict[str, tuple[int, str, str]] = {
    "invoice_not_found": (404, "Diese Rechnungsnummer ist nicht bekannt.", "There is no invoice with this number."),
    "not_cancellable": (409, "Eine Stornorechnung kann nicht storniert werden.",
                        "A cancellation cannot be cancelled."),
    "already_cancelled": (409, "Diese Rechnung wurde bereits storniert.", "This invoice was already cancelled."),
    "delivery_not_found": (404, "Diese Zustellung ist nicht bekannt.", "There is no such delivery."),
    "not_retryable": (409, ("Diese Zustellung kann nicht erneut gesendet werden (nur eine, die mangels "
                            "SMTP-Einrichtung nie versucht wurde; die Adresse wird nach dem Aufgeben gelöscht)."),
                      ("This delivery cannot be sent again (only one never tried because SMTP was not set "
                       "up; the address is erased once a delivery was given up).")),
    "already_delivered": (409, "Diese Zustellung ist bereits erfolgt.", "This delivery is already done."),
    "recipient_unavailable": (409, "Der Rechnungsempfänger dieser Rechnung ist nicht mehr gespeichert.",
                              "The recipient copy of this invoice no longer exists."),
    "not_correctable": (409, "Eine Stornorechnung wird nicht korrigiert, sondern die stornierte Rechnung.",
                        "A cancellation is not corrected; the cancelled invoice is."),
    "not_cancelled": (409, "Die Rechnung ist noch gültig: bitte zuerst stornieren, dann korrigieren.",
                      "The invoice is still valid: cancel it first, then correct it."),
    "already_corrected": (409, "Diese Rechnung wurde bereits durch eine korrigierte Rechnung ersetzt.",
                          "This invoice was already replaced by a corrected invoice."),
    "recipient_required": (409, "Für eine Rechnung über 250 EUR brutto fehlt der Rechnungsempfänger.",
                           "An invoice above 250 EUR gross needs the recipient."),
    "nothing_to_invoice": (409, "Die berichtigte Dauer liegt unter der kostenfreien Schwelle des Tarifs.",
                           "The corrected duration is below the tariff's free threshold."),
    "correction_incomplete": (422, ("Der Grund verlangt eine Angabe, die fehlt (berichtigte Dauer bzw. "
                                    "berichtigter Rechnungsempfänger)."),
                              ("The reason needs a value that is missing (corrected duration or "
                               "corrected recipient).")),
    "vat_id_invalid": (422, *VAT_ID_INVALID),
}
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RecipientIn(BaseModel):
    """A corrected recipient (personal data: stored encrypted with the invoice, never logged)."""

    model_config = ConfigDict(extra="forbid")

    company: _Text
    contact_name: _Text
    # The address parts by the rules of fw_contracts.address.PostalAddress; the country first,
    # so that the postal-code check knows it.
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1,
                                              max_length=2), AfterValidator(check_country)] = "DE"
    street: CleanLine
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
    city: CleanLine
    vat_id: Annotated[str, StringConstraints(max_length=30), VAT_ID_CHECK] | None = None
    buyer_reference: Annotated[str, StringConstraints(max_length=60), LEITWEG_ID_CHECK] | None = None

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str, info: ValidationInfo) -> str:
        return check_postal_code(value, info.data.get("country"))

    def recipient(self) -> Recipient:
        return Recipient(company=self.company, contact_name=self.contact_name,
                         address={"street": self.street, "postal_code": self.postal_code,
                                  "city": self.city, "country": self.country},
                         vat_id=self.vat_id, buyer_reference=self.buyer_reference)


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: CorrectionReason
    #: The office user issuing the correction (staff id, never a name); stored with it.
    acted_by: TechnicianId | None = None
    #: The corrected duration (seconds) the invoice is priced by.
    billed_seconds: Annotated[int, Field(ge=1, le=7 * 86_400)] | None = None
    recipient: RecipientIn | None = None


class CorrectionResponse(BaseModel):
    invoice_number: str
    corrects: str
    reason_code: str
    kind: str
    tax_case: str
    net_total: str
    vat_total: str
    gross_total: str


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: ReasonCode
    #: The office user cancelling (staff id, never a name); stored with the cancellation.
    acted_by: TechnicianId | None = None


class CancelResponse(BaseModel):
    cancellation_number: str
    invoice_number: str
    reason_code: str
    net_total: str
    vat_total: str
    gross_total: str


class DownloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The customer's download code; malformed ones are answered like wrong ones (404).
    code: Annotated[str, Field(max_length=200)]


class DownloadDocumentRequest(DownloadRequest):
    number: Annotated[str, Field(max_length=32)]


class DeliveryList(BaseModel):
    items: list[DeliveryView]
    limit: int
    offset: int


@dataclass(frozen=True)
class Commands:
    """What the routes may change; each runs in its own unit of work (built in bootstrap)."""

    #: (invoice number, reason code, office user's staff id or None)
    cancel: Callable[[str, str, str | None], Awaitable[InvoiceCancelled]]
    #: Both raise ``DeliveryRefused``.
    retry_delivery: Callable[[int], Awaitable[None]]
    mark_delivered: Callable[[int], Awaitable[None]]
    correct: Callable[[str, CorrectionRequest], Awaitable[InvoiceIssued]] | None = None


def _not_found(what: str) -> JSONResponse:
    return problem(404, "document_not_found", f"Zu dieser Nummer gibt es kein {what}.",
                   f"There is no {'PDF' if what == 'PDF' else 'e-invoice XML'} for this number.")


_NO_DOWNLOAD = ("Zu diesem Code gibt es nichts (mehr) zum Herunterladen.",
                "There is nothing (any more) to download for this code.")


def router(views: BillingViews, exports: Exports, commands: Commands,
           download_ttl: timedelta = timedelta(days=30)) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["billing"])

    # The code travels in the body (POST), never in a path or query that a log could keep.
    @api.post("/downloads", response_model=DownloadView, responses=_ERRORS,
              summary="The documents a customer's download code opens (404: wrong or expired)")
    async def download(body: DownloadRequest) -> DownloadView | JSONResponse:
        found = await views.download(body.code, utcnow(), download_ttl)
        if found is None:
            return problem(404, "download_not_found", *_NO_DOWNLOAD)
        return found[1]

    @api.post("/downloads/document", response_class=Response, responses=_ERRORS,
              summary="One archived PDF a customer's download code opens, exactly as issued")
    async def download_document(body: DownloadDocumentRequest) -> Response:
        found = await views.download(body.code, utcnow(), download_ttl)
        numbers = {d.number for d in found[1].documents} if found else set()
        doc = await views.document(body.number) if body.number in numbers else None
        if doc is None:
            return problem(404, "download_not_found", *_NO_DOWNLOAD)
        return Response(doc.pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{body.number}.pdf"',
                                 "Cache-Control": "no-store"})

    # Registered before ``/invoices/{number}``, which would otherwise take the ".pdf" segment.
    @api.get("/invoices/{number}.pdf", response_class=Response, responses=_ERRORS,
             summary="The archived PDF of an invoice or cancellation, exactly as issued")
    async def invoice_pdf(number: Number) -> Response:
        doc = await views.document(number)
        if doc is None:
            return _not_found("PDF")
        return Response(doc.pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})

    @api.get("/invoices/{number}.xml", response_class=Response, responses=_ERRORS,
             summary="The archived ZUGFeRD/Factur-X (EN 16931) XML of a B2B full invoice")
    async def invoice_xml(number: Number) -> Response:
        doc = await views.document(number)
        if doc is None or doc.xml is None:
            return _not_found("XML")
        return Response(doc.xml, media_type="application/xml",
                        headers={"Content-Disposition": f'inline; filename="{number}.xml"'})

    @api.post("/invoices/{number}/cancel", status_code=201, response_model=CancelResponse,
              responses=_ERRORS, summary="Cancel an invoice (Storno): a new document with its own number")
    async def cancel(number: Number, body: CancelRequest) -> CancelResponse | JSONResponse:
        try:
            event = await commands.cancel(number, body.reason_code, body.acted_by)
        except CancelRefused as exc:
            status, de, en = _MESSAGES[exc.code]
            extra = {"cancellation_number": exc.cancellation_number} if isinstance(exc, AlreadyCancelled) else {}
            return problem(status, exc.code, de, en, **extra)
        return CancelResponse(
            cancellation_number=event.cancellation_number, invoice_number=event.invoice_number,
            reason_code=event.reason_code, net_total=str(event.net_total),
            vat_total=str(event.vat_total), gross_total=str(event.gross_total))

    @api.post("/invoices/{number}/correction", status_code=201, response_model=CorrectionResponse,
              responses={**_ERRORS, 422: {"description": "Invalid input (JSON: code, message_de, message_en)"}},
              summary="Issue the corrected invoice for a cancelled invoice (same session, new number)")
    async def correct(number: Number, body: CorrectionIn) -> CorrectionResponse | JSONResponse:
        assert commands.correct is not None
        request = CorrectionRequest(reason=body.reason_code, billed_seconds=body.billed_seconds,
                                    recipient=body.recipient.recipient() if body.recipient else None,
                                    acted_by=body.acted_by)
        try:
            event = await commands.correct(number, request)
        except CancelRefused as exc:
            status, de, en = _MESSAGES[exc.code]
            extra = {"correction_number": exc.correction_number} if isinstance(exc, AlreadyCorrected) else {}
            return problem(status, exc.code, de, en, **extra)
        return CorrectionResponse(
            invoice_number=event.invoice_number, corrects=number, reason_code=body.reason_code.value,
            kind=event.kind.value, tax_case=event.tax_case.value, net_total=str(event.net_total),
            vat_total=str(event.vat_total), gross_total=str(event.gross_total))

    @api.get("/cancellations/{number}", response_model=CancellationView, responses=_ERRORS,
             summary="One cancellation (Storno)")
    async def get_cancellation(number: Number) -> CancellationView | JSONResponse:
        found = await views.cancellation(number)
        if found is None:
            return problem(404, "cancellation_not_found", "Diese Stornonummer ist nicht bekannt.",
                           "There is no cancellation with this number.")
        return found

    @api.get("/deliveries", response_model=DeliveryList,
             summary="E-mail deliveries (never the address); status=failed for the office")
    async def list_deliveries(status: Literal["pending", "sent", "failed"] | None = None,
                              limit: Annotated[int, Query(ge=1, le=500)] = 100,
                              offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> DeliveryList:
        return DeliveryList(items=await views.deliveries(status, limit, offset), limit=limit, offset=offset)

    @api.post("/deliveries/{delivery_id}/retry", status_code=202, responses=_ERRORS,
              summary="Send a delivery again that was never tried because SMTP was not set up")
    async def retry_delivery(delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> JSONResponse:
        try:
            await commands.retry_delivery(delivery_id)
        except DeliveryRefused as exc:
            status, de, en = _MESSAGES[exc.code]
            return problem(status, exc.code, de, en)
        return JSONResponse(status_code=202, content={"id": delivery_id, "status": "pending"})

    @api.post("/deliveries/{delivery_id}/delivered", status_code=200, responses=_ERRORS,
              summary="Record that the document was handed over by hand (InvoiceDelivered, channel manual)")
    async def mark_delivered(delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> JSONResponse:
        try:
            await commands.mark_delivered(delivery_id)
        except DeliveryRefused as exc:
            status, de, en = _MESSAGES[exc.code]
            return problem(status, exc.code, de, en)
        return JSONResponse(status_code=200, content={"id": delivery_id, "status": "sent", "channel": "manual"})

    @api.get("/requests/{request_id}/documents", response_model=list[RequestDocument],
             summary="The archived documents (invoice, Storno) of a request, for the customer's download")
    async def request_documents(request_id: uuid.UUID) -> list[RequestDocument]:
        return await views.request_documents(request_id)

    @api.get("/requests/{request_id}/documents/{number}.pdf", response_class=Response, responses=_ERRORS,
             summary="The archived PDF of one of the request's documents, exactly as issued")
    async def request_document_pdf(request_id: uuid.UUID, number: Number) -> Response:
        owned = {d.number for d in await views.request_documents(request_id)}
        doc = await views.document(number) if number in owned else None
        if doc is None:
            return _not_found("PDF")
        return Response(doc.pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})

    @api.get("/exports/invoices.csv", response_class=Response,
             summary="Invoices and cancellations for accounting (CSV, ; and decimal comma, UTF-8 BOM)")
    async def export_invoices(from_: Annotated[date, Query(alias="from")],
                              to: Annotated[date, Query()]) -> Response:
        if to < from_:
            return problem(422, "invalid_range", "Das Ende liegt vor dem Anfang.", "'to' is before 'from'.")
        body = await exports.invoices_csv(from_, to)
        return _csv(body, f"rechnungen_{from_:%Y%m%d}_{to:%Y%m%d}.csv")

    @api.get("/exports/datev.csv", response_class=Response, responses=_ERRORS,
             summary="DATEV-Format booking batch (EXTF 700, Buchungsstapel) of invoices and cancellations")
    async def export_datev(from_: Annotated[date, Query(alias="from")],
                           to: Annotated[date, Query()]) -> Response:
        try:
            body = await exports.datev_csv(from_, to, datetime.now(UTC))
        except DatevNotConfigured:
            return problem(409, "datev_not_configured",
                           "Für den DATEV-Export fehlen Berater- und Mandantennummer "
                           "(FW_BILLING_DATEV_CONSULTANT_NUMBER, FW_BILLING_DATEV_CLIENT_NUMBER).",
                           "The DATEV export needs the consultant and client numbers "
                           "(FW_BILLING_DATEV_CONSULTANT_NUMBER, FW_BILLING_DATEV_CLIENT_NUMBER).")
        except DatevRangeError as exc:
            de, en = str(exc).split(" / ")
            return problem(422, "invalid_range", de, en)
        charset = "windows-1252" if body[:3] != b"\xef\xbb\xbf" else "utf-8"
        return Response(body, media_type=f"text/csv; charset={charset}", headers={
            "Content-Disposition": f'attachment; filename="EXTF_Buchungsstapel_{from_:%Y%m%d}_{to:%Y%m%d}.csv"'})

    @api.get("/exports/customers.csv", response_class=Response,
             summary="Customer accounts for accounting (CSV, ; UTF-8 BOM)")
    async def export_customers() -> Response:
        return _csv(await exports.customers_csv(), "kunden.csv")

    return api


def _csv(body: bytes, filename: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
