"""The store contract against PostgreSQL (the retention role, its own schema, real migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest_asyncio

from fw_platform.db import create_pool, migrate
from fw_retention.adapters.store import PgVaultStore
from fw_retention.bootstrap import MIGRATIONS, SERVICE

from store_contract import VaultStoreContract


class TestPgVaultStore(VaultStoreContract):
    @pytest_asyncio.fixture
    async def tx(self, fw_env: Any) -> AsyncIterator[Callable[[], AbstractAsyncContextManager[PgVaultStore]]]:
        pool = await create_pool(fw_env.dsn(SERVICE), SERVICE, min_size=1, max_size=2)
        await migrate(pool, SERVICE, MIGRATIONS)

        @asynccontextmanager
        async def open_tx() -> AsyncIterator[PgVaultStore]:
            async with pool.acquire() as conn, conn.transaction():
                yield PgVaultStore(conn)

        try:
            yield open_tx
        finally:
            await pool.close()
