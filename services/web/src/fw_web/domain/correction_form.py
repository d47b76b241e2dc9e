"""The office's form for a corrected invoice (Rechnungskorrektur): checks (all at once) and the
body for billing's ``POST /api/invoices/{number}/correction``; billing's refusals by field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fw_contracts.address import is_country_code, postal_code_ok
from fw_contracts.tax_ids import LEITWEG_ID_INVALID, VAT_ID_INVALID, check_leitweg_id, check_vat_id
from fw_contracts.text import UncleanText, clean_text
from fw_web.domain.support_form import COUNTRY_INVALID, POSTAL_INVALID

#: billing's reason codes for a corrected invoice, in German.
CORRECTION_REASONS = {"wrong_duration": "Falsche Dauer (berichtigte Dauer angeben)",
                      "wrong_recipient": "Falscher Rechnungsempfänger (Empfänger neu angeben)",
                      "wrong_tax_case": "Falscher Steuerfall, z. B. USt-IdNr. fehlte (Empfänger neu angeben)"}
NEEDS_RECIPIENT = ("wrong_recipient", "wrong_tax_case")
RECIPIENT = ("company", "contact_name", "street", "postal_code", "city", "country")
OPTIONAL = ("vat_id", "buyer_reference")
FIELDS = ("reason_code", "minutes", *RECIPIENT, *OPTIONAL)
LABELS = {"reason_code": "Grund", "minutes": "Berichtigte Dauer (Minuten)", "company": "Firma",
          "contact_name": "Ansprechperson", "street": "Straße und Hausnummer", "postal_code": "Postleitzahl",
          "city": "Ort", "country": "Land", "vat_id": "USt-IdNr.", "buyer_reference": "Leitweg-ID",
          "form": "Korrektur"}
#: The most a corrected duration may be (billing allows seven days).
MAX_MINUTES = 7 * 24 * 60
REASON_MISSING = "Bitte wählen Sie den Grund der Korrektur."
MINUTES_INVALID = f"Bitte geben Sie die berichtigte Dauer als ganze Minuten an (1 bis {MAX_MINUTES})."
REQUIRED = "Bitte ausfüllen: der berichtigte Rechnungsempfänger braucht diese Angabe."
GENERIC = "Bitte prüfen Sie diese Angabe."


def _typed(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def read_correction(form: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """(values as typed, body for billing, errors by field); the body is empty when there are errors.

    Only what the reason needs is sent: the duration for ``wrong_duration``, the recipient for
    ``wrong_recipient`` / ``wrong_tax_case``.
    """
    values = {n: _typed(form.get(n)) for n in FIELDS}
    values["country"] = values["country"].upper() or "DE"
    errors: dict[str, str] = {}
    reason = values["reason_code"]
    if reason not in CORRECTION_REASONS:
        errors["reason_code"] = REASON_MISSING
        return values, {}, errors
    body: dict[str, Any] = {"reason_code": reason}
    if reason == "wrong_duration":
        if values["minutes"].isdigit() and 1 <= int(values["minutes"]) <= MAX_MINUTES:
            body["billed_seconds"] = int(values["minutes"]) * 60
        else:
            errors["minutes"] = MINUTES_INVALID
    if reason in NEEDS_RECIPIENT:
        recipient, problems = _recipient(values)
        errors.update(problems)
        body["recipient"] = recipient
    return values, ({} if errors else body), errors


def _recipient(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    for name in ("company", "contact_name", "street", "postal_code", "city"):
        if not values[name]:
            errors[name] = REQUIRED
            continue
        try:
            values[name] = clean_text(values[name])
        except UncleanText as exc:
            errors[name] = exc.message_de
    if not is_country_code(values["country"]):
        errors["country"] = COUNTRY_INVALID
    elif "postal_code" not in errors and not postal_code_ok(values["postal_code"], values["country"]):
        errors["postal_code"] = POSTAL_INVALID
    recipient = {n: values[n] for n in RECIPIENT}
    for name, check, message in (("vat_id", check_vat_id, VAT_ID_INVALID[0]),
                                 ("buyer_reference", check_leitweg_id, LEITWEG_ID_INVALID[0])):
        if values[name]:
            try:
                recipient[name] = check(values[name])
            except ValueError:
                errors[name] = message
    return recipient, errors


def billing_field_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """billing's ``errors[]`` (``field`` like ``recipient.vat_id``) → form field → German message;
    an error on a field the form does not have lands on ``form``."""
    out: dict[str, str] = {}
    for e in errors:
        where = str(e.get("field", "")).removeprefix("recipient.")
        where = {"billed_seconds": "minutes"}.get(where, where)
        out.setdefault(where if where in FIELDS else "form", str(e.get("message_de") or GENERIC))
    return out
