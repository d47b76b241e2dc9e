"""The store contract against the in-memory fake used by the other unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from retention_testkit import FakeVaultStore
from store_contract import VaultStoreContract


class TestFakeVaultStore(VaultStoreContract):
    @pytest.fixture
    def tx(self) -> Callable[[], AbstractAsyncContextManager[FakeVaultStore]]:
        store = FakeVaultStore()

        @asynccontextmanager
        async def open_tx() -> AsyncIterator[FakeVaultStore]:
            async with store.transaction():
                yield store

        return open_tx
