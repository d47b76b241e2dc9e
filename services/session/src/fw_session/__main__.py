"""``python -m fw_session``: structured logs, then uvicorn on the configured host/port."""

from __future__ import annotations

import uvicorn

from fw_platform import logs
from fw_session.bootstrap import SERVICE, build
from fw_session.settings import Settings


def main() -> None:
    settings = Settings()
    logs.configure(SERVICE, settings.log_level)
    # log_config=None: keep our JSON handler instead of uvicorn's default formatters.
    uvicorn.run(build(settings).http, host=settings.http_host, port=settings.http_port,
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
