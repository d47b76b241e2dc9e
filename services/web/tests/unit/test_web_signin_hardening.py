"""Sign-in under pressure and sign-out for good: password checks off the event loop with bounded
concurrency and queue, a limit over all addresses, server-side sign-in records, Secure cookies
for https."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from fw_devenv.testing import eventually
from fw_web.adapters.password_checks import ChecksBusy, PasswordChecks
from fw_web.adapters.signins_file import SignInRecords, SignInsFileError
from fw_web.domain.users import User
from fw_web.entrypoints.signin import BUSY


class BlockingVerify:
    """A password check that waits until the test releases it, and records who was checked."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.checked: list[str | None] = []

    def __call__(self, user: User | None, password: str) -> bool:
        self.checked.append(user.username if user else None)
        if not self.release.wait(timeout=30):
            raise AssertionError("the test never released the password check")
        return False


def _app(client: Any) -> Any:
    return client._transport.app  # the ASGI app behind the test client


async def _sign_in_form(web: Any, client: Any) -> dict[str, str]:
    page = await client.get("/anmelden")
    return {"username": "technik", "password": "falsch-geraten", "csrf_token": web.csrf_of(page.text)}


async def test_password_checks_run_off_the_event_loop(web) -> None:  # type: ignore[no-untyped-def]
    client = await web.make_client(login_concurrency=1, login_queue=1)
    verify = BlockingVerify()
    checks = PasswordChecks(verify, concurrency=1, queue=1)
    _app(client).state.password_checks = checks
    form = await _sign_in_form(web, client)
    attempt = asyncio.create_task(client.post("/anmelden", data=form))
    try:
        await eventually(lambda: verify.checked)
        # the check is still running: pages and probes answer all the same
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/")).status_code == 200
        assert not attempt.done()
    finally:
        verify.release.set()
    assert (await attempt).status_code == 401
    checks.close()


async def test_a_full_queue_answers_429_at_once_in_german_and_english(web) -> None:  # type: ignore[no-untyped-def]
    client = await web.make_client(login_concurrency=1, login_queue=1, login_rate_per_minute=100)
    verify = BlockingVerify()
    checks = PasswordChecks(verify, concurrency=1, queue=1)
    _app(client).state.password_checks = checks
    form = await _sign_in_form(web, client)
    running = asyncio.create_task(client.post("/anmelden", data=form))
    waiting = asyncio.create_task(client.post("/anmelden", data=form))
    try:
        await eventually(lambda: checks.admitted == 2)
        refused = await client.post("/anmelden", data=form)  # answered while both are still held
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "ausgelastet" in refused.text and "Sign-in is busy" in refused.text
        assert BUSY.split(" (")[0] in refused.text
        assert len(verify.checked) == 1  # the refused one never reached a check
    finally:
        verify.release.set()
    assert [(await t).status_code for t in (running, waiting)] == [401, 401]
    assert checks.admitted == 0
    checks.close()


async def test_pool_limits_are_checked() -> None:
    checks = PasswordChecks(lambda u, p: True, concurrency=2, queue=0)
    assert await checks.verify(None, "x") is True
    checks.close()
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        PasswordChecks(lambda u, p: True, concurrency=0, queue=1)
    blocked = BlockingVerify()
    only_one = PasswordChecks(blocked, concurrency=1, queue=0)
    first = asyncio.create_task(only_one.verify(None, "x"))
    await eventually(lambda: blocked.checked)
    with pytest.raises(ChecksBusy) as busy:
        await only_one.verify(None, "y")
    assert busy.value.retry_after > 0
    blocked.release.set()
    assert await first is False
    only_one.close()


async def test_checks_run_at_a_lower_cpu_priority_than_the_event_loop() -> None:
    import os

    def priority(user: User | None, password: str) -> bool:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return False

    seen: list[int] = []
    checks = PasswordChecks(priority, concurrency=1, queue=0)
    await checks.verify(None, "x")
    checks.close()
    assert seen[0] > os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_unknown_names_cost_a_password_check_too(web) -> None:  # type: ignore[no-untyped-def]
    client = await web.make_client()
    verify = BlockingVerify()
    verify.release.set()
    _app(client).state.password_checks = PasswordChecks(verify, concurrency=1, queue=1)
    form = await _sign_in_form(web, client)
    for name in ("technik", "niemand"):
        resp = await client.post("/anmelden", data={**form, "username": name})
        assert resp.status_code == 401
    assert verify.checked == ["technik", None]  # the unknown name was checked (against a dummy hash)


async def test_all_addresses_together_are_limited(web) -> None:  # type: ignore[no-untyped-def]
    # the per-address limit is far away: only the limit over all addresses can refuse here
    client = await web.make_client(login_global_rate_per_minute=2, login_rate_per_minute=100)
    form = await _sign_in_form(web, client)
    codes = [(await client.post("/anmelden", data=form)).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    limited = await client.post("/anmelden", data={**form, "password": web.passwords["technik"]})
    assert limited.status_code == 429 and "Retry-After" in limited.headers and "Sign-in is busy" in limited.text


async def test_an_old_cookie_is_refused_after_sign_out(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("buero")
    copied = web.client.cookies["fw_web"]
    assert (await web.client.get("/buero")).status_code == 200
    other = await web.make_client()  # the same user in another browser stays signed in
    await web.sign_in("buero", client=other)

    out = await web.post_form("/buero", "/abmelden", {})
    assert out.status_code == 303

    replay = await web.make_client()
    replay.cookies.set("fw_web", copied)
    resp = await replay.get("/buero")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/anmelden")
    frag = await replay.get("/technik/warteschlange", headers={"X-FW-Fragment": "1"})
    assert frag.status_code == 401
    assert (await other.get("/buero")).status_code == 200


async def test_sign_in_records_survive_a_restart_and_are_shared(web, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    cookie = web.client.cookies["fw_web"]
    # a second instance (or the same after a restart) with the same key and records file
    second = await web.make_client()
    second.cookies.set("fw_web", cookie)
    page = await second.get("/technik")
    assert page.status_code == 200
    await second.post("/abmelden", data={"csrf_token": web.csrf_of(page.text)})
    assert (await web.client.get("/technik")).status_code == 303  # ended on the first one too
    raw = (tmp_path / "web-signins.json").read_text()
    sid = __import__("itsdangerous").URLSafeTimedSerializer(
        "test-secret-key-0123456789", salt="fw-web-session").loads(cookie)["sid"]
    assert sid not in raw  # only digests are stored


async def test_signing_in_again_ends_the_sign_in_before(web) -> None:  # type: ignore[no-untyped-def]
    await web.sign_in("technik")
    first = web.client.cookies["fw_web"]
    page = await web.client.get("/anmelden?weiter=/technik")  # the form, although signed in
    again = await web.client.post("/anmelden", data={"username": "technik", "password": web.passwords["technik"],
                                                     "csrf_token": web.csrf_of(page.text)})
    assert again.status_code == 303 and web.client.cookies["fw_web"] != first
    replay = await web.make_client()
    replay.cookies.set("fw_web", first)
    assert (await replay.get("/technik")).status_code == 303
    assert (await web.client.get("/technik")).status_code == 200


async def test_cookie_is_secure_when_the_request_came_over_https(web) -> None:  # type: ignore[no-untyped-def]
    https = await web.make_client(base_url="https://testserver")
    resp = await web.sign_in("technik", client=https)
    assert resp.status_code == 303 and "; Secure" in resp.headers["set-cookie"]
    plain = await web.make_client(base_url="http://testserver")
    resp = await web.sign_in("technik", client=plain)
    assert resp.status_code == 303 and "Secure" not in resp.headers["set-cookie"]


def test_a_new_password_ends_the_users_open_sign_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from fw_web.cli import main as cli_main

    monkeypatch.delenv("FW_WEB_SIGNINS_FILE", raising=False)
    users = tmp_path / "users.toml"
    records = SignInRecords(tmp_path / "web-signins.json")
    mine, other = records.open("tech-02", 600), records.open("tech-03", 600)
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-neues-langes-passwort\n"))
    assert cli_main(["add-user", "tech-02", "--role", "technician", "--file", str(users), "--stdin"]) == 0
    assert "1 offene Anmeldung(en) beendet" in capsys.readouterr().out
    assert not records.is_open(mine, "tech-02") and records.is_open(other, "tech-03")


def test_sign_in_records_expire_close_and_fail_closed(tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / "data" / "signins.json"
    records = SignInRecords(path, clock=lambda: now[0])
    a = records.open("technik", 60)
    b = records.open("technik", 600)
    c = records.open("buero", 600)
    assert records.is_open(a, "technik") and records.is_open(b, "technik") and records.is_open(c, "buero")
    assert not records.is_open(a, "buero") and not records.is_open("erfunden", "technik")
    assert not records.is_open(None, "technik")
    now[0] += 61
    assert not records.is_open(a, "technik") and records.is_open(b, "technik")
    records.close(c)
    assert not records.is_open(c, "buero")
    assert len(json.loads(path.read_text())["signins"]) == 1  # the expired one was dropped on writing
    assert records.close_all("technik") == 1 and not records.is_open(b, "technik")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text("{kaputt")
    with pytest.raises(SignInsFileError, match=r"signins\.json"):
        records.is_open(b, "technik")
    path.unlink()
    assert not records.is_open(b, "technik")  # a lost file ends sign-ins, it never opens one
