"""The permission table and the nats.conf written from it (no server needed)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import bcrypt
import pytest

from fw_devenv.cli import load_nats_passwords, nats_credentials_env
from fw_devenv.nats import NatsServer
from fw_devenv.nats_auth import (
    ADMIN_ONLY,
    DURABLES,
    PERMISSIONS,
    SERVICE_USERS,
    USERS,
    generate_passwords,
    hash_password,
    inbox_subscription,
    render_authorization,
    url_with_credentials,
)


def test_admin_is_the_only_unrestricted_user() -> None:
    assert [u for u, p in PERMISSIONS.items() if p is None] == ["admin"]


@pytest.mark.parametrize("user", [u for u in USERS if u != "admin"])
def test_publish_rights_are_narrow(user: str) -> None:
    perms = PERMISSIONS[user]
    assert perms is not None
    unnamed_create = "$JS.API.CONSUMER.CREATE.FERNWARTUNG"
    # the destructive stream calls are explicitly denied, whatever is allowed
    assert set(ADMIN_ONLY) <= set(perms.publish_deny)
    # the unnamed consumer create takes the consumer's name from the body: admin only, no exception
    assert unnamed_create in perms.publish_deny and unnamed_create not in perms.publish_allow
    for subject in perms.publish_allow:
        assert subject not in (">", "fw.>", "$JS.API.>", "$JS.>", "vault.>", "vault.v1.>"), subject
        assert not subject.startswith("$JS.FC."), subject  # flow control: push consumers only
        if subject.startswith("fw."):  # events: only its own producer prefix
            assert subject == f"fw.{user}.>", subject
        if ".CONSUMER." in subject:
            # named consumer calls: only its own durables, each spelled out (no wildcard name)
            name = subject.split(".FERNWARTUNG.", 1)[1].split(".", 1)[0]
            assert name in {f"{user}--{n}" for n in DURABLES.get(user, ())}, subject
        if subject.startswith("$JS.ACK."):
            assert subject.split(".")[3] in {f"{user}--{n}" for n in DURABLES.get(user, ())}
    assert inbox_subscription(user) in perms.subscribe_allow
    assert perms.allow_responses == (user == "retention")


def test_audit_reads_by_message_get_only_and_touches_no_consumer() -> None:
    perms = PERMISSIONS["audit"]
    assert perms is not None
    assert set(perms.publish_allow) == {
        "fw.audit.>",  # its signed checkpoints
        "$JS.API.INFO", "$JS.API.STREAM.INFO.FERNWARTUNG",
        "$JS.API.DIRECT.GET.FERNWARTUNG", "$JS.API.DIRECT.GET.FERNWARTUNG.>",  # fw_audit's reader
        "$JS.API.STREAM.MSG.GET.FERNWARTUNG",  # the leader's word on where the stream ends
    }
    assert not any(".CONSUMER." in s or s.startswith("$JS.ACK.") for s in perms.publish_allow)


def test_the_block_holds_bcrypt_hashes_not_passwords() -> None:
    passwords = generate_passwords()
    text = render_authorization(passwords, bcrypt_cost=4)
    assert text.startswith("authorization {") and text.count("{ user:") == len(USERS)
    for user, pw in passwords.items():
        assert pw not in text
        stored = text.split(f'user: "{user}", password: ', 1)[1].split('"')[1]
        assert stored.startswith("$2a$04$") and bcrypt.checkpw(pw.encode(), stored.encode())
    # plain text only on request; a given hash is kept as it is
    assert passwords["intake"] in render_authorization(passwords, bcrypt_cost=None)
    hashed = hash_password("secret", 4)
    assert hash_password(hashed) == hashed
    with pytest.raises(ValueError, match="audit"):
        render_authorization({u: "x" for u in USERS if u != "audit"}, bcrypt_cost=None)


def test_the_server_config_is_private_and_has_no_plain_password(tmp_path: Path) -> None:
    passwords = generate_passwords()
    server = NatsServer(tmp_path / "nats", 4222, monitor_port=8222, passwords=passwords, bcrypt_cost=4)
    conf = server.write_config()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    text = conf.read_text()
    assert "authorization {" in text and not any(pw in text for pw in passwords.values())
    assert server.url == "nats://127.0.0.1:4222"
    assert server.admin_url == f"nats://admin:{passwords['admin']}@127.0.0.1:4222"
    assert server.credentials("billing") == ("billing", passwords["billing"])


def test_url_with_credentials() -> None:
    assert url_with_credentials("nats://a:1,nats://u:p@b:2", "x", "y") == "nats://x:y@a:1,nats://x:y@b:2"
    assert url_with_credentials("127.0.0.1:4222", "x", "y") == "nats://x:y@127.0.0.1:4222"


def test_make_run_keeps_nats_passwords_in_the_secrets_file(tmp_path: Path) -> None:
    first = load_nats_passwords(tmp_path)
    assert set(first) == set(USERS)
    assert load_nats_passwords(tmp_path) == first  # stable across runs
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored == {f"nats_{u}": pw for u, pw in first.items()}
    env = nats_credentials_env(first)
    for svc in SERVICE_USERS:
        assert env[f"FW_{svc.upper()}_NATS_USER"] == svc
        assert env[f"FW_{svc.upper()}_NATS_PASSWORD"] == first[svc]
    assert not any("ADMIN" in k or "AUDIT" in k for k in env)  # services never get those
