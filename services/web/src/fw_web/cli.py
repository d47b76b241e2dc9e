"""``python -m fw_web [serve | hash-password | add-user]``."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from fw_web.adapters.signins_file import SignInRecords
from fw_web.adapters.users_file import add_user, dev_bootstrap, hash_password
from fw_web.domain.users import Role, UsersFileError, valid_username

MIN_PASSWORD = 12


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Passwort: ")
        if getpass.getpass("Passwort wiederholen: ") != password:
            raise SystemExit("Die Passwörter stimmen nicht überein.")
    if len(password) < MIN_PASSWORD:
        raise SystemExit(f"Das Passwort braucht mindestens {MIN_PASSWORD} Zeichen.")
    return password


def print_dev_users(users_file: Path) -> None:
    """``make run``: create the users file with one random password per role, and show them once.

    Printed to stdout as plain lines (not as a JSON log record): this is for the developer at
    the terminal, and the passwords exist nowhere else.
    """
    created = dev_bootstrap(users_file)
    if created is None:
        print(f"fw_web: users from {users_file} (passwords were shown when it was created; "
              f"delete the file for new ones)", flush=True)
        return
    lines = [f"fw_web: DEVELOPMENT sign-ins, shown only now (hashes in {users_file}):"]
    lines += [f"fw_web:   {role.label_de:<12} user {name:<12} password {pw}" for name, (role, pw) in created.items()]
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; without a command: serve the pages."""
    ap = argparse.ArgumentParser(prog="python -m fw_web", description="fernwartung web pages")
    sub = ap.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve the pages (default)")
    hp = sub.add_parser("hash-password", help="print the argon2 hash of a password")
    hp.add_argument("--stdin", action="store_true", help="read the password from stdin (one line)")
    au = sub.add_parser("add-user", help="add a user to the users file (or replace its password)")
    au.add_argument("username")
    au.add_argument("--role", required=True, choices=[r.value for r in Role])
    au.add_argument("--file", type=Path, help="users file (default: FW_WEB_USERS_FILE or var/web-users.toml)")
    au.add_argument("--stdin", action="store_true", help="read the password from stdin (one line)")
    args = ap.parse_args(argv)

    if args.command == "hash-password":
        print(hash_password(_read_password(args.stdin)))
        return 0
    if args.command == "add-user":
        from fw_web.settings import Settings

        if not valid_username(args.username):
            raise SystemExit("Benutzernamen: 2–32 Zeichen, Kleinbuchstaben, Ziffern, - und _.")
        settings = Settings()
        path = args.file or settings.users_file
        try:
            add_user(path, args.username, Role(args.role), _read_password(args.stdin))
        except UsersFileError as exc:
            raise SystemExit(str(exc)) from None
        # A new password or role ends the user's open sign-ins (a cookie issued before stops working).
        ended = SignInRecords(settings.signins_file or path.with_name("web-signins.json")).close_all(args.username)
        print(f"{args.username} ({args.role}) in {path} gespeichert; der Dienst liest die Datei beim Start."
              + (f" {ended} offene Anmeldung(en) beendet." if ended else ""))
        return 0
    serve()
    return 0


def serve() -> None:
    """Run the web app on the configured host and port until SIGINT/SIGTERM."""
    import uvicorn

    from fw_platform import logs
    from fw_web import SERVICE
    from fw_web.bootstrap import build
    from fw_web.settings import Settings

    settings = Settings()
    logs.configure(SERVICE, settings.log_level)
    # httpx logs every call with its URL at INFO; our adapter logs what matters (without ids in paths).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.dev_bootstrap:
        print_dev_users(settings.users_file)
    uvicorn.run(build(settings).http, host=settings.http_host, port=settings.http_port,
                log_config=None, access_log=False,
                proxy_headers=settings.forwarded_allow_ips is not None,
                forwarded_allow_ips=settings.forwarded_allow_ips,
                # open live-queue streams (server-sent events) must not hold a shutdown for minutes
                timeout_graceful_shutdown=5)
