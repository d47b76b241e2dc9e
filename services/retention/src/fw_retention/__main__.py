"""``python -m fw_retention``: structured logs, then uvicorn on the configured host/port."""

from __future__ import annotations

import uvicorn

from fw_platform import logs
from fw_retention.bootstrap import create_app
from fw_retention.settings import RetentionSettings


def main() -> None:
    """Run the service until interrupted."""
    settings = RetentionSettings()  # type: ignore[call-arg]  # from FW_RETENTION_* variables
    logs.configure("retention", settings.log_level)
    app = create_app(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
