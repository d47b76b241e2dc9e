"""Users of the internal pages and their roles (pure: parsing and checks, no file or hash I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: Same shape as the technician id in the events: the technician's user name is what session
#: records as ``technician``.
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")


class Role(StrEnum):
    TECHNICIAN = "technician"
    OFFICE = "office"
    PRIVACY = "privacy"

    @property
    def label_de(self) -> str:
        """The German name of the role, as shown on the pages."""
        return _LABELS[self]

    @property
    def home(self) -> str:
        """The page a user of this role lands on after signing in."""
        return _HOMES[self]


_LABELS = {Role.TECHNICIAN: "Technik", Role.OFFICE: "Büro", Role.PRIVACY: "Datenschutz"}
_HOMES = {Role.TECHNICIAN: "/technik", Role.OFFICE: "/buero", Role.PRIVACY: "/datenschutz"}


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    password_hash: str


class UsersFileError(ValueError):
    """The users file is malformed. The message names the entry, never a hash."""


def valid_username(name: str) -> bool:
    """Whether ``name`` may be a user name (lower-case letters, digits, ``-``/``_``, 2–32)."""
    return bool(USERNAME.fullmatch(name))


def parse_users(data: Mapping[str, Any]) -> dict[str, User]:
    """The users of a parsed TOML document ``{"users": [{username, role, password_hash}]}``."""
    entries = data.get("users", [])
    if not isinstance(entries, list):
        raise UsersFileError("'users' must be an array of tables ([[users]])")
    users: dict[str, User] = {}
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise UsersFileError(f"users entry {i} is not a table")
        name, role, hashed = entry.get("username"), entry.get("role"), entry.get("password_hash")
        if not isinstance(name, str) or not valid_username(name):
            raise UsersFileError(f"users entry {i}: invalid or missing username")
        if role not in {r.value for r in Role}:
            raise UsersFileError(f"users entry {i} ({name}): role must be one of "
                                 + ", ".join(r.value for r in Role))
        if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
            raise UsersFileError(f"users entry {i} ({name}): password_hash must be an argon2 hash")
        if name in users:
            raise UsersFileError(f"users entry {i}: duplicate username {name}")
        users[name] = User(username=name, role=Role(role), password_hash=hashed)
    return users


def _toml_string(value: str) -> str:
    # A JSON string of printable ASCII is a valid TOML basic string; user names and argon2
    # hashes are both plain ASCII.
    if not value.isascii() or not value.isprintable():
        raise UsersFileError("only printable ASCII can be written")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dump_users(users: list[User]) -> str:
    """The TOML text of ``users`` (readable back by ``parse_users``)."""
    out = ["# fernwartung web: users of the internal pages (argon2 hashes; never store passwords)", ""]
    for u in users:
        out += ["[[users]]", f"username = {_toml_string(u.username)}", f"role = {_toml_string(u.role.value)}",
                f"password_hash = {_toml_string(u.password_hash)}", ""]
    return "\n".join(out)
