#!/usr/bin/env python3
"""Render ``nats.conf`` for the containers from the one permission table (``fw_contracts.nats_permissions``).

    python deploy/render_nats_conf.py                    # single node -> deploy/nats/nats.conf
    python deploy/render_nats_conf.py --cluster          # 3 nodes -> deploy/cluster/nats/nats.conf
    python deploy/render_nats_conf.py --example          # placeholder hashes (the committed examples)

Passwords come from the environment or from ``deploy/.env`` (``NATS_PW_<USER>``, e.g.
``NATS_PW_ADMIN``, ``NATS_PW_INTAKE`` ...); they are written as bcrypt hashes only, so the
rendered file holds no password. A value that already is a bcrypt hash is written unchanged.
The same functions render the loopback cluster of ``tests/deploy`` (other ports, same text).
In the image, fw-contracts is installed; the dev environment renders from the same table
(``fw_devenv.nats_auth``), so a permission tested locally is the permission deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _src in ("shared/contracts/src",):
    if (ROOT / _src).is_dir() and str(ROOT / _src) not in sys.path:  # run from a checkout
        sys.path.insert(0, str(ROOT / _src))

from fw_contracts.nats_permissions import DEFAULT_BCRYPT_COST, USERS, render_authorization  # noqa: E402

#: 8 MiB, as in fw_devenv (NATS' recommended upper bound).
MAX_PAYLOAD = 8 * 1024 * 1024
#: Accepted by ``hash_password`` as "already a hash": used in the committed example files.
PLACEHOLDER_HASH = "$2a$11$REPLACE.ME.run.deploy/render_nats_conf.py.with.your.env"


#: Seconds a client has to finish its CONNECT. NATS' default (2 s) is too short when every
#: service connects at once on a small busy server: each CONNECT costs one bcrypt check, the
#: server closed the slowest half-way and that client never recovered (seen in tests/deploy/live).
AUTH_TIMEOUT_S = 10
AUTH_TIMEOUT_TEXT = (f"  # bcrypt checks of all services connecting at once can take seconds on a busy server\n"
                     f"  timeout: {AUTH_TIMEOUT_S}\n")


def password_var(user: str) -> str:
    """The ``.env`` variable holding ``user``'s NATS password."""
    return f"NATS_PW_{user.upper()}"


@dataclass(frozen=True)
class ClusterSpec:
    """The ``cluster {}`` block: this node's route listener and every node's route URL."""

    name: str
    listen: str
    routes: Sequence[str]


@dataclass(frozen=True)
class ServerSpec:
    server_name: str  # "$NATS_SERVER_NAME" reads it from the container's environment
    listen: str = "0.0.0.0:4222"
    http: str = "0.0.0.0:8222"  # monitoring: on the backend network only (not published)
    store_dir: str = "/data/jetstream"
    cluster: ClusterSpec | None = None


def _value(text: str) -> str:
    # "$VAR" stays unquoted so nats-server resolves it from the environment; all else is quoted
    return text if text.startswith("$") else json.dumps(text)


def server_text(spec: ServerSpec) -> str:
    """Everything but the authorization block."""
    out = f"""# Rendered by deploy/render_nats_conf.py -- edit that script (or fw_contracts.nats_permissions), not this file.
server_name: {_value(spec.server_name)}
listen: {json.dumps(spec.listen)}
http: {json.dumps(spec.http)}
max_payload: {MAX_PAYLOAD}

jetstream {{
  store_dir: {json.dumps(spec.store_dir)}
  # fsync every write before the publish is acknowledged (docs/reliability.md): the default
  # flushes every 2 minutes and can lose acknowledged events on a power cut.
  sync_interval: always
}}
"""
    if spec.cluster:
        routes = "".join(f"    {json.dumps(r)}\n" for r in spec.cluster.routes)
        out += f"""
cluster {{
  name: {json.dumps(spec.cluster.name)}
  listen: {json.dumps(spec.cluster.listen)}
  # every node lists every node (its own route is ignored); one file for all three
  routes: [
{routes}  ]
}}
"""
    return out


def render(passwords: Mapping[str, str], spec: ServerSpec, *,
           bcrypt_cost: int = DEFAULT_BCRYPT_COST) -> str:
    """The whole ``nats.conf``: server, JetStream, (cluster), users with their permissions."""
    auth = render_authorization(passwords, bcrypt_cost=bcrypt_cost).replace(
        "authorization {\n", "authorization {\n" + AUTH_TIMEOUT_TEXT, 1)
    return server_text(spec) + "\n# one user per service, see fw_contracts.nats_permissions\n" + auth


def single_node() -> ServerSpec:
    return ServerSpec(server_name="fw-nats")


def cluster_node() -> ServerSpec:
    """The file every node of deploy/cluster mounts; NATS_SERVER_NAME differs per container."""
    return ServerSpec(server_name="$NATS_SERVER_NAME", cluster=ClusterSpec(
        name="fernwartung", listen="0.0.0.0:6222",
        routes=[f"nats-route://{host}:6222" for host in ("nats", "nats-2", "nats-3")]))


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``#`` comments, optional quotes) -- the subset docker compose reads."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def passwords_from(env: Mapping[str, str]) -> dict[str, str]:
    """``{user: password or hash}`` for every NATS user; refuses a missing one."""
    missing = [password_var(u) for u in USERS if not env.get(password_var(u))]
    if missing:
        raise SystemExit(f"missing in the environment or .env: {', '.join(missing)}")
    return {u: env[password_var(u)] for u in USERS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env-file", type=Path, default=HERE / ".env")
    ap.add_argument("--cluster", action="store_true", help="the 3-node file for deploy/cluster")
    ap.add_argument("--example", action="store_true", help="placeholder hashes, no passwords needed")
    ap.add_argument("--out", type=Path, help="default: deploy/nats/nats.conf or deploy/cluster/nats/nats.conf")
    ap.add_argument("--stdout", action="store_true", help="print instead of writing a file (in the image)")
    args = ap.parse_args(argv)
    spec = cluster_node() if args.cluster else single_node()
    out = args.out or (HERE / ("cluster/nats" if args.cluster else "nats") / "nats.conf")
    if args.example:
        passwords = dict.fromkeys(USERS, PLACEHOLDER_HASH)
        out = args.out or out.with_suffix(".conf.example")
    else:
        passwords = passwords_from({**read_env_file(args.env_file), **os.environ})
    text = render(passwords, spec)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    # hashes only, but still: readable by the owner and the container's nats user (0644 would
    # show them to every local account)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
