"""How the vault's answers become retry or park decisions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.errors import NoRespondersError

from fw_billing.adapters.vault import VaultPersonalData
from fw_contracts.vault import PersonalData, VaultEntry, VaultError, VaultReply
from fw_platform.handling import PermanentError, TransientError


@dataclass
class Reply:
    data: bytes
    headers: dict[str, str] | None = None


class FakeNats:
    def __init__(self, answer: VaultReply | Exception) -> None:
        self.answer = answer
        self.subjects: list[str] = []

    async def request(self, subject: str, body: bytes, timeout: float) -> Reply:
        self.subjects.append(subject)
        if isinstance(self.answer, Exception):
            raise self.answer
        return Reply(self.answer.model_dump_json().encode())


def source(answer: VaultReply | Exception) -> tuple[VaultPersonalData, FakeNats]:
    nc = FakeNats(answer)
    fake: Any = nc
    return VaultPersonalData(lambda: fake), nc


async def test_entry_is_returned() -> None:
    rid = uuid.uuid4()
    entry = VaultEntry(request_id=rid, stored_at=datetime.now(UTC),
                       data=PersonalData(company="A", contact_name="B", phone="+4930123456"))
    vault, nc = source(VaultReply(ok=True, entry=entry))
    assert await vault.get(rid, purpose="billing") == entry
    assert nc.subjects == ["vault.v1.get.billing"]  # billing asks on its own subject


@pytest.mark.parametrize("error", [VaultError.ERASED, VaultError.NOT_FOUND, VaultError.FORBIDDEN,
                                   VaultError.INVALID])
async def test_final_refusals_park(error: VaultError) -> None:
    vault, _ = source(VaultReply(ok=False, error=error))
    with pytest.raises(PermanentError, match=error.value):
        await vault.get(uuid.uuid4(), purpose="customer_account")


async def test_internal_error_is_transient() -> None:
    # The vault answers but its database is away: retried until it is back, never parked.
    vault, _ = source(VaultReply(ok=False, error=VaultError.INTERNAL))
    with pytest.raises(TransientError):
        await vault.get(uuid.uuid4(), purpose="billing")


async def test_no_vault_is_transient() -> None:
    vault, _ = source(NoRespondersError())
    with pytest.raises(TransientError):
        await vault.get(uuid.uuid4(), purpose="billing")
