"""``python -m fw_intake``: structured logs, then the HTTP app under uvicorn."""

from __future__ import annotations

import uvicorn

from fw_intake import SERVICE
from fw_intake.bootstrap import build
from fw_intake.settings import Settings
from fw_platform import logs


def main() -> None:
    """Run intake on the configured host and port until SIGINT/SIGTERM."""
    settings = Settings()
    logs.configure(SERVICE, settings.log_level)
    uvicorn.run(build(settings).http, host=settings.http_host, port=settings.http_port,
                log_config=None, access_log=False,
                proxy_headers=settings.forwarded_allow_ips is not None,
                forwarded_allow_ips=settings.forwarded_allow_ips)


if __name__ == "__main__":
    main()
