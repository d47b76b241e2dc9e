"""Per-service database passwords kept in ``var/secrets.json`` (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def load_or_create_secrets(path: Path | str, services: Iterable[str]) -> dict[str, str]:
    """Return ``{service: password}``; passwords missing from *path* are
    generated once with ``secrets.token_urlsafe`` and written back. The file
    is (re)written atomically with mode 0600 and never loses existing keys."""
    path = Path(path)
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text() or "{}")
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    missing = [s for s in services if not data.get(s)]
    if missing or not path.exists():
        for svc in missing:
            data[svc] = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    return {s: data[s] for s in services}
