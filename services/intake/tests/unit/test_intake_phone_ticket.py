"""Phone normalisation and ticket codes."""

from __future__ import annotations

import re

import pytest

from fw_contracts.address import is_country_code
from fw_intake.domain.phone import InvalidPhone, normalise_phone
from fw_intake.domain.ticket import ALPHABET, generate_ticket, is_ticket


@pytest.mark.parametrize(("raw", "e164"), [
    ("0170 1234567", "+491701234567"),
    ("+49 30 123456", "+4930123456"),
    ("030 123456", "+4930123456"),
    ("(030) 12 34 56", "+4930123456"),
    ("0049 170 1234567", "+491701234567"),
    ("+49 (0)170-1234567", "+491701234567"),
    ("  0170/1234567  ", "+491701234567"),
    ("+43 1 5134567", "+4315134567"),
    ("+41 44 668 18 00", "+41446681800"),
])
def test_valid_numbers_become_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", [
    "", "   ", "12", "abc", "0170", "+49 170", "0000 0000000", "+999 123456789",
    "0170 1234567 0170 1234567 0170 1234567 0", "+49 30 123456 ext. nonsense!!",
])
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_phone(raw)


def test_invalid_phone_error_never_quotes_the_input() -> None:
    with pytest.raises(InvalidPhone) as info:
        normalise_phone("MARKER-0815")
    assert "MARKER" not in str(info.value)


def test_country_codes() -> None:
    assert is_country_code("DE") and is_country_code("AT")
    assert not is_country_code("XX") and not is_country_code("de")


def test_ticket_format_and_alphabet() -> None:
    for _ in range(500):
        t = generate_ticket()
        assert re.fullmatch(r"^[0-9A-Z]{4}-[0-9A-Z]{3}$", t), t  # the contract's TicketCode
        assert is_ticket(t)
        assert not set(t) & set("0O1I")
    assert len(ALPHABET) == 32 and not set(ALPHABET) & set("0O1I")


def test_tickets_are_random() -> None:
    assert len({generate_ticket() for _ in range(1000)}) > 990


def test_ticket_uses_the_given_choice() -> None:
    assert generate_ticket(lambda alphabet: alphabet[-1]) == "ZZZZ-ZZZ"


@pytest.mark.parametrize("bad", ["ABCD-EF", "ABCD-EFGH", "abcd-efg", "AB0D-EFG", "ABCDEFG", "ABCO-EFG"])
def test_is_ticket_rejects(bad: str) -> None:
    assert not is_ticket(bad)
