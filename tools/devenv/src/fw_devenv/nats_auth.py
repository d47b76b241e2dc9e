"""NATS users for the dev environment: passwords, credentials, and the permission table's block.

The permission table itself (users, durables, vault callers, publish/subscribe allow lists) is
part of the services' contracts: :mod:`fw_contracts.nats_permissions`. The dev environment
(``make run``, the test fixtures) renders its ``nats.conf`` from it exactly as production does
(``deploy/render_nats_conf.py``); the names are re-exported here for the dev tools' callers.
What is dev-only lives here: random passwords, where they are kept, URLs with credentials.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Iterable

from fw_contracts.nats_permissions import (
    ADMIN,
    ADMIN_ONLY,
    DEFAULT_BCRYPT_COST,
    DURABLES,
    HISTORY_READERS,
    INBOX,
    PERMISSIONS,
    PRIVATE_INBOXES,
    READERS,
    SERVICE_USERS,
    SERVICES,
    USERS,
    VAULT_ALL,
    VAULT_OWNER,
    VAULT_QUEUE,
    VAULT_REQUESTS,
    Permissions,
    durable_api,
    hash_password,
    inbox_prefix,
    inbox_subscription,
    permissions,
    render_authorization,
)

__all__ = [
    "ADMIN", "ADMIN_ONLY", "DEFAULT_BCRYPT_COST", "DURABLES", "HISTORY_READERS", "INBOX", "PERMISSIONS",
    "PRIVATE_INBOXES", "READERS", "SERVICES", "SERVICE_USERS", "USERS", "VAULT_ALL", "VAULT_OWNER",
    "VAULT_QUEUE", "VAULT_REQUESTS", "Permissions", "durable_api", "generate_passwords", "hash_password",
    "inbox_prefix", "inbox_subscription", "permissions", "render_authorization", "secret_key",
    "url_with_credentials",
]


def secret_key(user: str) -> str:
    """The key of ``user``'s password in ``var/secrets.json``."""
    return f"nats_{user}"


def generate_passwords(users: Iterable[str] = USERS) -> dict[str, str]:
    """Fresh random passwords (URL-safe, so they can sit in a ``nats://user:pw@host`` URL)."""
    return {u: _secrets.token_urlsafe(24) for u in users}


def url_with_credentials(url: str, user: str, password: str) -> str:
    """``nats://host:port`` -> ``nats://user:password@host:port`` (for each comma-separated server)."""
    out = []
    for server in url.split(","):
        scheme, sep, rest = server.partition("://")
        if not sep:
            scheme, rest = "nats", server
        out.append(f"{scheme}://{user}:{password}@{rest.rsplit('@', 1)[-1]}")
    return ",".join(out)
