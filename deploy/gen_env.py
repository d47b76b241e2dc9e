#!/usr/bin/env python3
"""Print a complete ``deploy/.env`` with fresh secrets: ``python3 deploy/gen_env.py > deploy/.env``.

Standard library only (runs on the bare server). Takes ``.env.example`` as the template: every
empty ``KEY=`` line gets a new random value, everything else (comments, FW_DOMAIN, ...) is copied.
Run it once: new values for an installation with data would lock the services out of their
database roles and make the vault and the invoice archive unreadable.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / ".env.example"


def generate() -> dict[str, str]:
    """A fresh value for every secret of ``.env.example``."""
    values: dict[str, str] = {"POSTGRES_PASSWORD": secrets.token_urlsafe(32)}
    for svc in ("intake", "session", "billing", "retention", "reporting"):
        values[f"PG_PW_{svc.upper()}"] = secrets.token_urlsafe(32)
    for user in ("admin", "intake", "session", "billing", "retention", "reporting", "audit"):
        values[f"NATS_PW_{user.upper()}"] = secrets.token_urlsafe(24)
    values["FW_RETENTION_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    values["FW_BILLING_ARCHIVE_KEY"] = base64.b64encode(os.urandom(32)).decode()
    values["PG_PW_AUDIT_RO"] = secrets.token_urlsafe(32)
    values["FW_CHECKPOINT_KEY"] = base64.b64encode(os.urandom(32)).decode()  # any 32 bytes: an Ed25519 seed
    values["FW_WEB_SECRET_KEY"] = secrets.token_urlsafe(32)
    for caller, token_var, entry_var in (("web", "WEB_API_TOKEN", "API_KEY_ENTRY_WEB"),
                                         ("ops", "OPS_API_TOKEN", "API_KEY_ENTRY_OPS")):
        token = secrets.token_urlsafe(32)
        values[token_var] = token
        values[entry_var] = f"{caller}:{hashlib.sha256(token.encode()).hexdigest()}"
    return values


def render(template: str, values: dict[str, str]) -> str:
    out = []
    for line in template.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and not value.strip():
            if key.strip() not in values:
                raise SystemExit(f"gen_env.py does not know how to generate {key.strip()}")
            line = f"{key}={values[key.strip()]}"
        out.append(line)
    return "\n".join(out) + "\n"


def main() -> int:
    sys.stdout.write(render(TEMPLATE.read_text(), generate()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
