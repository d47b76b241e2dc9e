"""Sign-in: argon2 users file, cookie flags, generic failures, rate limit, roles, CLI, dev bootstrap."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from fw_web.adapters.users_file import add_user, dev_bootstrap, hash_password, load_users, verify_password
from fw_web.cli import main as cli_main
from fw_web.domain.users import Role, User, UsersFileError, dump_users, parse_users
from fw_web.entrypoints.signin import WRONG, safe_next


def test_argon2_hash_verifies_only_the_right_password() -> None:
    h = hash_password("richtig-und-lang")
    assert h.startswith("$argon2id$") and "richtig" not in h
    user = User("technik", Role.TECHNICIAN, h)
    assert verify_password(user, "richtig-und-lang")
    assert not verify_password(user, "falsch")
    assert not verify_password(None, "richtig-und-lang")  # unknown user: same work, still no
    assert not verify_password(User("x1", Role.OFFICE, "$argon2id$kaputt"), "x")


def test_users_file_roundtrip_and_errors(tmp_path: Path) -> None:
    users = [User("technik", Role.TECHNICIAN, hash_password("a" * 12)), User("buero", Role.OFFICE, hash_password("b" * 12))]
    text = dump_users(users)
    assert parse_users(tomllib.loads(text)) == {u.username: u for u in users}
    with pytest.raises(UsersFileError, match="role"):
        parse_users({"users": [{"username": "abc", "role": "admin", "password_hash": "$argon2id$x"}]})
    with pytest.raises(UsersFileError, match="username"):
        parse_users({"users": [{"username": "Root!", "role": "office", "password_hash": "$argon2id$x"}]})
    with pytest.raises(UsersFileError, match="argon2"):
        parse_users({"users": [{"username": "abc", "role": "office", "password_hash": "klartext"}]})
    with pytest.raises(UsersFileError, match="duplicate"):
        parse_users({"users": [{"username": "abc", "role": "office", "password_hash": "$argon2id$x"}] * 2})
    bad = tmp_path / "u.toml"
    bad.write_text("[[users]\n")
    with pytest.raises(UsersFileError):
        load_users(bad)
    assert load_users(tmp_path / "missing.toml") == {}


def test_cli_add_user_and_hash_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import io

    path = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
    assert cli_main(["add-user", "tech-02", "--role", "technician", "--file", str(path), "--stdin"]) == 0
    users = load_users(path)
    assert users["tech-02"].role is Role.TECHNICIAN and verify_password(users["tech-02"], "ein-langes-passwort")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "ein-langes-passwort" not in path.read_text()
    add_user(path, "tech-02", Role.OFFICE, "anderes-passwort")  # replaces, does not duplicate
    assert load_users(path)["tech-02"].role is Role.OFFICE
    monkeypatch.setattr("sys.stdin", io.StringIO("kurz\n"))
    with pytest.raises(SystemExit):
        cli_main(["hash-password", "--stdin"])
    monkeypatch.setattr("sys.stdin", io.StringIO("noch-ein-passwort\n"))
    capsys.readouterr()
    assert cli_main(["hash-password", "--stdin"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password(User("x1", Role.OFFICE, printed), "noch-ein-passwort")
    with pytest.raises(SystemExit):
        cli_main(["add-user", "Not Valid", "--role", "office", "--file", str(path), "--stdin"])


def test_dev_bootstrap_creates_one_user_per_role_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "web-users.toml"
    created = dev_bootstrap(path)
    assert created is not None and {role for role, _ in created.values()} == set(Role)
    users = load_users(path)
    for name, (role, password) in created.items():
        assert users[name].role is role and verify_password(users[name], password)
        assert password not in path.read_text()
    assert dev_bootstrap(path) is None  # never a second time, never shown again


def test_dev_bootstrap_prints_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fw_web.cli import print_dev_users

    print_dev_users(tmp_path / "u.toml")
    out = capsys.readouterr().out
    assert "technik" in out and "buero" in out and "datenschutz" in out and "password" in out
    print_dev_users(tmp_path / "u.toml")
    assert "password " not in capsys.readouterr().out


@pytest.mark.parametrize(("target", "ok"), [("/technik", True), ("/buero/kunden", True), ("//evil.example", False),
                                        ("https://evil.example", False), ("/\\evil", False), ("", False), (None, False)])
def test_only_local_targets_after_sign_in(target: str | None, ok: bool) -> None:
    assert (safe_next(target) is not None) is ok


async def test_sign_in_sets_a_strict_httponly_signed_cookie(web) -> None:
    resp = await web.sign_in("technik")
    assert resp.status_code == 303 and resp.headers["location"] == "/technik"
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert "technik-passwort" not in cookie
    page = await web.client.get("/technik")
    assert page.status_code == 200 and "Warteschlange" in page.text


async def test_cookie_is_secure_behind_tls(web) -> None:
    client = await web.make_client(cookie_secure=True)
    resp = await web.sign_in("technik", client=client)
    assert "; Secure" in resp.headers["set-cookie"]
    assert "Strict-Transport-Security" in resp.headers


async def test_wrong_password_and_unknown_user_get_the_same_generic_answer(web) -> None:
    wrong = await web.sign_in("technik", "falsches-passwort")
    unknown = await web.sign_in("niemand", "falsches-passwort")
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert WRONG in resp.text
    assert (await web.client.get("/technik")).status_code == 303  # still not signed in


async def test_sign_in_is_rate_limited_per_client(web) -> None:
    client = await web.make_client(login_rate_per_minute=3)
    codes = [(await web.sign_in("technik", "falsch", client=client)).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    resp = await web.sign_in("technik", client=client)  # even the right password waits now
    assert resp.status_code == 429 and "Zu viele Anmeldeversuche" in resp.text and "Retry-After" in resp.headers


async def test_pages_need_sign_in_and_the_right_role(web) -> None:
    resp = await web.client.get("/buero")
    assert resp.status_code == 303 and resp.headers["location"] == "/anmelden?weiter=/buero"
    frag = await web.client.get("/technik/warteschlange", headers={"X-FW-Fragment": "1"})
    assert frag.status_code == 401 and "Anmeldung ist abgelaufen" in frag.text
    await web.sign_in("technik")
    assert (await web.client.get("/buero")).status_code == 403
    assert (await web.client.get("/datenschutz")).status_code == 403
    assert (await web.client.get("/technik")).status_code == 200


async def test_sign_in_returns_to_the_page_asked_for(web) -> None:
    page = await web.client.get("/anmelden?weiter=/buero/kunden")
    resp = await web.client.post("/anmelden", data={"username": "buero", "password": web.passwords["buero"],
                                                    "next": "/buero/kunden", "csrf_token": web.csrf_of(page.text)})
    assert resp.headers["location"] == "/buero/kunden"


async def test_a_forged_cookie_signs_no_one_in(web) -> None:
    await web.sign_in("technik")
    value = web.client.cookies["fw_web"]
    web.client.cookies.set("fw_web", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert (await web.client.get("/technik")).status_code == 303


async def test_a_removed_user_is_signed_out(web) -> None:
    await web.sign_in("technik")
    transport = web.client._transport  # the ASGI app behind the client
    transport.app.state.users.pop("technik")
    assert (await web.client.get("/technik")).status_code == 303


async def test_sign_out(web) -> None:
    await web.sign_in("buero")
    resp = await web.post_form("/buero", "/abmelden", {})
    assert resp.status_code == 303 and resp.headers["location"] == "/anmelden"
    assert (await web.client.get("/buero")).status_code == 303
