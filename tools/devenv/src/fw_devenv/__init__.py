"""fernwartung local dev/test environment: NATS JetStream + PostgreSQL.

Sync API, usable from pytest session fixtures and the CLI
(``python -m fw_devenv up|down|status``)::

    from fw_devenv import DevEnv
    with DevEnv(tmp_path / "var") as env:
        dsns = env.provision({"intake": "pw"}, database="fernwartung")
        ... env.nats_url, env.admin_dsn, dsns["intake"]
"""

from ._util import DevEnvError, PortInUseError, free_port
from .devenv import DATABASE, SERVICES, DevEnv
from .nats import NatsServer, nats_server_binary
from .postgres import PostgresServer, pg_bin_dir, pg_os_user
from .provision import provision, provision_sync, role_name, run_sync, service_dsn
from .secrets_file import load_or_create_secrets

__all__ = [
    "DATABASE",
    "SERVICES",
    "DevEnv",
    "DevEnvError",
    "NatsServer",
    "PortInUseError",
    "PostgresServer",
    "free_port",
    "load_or_create_secrets",
    "nats_server_binary",
    "pg_bin_dir",
    "pg_os_user",
    "provision",
    "provision_sync",
    "role_name",
    "run_sync",
    "service_dsn",
]
