"""DevEnv: NATS (JetStream) + PostgreSQL under one var dir."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Self

from ._util import free_port
from .nats import NatsServer
from .postgres import PostgresServer
from .provision import provision_sync

DATABASE = "fernwartung"
SERVICES = ("intake", "session", "billing", "retention", "reporting")


class DevEnv:
    """Both servers under *var_dir*::

        var/nats/      JetStream store         var/pgdata/   PostgreSQL cluster
        var/conf/      nats.conf               var/log/      nats.log, postgres.log
        var/run/       nats.pid, PG socket     var/secrets.json (CLI only)

    Ports default to free ones. As a context manager it starts both on entry
    and on exit stops those it started itself (servers it merely adopted,
    already running from an earlier ``fw_devenv up``, are left running).
    """

    def __init__(
        self,
        var_dir: Path | str,
        nats_port: int | None = None,
        pg_port: int | None = None,
        *,
        nats_monitor_port: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.var_dir = Path(var_dir).resolve()
        self.host = host
        self.nats = NatsServer(
            self.var_dir / "nats",
            nats_port or free_port(host),
            host=host,
            monitor_port=nats_monitor_port,
        )
        self.postgres = PostgresServer(self.var_dir / "pgdata", pg_port or free_port(host), host=host)

    @property
    def nats_url(self) -> str:
        return self.nats.url

    @property
    def admin_dsn(self) -> str:
        return self.postgres.admin_dsn

    def start(self) -> Self:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.nats.start()
        try:
            self.postgres.start()
        except BaseException:
            if not self.nats.adopted:
                self.nats.stop()
            raise
        return self

    def stop(self, *, include_adopted: bool = True) -> None:
        """Stop PostgreSQL then NATS. With include_adopted=False servers that
        were already running before start() are left alone."""
        errors: list[BaseException] = []
        for server in (self.postgres, self.nats):
            if server.adopted and not include_adopted:
                continue
            try:
                server.stop()
            except BaseException as exc:  # noqa: BLE001 - stop the other one too
                errors.append(exc)
        if errors:
            raise errors[0]

    def provision(self, services: Mapping[str, str], database: str = DATABASE, *,
                  audit_password: str | None = None) -> dict[str, str]:
        return provision_sync(self.admin_dsn, database, services, audit_password=audit_password)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(include_adopted=False)

    def __repr__(self) -> str:
        return f"DevEnv(var_dir={str(self.var_dir)!r}, nats_url={self.nats_url!r}, admin_dsn={self.admin_dsn!r})"
