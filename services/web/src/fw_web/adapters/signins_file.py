"""Server-side sign-in records: what makes signing out final, kept in a small JSON file.

The cookie is signed, not stored, so on its own signing out could not end it: a copy of the
cookie stayed valid until it expired (12 h). Now every sign-in gets a random id, the cookie
carries it, and the server keeps a record of each sign-in that is still open: a cookie counts
only while its record exists. Signing out deletes the record, so the cookie (and every copy of
it) is refused from then on, while the same user's sign-in in another browser stays open.
Records expire with the cookie and are dropped at the next write.

It fails closed: a lost file ends every sign-in (everyone signs in again), it never revives
one. Only a SHA-256 of each id is stored, so reading the file does not give a usable cookie
(which also needs the signing key).

Why a file and not a database: web has no database and no NATS connection of its own (it is a
backend-for-frontend), and a handful of records per staff member do not justify one. The
deployment keeps the file on web's data volume, which all instances share; every check reads
it again (a few kilobytes from the page cache), writers take an exclusive lock on a lock file
beside it and replace the file atomically, so instances never lose each other's writes and a
reader never sees half a file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The file's format version: ``{"version": 1, "signins": {"<sha256 hex>": {"user", "until"}}}``.
VERSION = 1


class SignInsFileError(ValueError):
    """The file exists but cannot be read as sign-in records (the message names the path)."""


def _digest(signin_id: str) -> str:
    return hashlib.sha256(signin_id.encode()).hexdigest()


class SignInRecords:
    """The open sign-ins, in ``path``. ``open``/``close`` block (lock, fsync): call them in a
    thread from async code; ``is_open`` only reads."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._clock = clock
        self._mutex = threading.Lock()

    def open(self, username: str, max_age_s: int) -> str:
        """Record a new sign-in of ``username`` for ``max_age_s`` seconds; returns its id."""
        signin_id = secrets.token_urlsafe(32)
        with self._writing() as records:
            records[_digest(signin_id)] = {"user": username, "until": int(self._clock()) + max_age_s}
        return signin_id

    def close(self, signin_id: str) -> None:
        """End the sign-in ``signin_id`` (nothing happens if it is not open)."""
        with self._writing() as records:
            records.pop(_digest(signin_id), None)

    def close_all(self, username: str) -> int:
        """End every sign-in of ``username`` (e.g. after a new password); returns how many."""
        with self._writing() as records:
            ended = [k for k, r in records.items() if r["user"] == username]
            for key in ended:
                del records[key]
        return len(ended)

    def is_open(self, signin_id: object, username: str) -> bool:
        """Whether ``signin_id`` is an open, unexpired sign-in of ``username``."""
        if not isinstance(signin_id, str) or not signin_id:
            return False
        record = self._read().get(_digest(signin_id))
        return record is not None and record["user"] == username and record["until"] > self._clock()

    @contextmanager
    def _writing(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._mutex, open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            now = self._clock()
            records = {k: r for k, r in self._read().items() if r["until"] > now}
            yield records
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": VERSION, "signins": records}, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
            records = data["signins"]
            if data.get("version") != VERSION or not isinstance(records, dict) or not all(
                    isinstance(r, dict) and isinstance(r.get("user"), str) and type(r.get("until")) is int
                    for r in records.values()):
                raise ValueError("unexpected content")
        except (ValueError, KeyError, TypeError) as exc:
            # Fail closed: no page is served on a guess about who is signed in.
            raise SignInsFileError(f"{self.path}: not a sign-in records file ({type(exc).__name__})") from None
        return dict(records)
