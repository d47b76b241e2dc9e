"""The office's customer search on decrypted accounts (``adapters.views``): which fields match, a
closed account by its number only, and the decryption of every row with its year's key."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fw_billing.adapters.sealed import customer_aad
from fw_billing.adapters.views import _matching, customer_matches
from fw_platform.sealed_archive import seal

PERSONAL = {"company": "Beispiel AG", "contact_name": "Max Beispiel", "phone": "+49 89 123456",
            "email": "max@example.org", "statement": "Ich möchte Stammkunde werden.",
            "address": {"street": "Ring 5", "postal_code": "80331", "city": "München", "country": "DE"}}


def test_open_accounts_match_on_each_shown_field_and_closed_ones_on_the_number_only() -> None:
    for needle in ("k00042", "beispiel ag", "max bei", "+49 89", "example.org", "ring 5", "80331", "münchen"):
        assert customer_matches("K00042", PERSONAL, needle), needle
    assert not customer_matches("K00042", PERSONAL, "stammkunde")  # the statement is not searched
    assert not customer_matches("K00042", {**PERSONAL, "email": None, "phone": None, "address": None}, "ring")
    assert customer_matches("K00042", None, "00042") and not customer_matches("K00042", None, "beispiel")


def test_every_row_is_decrypted_with_its_years_key_and_closed_rows_stay_closed() -> None:
    keys = {2025: secrets.token_bytes(32), 2026: secrets.token_bytes(32)}

    def row(number: str, year: int, personal: dict[str, Any] | None) -> dict[str, Any]:
        enc = None if personal is None else seal(keys[year], customer_aad(number), json.dumps(personal).encode())
        return {"customer_number": number, "key_year": year, "personal_enc": enc}

    rows = [row("K00001", 2025, PERSONAL), row("K00002", 2026, {**PERSONAL, "company": "Andere GmbH"}),
            row("K00003", 2026, None)]
    assert [(r["customer_number"], p is not None) for r, p in _matching(rows, keys, "gmbh")] == [("K00002", True)]
    assert [r["customer_number"] for r, _ in _matching(rows, keys, "max beispiel")] == ["K00001", "K00002"]
    assert [(r["customer_number"], p) for r, p in _matching(rows, keys, "k0000")][2] == ("K00003", None)
