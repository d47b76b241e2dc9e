"""``python -m fw_billing``: structured logs, then the HTTP app with its consumers."""

from __future__ import annotations

import uvicorn

from fw_billing.bootstrap import SERVICE, build
from fw_billing.settings import Settings
from fw_platform import logs


def main() -> None:
    """Run billing on the configured host and port until stopped."""
    settings = Settings()  # type: ignore[call-arg]  # archive_key comes from the environment
    logs.configure(SERVICE, settings.log_level)
    uvicorn.run(build(settings).http, host=settings.http_host, port=settings.http_port,
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
