"""The users file (TOML) and argon2 password hashes."""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fw_web.domain.users import Role, User, UsersFileError, dump_users, parse_users

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
#: Verified when the user name is unknown, so that a wrong name costs the same time as a
#: wrong password and the answer time does not tell which names exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))

#: The users ``make run`` creates: one per role.
DEV_USERS = (("technik", Role.TECHNICIAN), ("buero", Role.OFFICE), ("datenschutz", Role.PRIVACY))


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (with its own random salt)."""
    return _HASHER.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Whether ``password`` belongs to ``user``; costs one hash also when ``user`` is None."""
    try:
        return _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def load_users(path: Path) -> dict[str, User]:
    """The users in ``path``; an empty dict when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"{path}: not valid TOML ({exc})") from None
    return parse_users(data)


def write_users(path: Path, users: list[User]) -> None:
    """Write ``users`` atomically, readable by the owner only (it holds hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dump_users(users))
    os.replace(tmp, path)


def add_user(path: Path, username: str, role: Role, password: str) -> None:
    """Add ``username`` to the file, or replace its role and password if it exists."""
    users = load_users(path)
    users[username] = User(username=username, role=role, password_hash=hash_password(password))
    write_users(path, list(users.values()))


def dev_bootstrap(path: Path) -> dict[str, tuple[Role, str]] | None:
    """Create ``path`` with one user per role and random passwords, if it does not exist.

    Returns ``{username: (role, password)}`` for the caller to show once, or None when the
    file was already there (its passwords are never shown again).
    """
    if path.exists():
        return None
    created = {name: (role, secrets.token_urlsafe(12)) for name, role in DEV_USERS}
    write_users(path, [User(name, role, hash_password(pw)) for name, (role, pw) in created.items()])
    return created
