"""Test databases are copies of one template; the logins are the cluster's, so each copy sets
their passwords again: a test that provisioned with other passwords (the container test's init
job did, for the audit login) must not lock out the tests after it."""

from __future__ import annotations

import asyncpg
import pytest

from fw_devenv.postgres import PostgresServer
from fw_devenv.provision import AUDIT_ROLE, audit_dsn, provision, provision_from_template
from fw_devenv.pytest_plugin import TEST_AUDIT_DB_PASSWORD, TEST_DB_PASSWORDS


async def _can_sign_in(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidPasswordError:
        return False
    await conn.close()
    return True


async def test_a_copy_sets_every_login_password_again(pg_server: PostgresServer, pg_template: str) -> None:
    # someone else provisions on the same cluster with passwords of their own
    other = await provision(pg_server.admin_dsn, "fwtpl_other", {"billing": "someone-elses-pw"},
                            audit_password="someone-elses-audit-pw")
    assert await _can_sign_in(other["billing"])
    assert await _can_sign_in(audit_dsn(pg_server.admin_dsn, "fwtpl_other", "someone-elses-audit-pw"))

    dsns = await provision_from_template(pg_server.admin_dsn, pg_template, "fwtpl_copy", TEST_DB_PASSWORDS,
                                         audit_password=TEST_AUDIT_DB_PASSWORD)
    assert await _can_sign_in(dsns["billing"])
    assert await _can_sign_in(audit_dsn(pg_server.admin_dsn, "fwtpl_copy", TEST_AUDIT_DB_PASSWORD))
    assert not await _can_sign_in(audit_dsn(pg_server.admin_dsn, "fwtpl_copy", "someone-elses-audit-pw"))
    # the audit login may connect to the copy and nothing more (CONNECT granted, no schema rights)
    conn = await asyncpg.connect(audit_dsn(pg_server.admin_dsn, "fwtpl_copy", TEST_AUDIT_DB_PASSWORD))
    try:
        assert await conn.fetchval("SELECT current_user") == AUDIT_ROLE
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT count(*) FROM billing.invoices")
    finally:
        await conn.close()


async def test_without_an_audit_password_the_audit_login_may_not_connect(pg_server: PostgresServer,
                                                                         pg_template: str) -> None:
    await provision_from_template(pg_server.admin_dsn, pg_template, "fwtpl_noaudit", TEST_DB_PASSWORDS)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(audit_dsn(pg_server.admin_dsn, "fwtpl_noaudit", TEST_AUDIT_DB_PASSWORD))
