"""The public support-request form: form fields → intake's JSON body, intake's 422 → field messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from fw_contracts.address import ADDRESS_MESSAGES, is_country_code, postal_code_ok
from fw_contracts.tax_ids import LEITWEG_ID_INVALID, VAT_ID_INVALID, check_leitweg_id, check_vat_id
from fw_contracts.text import UncleanText, clean_text

#: The form's input names, in page order. Kept apart from intake's names so the page does not
#: change when intake nests or renames a field; ``INTAKE_FIELD`` maps between them.
FIELDS = ("company", "contact_name", "phone", "email", "street", "postal_code", "city", "country",
          "vat_id", "buyer_reference", "customer_type", "withdrawal_waiver", "terms_accepted")
ADDRESS_FIELDS = ("street", "postal_code", "city")
#: Free text: checked like intake checks it (``fw_contracts.text``), so the customer sees why.
TEXT_FIELDS = ("company", "contact_name", "phone", "email", "street", "city")

#: intake's error ``field`` (dotted location) → the form input that shows the message.
INTAKE_FIELD = {
    "company": "company", "contact_name": "contact_name", "phone": "phone", "email": "email",
    "customer_type": "customer_type", "withdrawal_waiver": "withdrawal_waiver",
    "terms_accepted": "terms_accepted", "terms_version": "terms_accepted",
    "address": "street", "address.street": "street", "address.postal_code": "postal_code",
    "address.city": "city", "address.country": "country", "vat_id": "vat_id",
    "buyer_reference": "buyer_reference",
}

#: The label of each field, for the error summary ("Telefon: …").
LABELS = {
    "company": "Firma", "contact_name": "Name", "phone": "Telefon", "email": "E-Mail",
    "street": "Straße und Hausnummer", "postal_code": "Postleitzahl", "city": "Ort", "country": "Land",
    "vat_id": "USt-IdNr.", "buyer_reference": "Leitweg-ID", "customer_type": "Sie sind", "withdrawal_waiver": "Widerrufsrecht",
    "terms_accepted": "Nutzungsbedingungen", "form": "Formular",
}

#: Our own checks, before intake is asked (the same words intake would use).
REQUIRED = {
    "company": "Bitte geben Sie die Firma an (bei Privatpersonen Ihren Namen).",
    "contact_name": "Bitte geben Sie Ihren Namen an.",
    "phone": "Bitte geben Sie eine Telefonnummer an, unter der wir Sie erreichen.",
}
TERMS_MISSING = "Bitte bestätigen Sie die Nutzungsbedingungen."
WAIVER_MISSING = ("Als Verbraucherin oder Verbraucher bestätigen Sie bitte, dass wir sofort beginnen "
                  "sollen und dass Ihr Widerrufsrecht mit vollständiger Erbringung der Leistung "
                  "erlischt (§ 356 Abs. 4 BGB).")
ADDRESS_INCOMPLETE = "Bitte geben Sie die Anschrift vollständig an (Straße, Postleitzahl, Ort) oder lassen Sie sie leer."
#: intake's messages for a value in the wrong format (the page checks them too, so that every
#: problem of the form is reported at once, not one round after another).
PHONE_INVALID = "Bitte geben Sie eine gültige Telefonnummer an, z. B. 0170 1234567 oder +49 30 123456."
EMAIL_INVALID = "Bitte geben Sie eine gültige E-Mail-Adresse an oder lassen Sie das Feld leer."
POSTAL_INVALID = ADDRESS_MESSAGES["postal_code_invalid"][0]
COUNTRY_INVALID = ADDRESS_MESSAGES["country_invalid"][0]
VAT_ID_INVALID_DE = VAT_ID_INVALID[0]
LEITWEG_ID_INVALID_DE = LEITWEG_ID_INVALID[0]
ADDRESS_REQUIRED = "Mit einer USt-IdNr. oder Leitweg-ID geben Sie bitte auch die Rechnungsadresse an."
#: intake's generic message for an error code it did not explain: ours is plainer.
GENERIC = "Bitte prüfen Sie diese Angabe."


@dataclass
class FormInput:
    """What the customer typed (already stripped); ``errors`` maps a form field to one message."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def checked(self, name: str) -> bool:
        """Whether a checkbox was ticked."""
        return self.values.get(name) in ("on", "true", "1", "ja")


def in_page_order(errors: dict[str, str]) -> list[tuple[str, str]]:
    """``(field, message)`` in the order the fields appear on the page (for the error summary)."""
    order = {name: i for i, name in enumerate(FIELDS)}
    return sorted(errors.items(), key=lambda item: order.get(item[0], len(order)))


def read_form(form: Mapping[str, Any]) -> FormInput:
    """Only the known fields, as stripped strings (unknown inputs are dropped)."""
    values = {}
    for name in FIELDS:
        raw = form.get(name)
        values[name] = raw.strip() if isinstance(raw, str) else ""
    if values["customer_type"] not in ("business", "consumer"):
        values["customer_type"] = "business"
    values["country"] = values["country"].upper() or "DE"
    return values_checked(FormInput(values))


def values_checked(form: FormInput) -> FormInput:
    """The checks the page can do itself, so an obviously incomplete form costs no request."""
    for name, message in REQUIRED.items():
        if not form.values[name]:
            form.errors[name] = message
    for name in TEXT_FIELDS:
        if form.values[name] and name not in form.errors:
            try:
                form.values[name] = clean_text(form.values[name])
            except UncleanText as exc:
                form.errors[name] = exc.message_de
    if not form.checked("terms_accepted"):
        form.errors["terms_accepted"] = TERMS_MISSING
    if form.values["customer_type"] == "consumer" and not form.checked("withdrawal_waiver"):
        form.errors["withdrawal_waiver"] = WAIVER_MISSING
    given = [n for n in ADDRESS_FIELDS if form.values[n]]
    if given and len(given) < len(ADDRESS_FIELDS):
        for n in ADDRESS_FIELDS:
            if not form.values[n]:
                form.errors[n] = ADDRESS_INCOMPLETE
    _formats_checked(form, bool(given))
    return form


def _formats_checked(form: FormInput, has_address: bool) -> None:
    """Phone, e-mail, postal code and country in intake's formats, with intake's words."""
    v, errors = form.values, form.errors
    if v["phone"] and "phone" not in errors and not _valid_phone(v["phone"]):
        errors["phone"] = PHONE_INVALID
    if v["email"] and "email" not in errors:
        try:
            validate_email(v["email"], check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = EMAIL_INVALID
    country_ok = is_country_code(v["country"])
    if has_address and not country_ok:
        errors.setdefault("country", COUNTRY_INVALID)
    code = v["postal_code"]
    if code and "postal_code" not in errors and not postal_code_ok(code, v["country"]):
        errors["postal_code"] = POSTAL_INVALID
    for name, check, message in (("vat_id", check_vat_id, VAT_ID_INVALID_DE),
                                 ("buyer_reference", check_leitweg_id, LEITWEG_ID_INVALID_DE)):
        if v[name]:
            try:
                v[name] = check(v[name])
            except ValueError:
                errors[name] = message
    if (v["vat_id"] or v["buyer_reference"]) and not has_address:
        # intake takes them only with the billing address (they matter only on a full invoice)
        for n in ADDRESS_FIELDS:
            errors.setdefault(n, ADDRESS_REQUIRED)


def _valid_phone(text: str) -> bool:
    if len(text) > 40:
        return False
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(text, "DE")))
    except phonenumbers.NumberParseException:
        return False


def intake_body(form: FormInput, terms_version: str) -> dict[str, Any]:
    """The JSON body of intake's ``POST /api/support-requests``."""
    v = form.values
    body: dict[str, Any] = {
        "company": v["company"], "contact_name": v["contact_name"], "phone": v["phone"],
        "customer_type": v["customer_type"], "terms_accepted": form.checked("terms_accepted"),
        "terms_version": terms_version,
        "withdrawal_waiver": v["customer_type"] == "consumer" and form.checked("withdrawal_waiver"),
    }
    if v["email"]:
        body["email"] = v["email"]
    if any(v[n] for n in ADDRESS_FIELDS):
        body["address"] = {"street": v["street"], "postal_code": v["postal_code"], "city": v["city"],
                           "country": v["country"] or "DE"}
    for name in ("vat_id", "buyer_reference"):
        if v[name]:
            body[name] = v[name]
    return body


def field_messages(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """intake's ``errors[]`` (``field``, ``code``, ``message_de``) → form field → German message.

    The first message per field wins; an error on an unknown field lands on ``form``.
    """
    out: dict[str, str] = {}
    for e in errors:
        where = INTAKE_FIELD.get(str(e.get("field", "")), "form")
        if e.get("code") == "address_required":  # a VAT id or Leitweg-ID without the address
            where = "street"
        message = str(e.get("message_de") or GENERIC)
        if e.get("code") == "missing" and where in REQUIRED:
            message = REQUIRED[where]
        out.setdefault(where, message)
    return out
