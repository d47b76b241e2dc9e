"""The pydantic checks of the VAT id and Leitweg-ID input fields that intake and billing share."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, StringConstraints, ValidationError

from fw_contracts.tax_ids import LEITWEG_ID_CHECK, LEITWEG_ID_INVALID, VAT_ID_CHECK, VAT_ID_INVALID


class _Buyer(BaseModel):
    vat_id: Annotated[str, StringConstraints(max_length=30), VAT_ID_CHECK] | None = None
    buyer_reference: Annotated[str, StringConstraints(max_length=60), LEITWEG_ID_CHECK] | None = None


def test_valid_ids_are_normalised_and_none_passes() -> None:
    buyer = _Buyer(vat_id="atu 1234-5678", buyer_reference=" 04011000-12345-03 ")
    assert (buyer.vat_id, buyer.buyer_reference) == ("ATU12345678", "04011000-12345-03")
    assert _Buyer().vat_id is None


@pytest.mark.parametrize(("field", "value", "code", "text"), [
    ("vat_id", "ATU1234", "vat_id_invalid", VAT_ID_INVALID[1]),
    ("vat_id", "XX123456789", "vat_id_invalid", VAT_ID_INVALID[1]),
    ("buyer_reference", "04011000-12345-04", "buyer_reference_invalid", LEITWEG_ID_INVALID[1]),
])
def test_an_invalid_id_is_refused_with_its_code_and_without_the_value(field: str, value: str, code: str,
                                                                       text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _Buyer(**{field: value})
    [error] = refused.value.errors()
    assert (error["loc"][0], error["type"], error["msg"]) == (field, code, text)
    assert value not in error["msg"]


def test_the_field_constraints_run_before_the_check() -> None:
    with pytest.raises(ValidationError) as refused:
        _Buyer(vat_id="AT" + "1" * 40)
    assert [e["type"] for e in refused.value.errors()] == ["string_too_long"]
