"""The office's form to change a customer account's e-mail and address: checks (all at once,
with the words the customer form uses) and the changes for billing's ``PATCH``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from email_validator import EmailNotValidError, validate_email

from fw_contracts.address import is_country_code, postal_code_ok
from fw_contracts.text import UncleanText, clean_text
from fw_web.domain.support_form import (
    ADDRESS_INCOMPLETE,
    COUNTRY_INVALID,
    EMAIL_INVALID,
    POSTAL_INVALID,
)

FIELDS = ("email", "street", "postal_code", "city", "country")
ADDRESS = ("street", "postal_code", "city")
LABELS = {"email": "E-Mail", "street": "Straße und Hausnummer", "postal_code": "Postleitzahl", "city": "Ort",
          "country": "Land", "form": "Formular"}


def current_values(account: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields filled from the account."""
    address = account.get("address") or {}
    return {"email": account.get("email") or "", "street": address.get("street", ""),
            "postal_code": address.get("postal_code", ""), "city": address.get("city", ""),
            "country": address.get("country", "DE") if address else "DE"}


def read_changes(form: Mapping[str, Any], account: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any],
                                                                                 dict[str, str]]:
    """(values as typed, changes for billing, errors by field). Only changed fields are sent."""
    values = {n: (form.get(n) or "").strip() if isinstance(form.get(n), str) else "" for n in FIELDS}
    values["country"] = values["country"].upper() or "DE"
    errors: dict[str, str] = {}
    for name in ("email", "street", "city"):
        if values[name]:
            try:
                values[name] = clean_text(values[name])
            except UncleanText as exc:
                errors[name] = exc.message_de
    if values["email"] and "email" not in errors:
        try:
            validate_email(values["email"], check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = EMAIL_INVALID
    given = [n for n in ADDRESS if values[n]]
    if given and len(given) < len(ADDRESS):
        for n in ADDRESS:
            if not values[n]:
                errors[n] = ADDRESS_INCOMPLETE
    if given:
        if not is_country_code(values["country"]):
            errors["country"] = COUNTRY_INVALID
        elif values["postal_code"] and "postal_code" not in errors and not postal_code_ok(
                values["postal_code"], values["country"]):
            errors["postal_code"] = POSTAL_INVALID
    changes: dict[str, Any] = {}
    if not errors:
        email = values["email"] or None
        if email != (account.get("email") or None):
            changes["email"] = email
        address = ({n: values[n] for n in (*ADDRESS, "country")} if given else None)
        if address != (account.get("address") or None):
            changes["address"] = address
    return values, changes, errors
