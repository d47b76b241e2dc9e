"""``python -m fw_retention``: structured logs, then uvicorn on the configured host/port."""

from __future__ import annotations

import uvicorn

from fw_platform import logs
from fw_retention.bootstrap import SERVICE, build
from fw_retention.settings import Settings


def main() -> None:
    """Run the service until interrupted."""
    settings = Settings()  # type: ignore[call-arg]  # from FW_RETENTION_* variables
    logs.configure(SERVICE, settings.log_level)
    uvicorn.run(build(settings).http, host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
