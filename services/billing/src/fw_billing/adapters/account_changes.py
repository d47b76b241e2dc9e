"""SQL of changing an open customer account's personal fields (re-encrypted in place)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from fw_billing.adapters.keys import KeyPurpose, KeyRing
from fw_billing.adapters.sealed import customer_aad


@dataclass(frozen=True)
class LockedAccount:
    customer_number: str
    request_id: uuid.UUID
    closed: bool
    key_year: int
    personal: dict[str, Any] | None


class SqlAccountChanges:
    """Reads an account locked for update and writes its re-encrypted personal fields."""

    def __init__(self, conn: asyncpg.Connection, keys: KeyRing) -> None:
        self._conn = conn
        self._keys = keys

    async def lock(self, customer_number: str) -> LockedAccount | None:
        row = await self._conn.fetchrow(
            "SELECT customer_number, request_id, closed_at, key_year, personal_enc FROM customer_accounts"
            " WHERE customer_number = $1 FOR UPDATE", customer_number)
        if row is None:
            return None
        personal = None
        if row["personal_enc"] is not None:
            personal = json.loads(await self._keys.open(self._conn, KeyPurpose.CUSTOMER, row["key_year"],
                                                        customer_aad(customer_number), row["personal_enc"]))
        return LockedAccount(customer_number=row["customer_number"], request_id=row["request_id"],
                             closed=row["closed_at"] is not None, key_year=row["key_year"], personal=personal)

    async def save(self, account: LockedAccount, personal: dict[str, Any]) -> None:
        sealed = await self._keys.seal(self._conn, KeyPurpose.CUSTOMER, account.key_year,
                                       customer_aad(account.customer_number), json.dumps(personal).encode())
        await self._conn.execute("UPDATE customer_accounts SET personal_enc = $2 WHERE customer_number = $1",
                                 account.customer_number, sealed)
