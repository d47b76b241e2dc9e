"""``python -m fw_reporting``: structured logs, then the HTTP app under uvicorn."""

from __future__ import annotations

import uvicorn

from fw_platform import logs
from fw_reporting import SERVICE
from fw_reporting.bootstrap import build
from fw_reporting.settings import Settings


def main() -> None:
    """Run reporting on the configured host and port until SIGINT/SIGTERM."""
    settings = Settings()
    logs.configure(SERVICE, settings.log_level)
    uvicorn.run(build(settings).http, host=settings.http_host, port=settings.http_port,
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
