"""Production and the dev environment grant every NATS user the same permissions.

Both render from ``fw_contracts.nats_permissions``; this test reads the two rendered configs back
(deploy's single node and cluster file, the dev environment's ``nats.conf``) and compares every
user's publish/subscribe allow and deny lists and reply permission, with each other and with the
table itself. A permission tested locally (tests/security) is then the permission deployed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from deploy_kit import load_deploy_module

from fw_contracts.nats_permissions import PERMISSIONS, USERS
from fw_devenv.nats import NatsServer

render_nats = load_deploy_module("render_nats_conf")

#: An existing bcrypt hash is written unchanged by both renderers (no hashing in the test).
HASHES = dict.fromkeys(USERS, render_nats.PLACEHOLDER_HASH)
_ENTRY = re.compile(r'^\s*\{ user: "([^"]+)", password: "[^"]*"', re.MULTILINE)
_SECTION = r"{kind}: \{{\s*allow: \[(?P<allow>[^\]]*)\]\s*(?:deny: \[(?P<deny>[^\]]*)\]\s*)?\}}"


def _subjects(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', text or ""))


def permissions_in(conf: str) -> dict[str, Any]:
    """``{user: None (everything) or {publish: (allow, deny), subscribe: ..., responses: bool}}``."""
    users_part = conf.split("users = [", 1)[1]
    parts = _ENTRY.split(users_part)
    found: dict[str, Any] = {}
    for user, chunk in zip(parts[1::2], parts[2::2], strict=True):
        if "permissions:" not in chunk:
            found[user] = None
            continue
        perms: dict[str, Any] = {"responses": "allow_responses: { max: 1 }" in chunk}
        for kind in ("publish", "subscribe"):
            m = re.search(_SECTION.format(kind=kind), chunk)
            assert m, f"{user}: no {kind} section"
            perms[kind] = (_subjects(m["allow"]), _subjects(m["deny"]))
        found[user] = perms
    return found


def from_table() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for user in USERS:
        p = PERMISSIONS[user]
        out[user] = None if p is None else {
            "publish": (p.publish_allow, p.publish_deny), "subscribe": (p.subscribe_allow, p.subscribe_deny),
            "responses": p.allow_responses}
    return out


def devenv_conf(tmp_path: Path) -> str:
    server = NatsServer(tmp_path / "jetstream", port=4999, monitor_port=8999, passwords=HASHES)
    return server.write_config().read_text()


def test_deploy_and_devenv_grant_the_same(tmp_path: Path) -> None:
    table = from_table()
    assert set(table) == set(USERS) and table["admin"] is None
    single = permissions_in(render_nats.render(HASHES, render_nats.single_node()))
    cluster = permissions_in(render_nats.render(HASHES, render_nats.cluster_node()))
    dev = permissions_in(devenv_conf(tmp_path))
    for user in USERS:
        assert single[user] == cluster[user] == dev[user] == table[user], user
    assert set(single) == set(cluster) == set(dev) == set(USERS)


def test_the_parser_sees_the_permissions() -> None:
    """Guards the comparison above: it reads real subjects, not empty lists."""
    perms = permissions_in(render_nats.render(HASHES, render_nats.single_node()))
    intake = perms["intake"]
    assert "fw.intake.>" in intake["publish"][0] and "vault.v1.put.intake" in intake["publish"][0]
    assert "$JS.API.STREAM.DELETE.>" in intake["publish"][1]
    assert perms["retention"]["responses"] is True and perms["intake"]["responses"] is False
    assert perms["retention"]["subscribe"][0][-1] == "vault.v1.> retention-vault"
