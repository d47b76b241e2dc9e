"""Container health check without curl: ``python /app/healthcheck.py [/healthz|/readyz]``.

The port is the service's own ``FW_<SVC>_HTTP_PORT`` (compose sets it for every service);
exit 0 on HTTP 200, 1 otherwise.
"""

from __future__ import annotations

import os
import re
import sys
import urllib.request


def port() -> int:
    """The one ``FW_<SVC>_HTTP_PORT`` in the environment (8080 when none is set)."""
    found = [v for k, v in os.environ.items() if re.fullmatch(r"FW_[A-Z]+_HTTP_PORT", k)]
    return int(found[0]) if found else 8080


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port()}{path}", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except Exception:  # noqa: BLE001 - any failure is "unhealthy"
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
