"""Small helpers shared by the server wrappers: ports, waiting, process checks."""

from __future__ import annotations

import errno
import os
import socket
import time
from pathlib import Path


class DevEnvError(RuntimeError):
    """Something in the dev environment could not be started/stopped."""


class PortInUseError(DevEnvError):
    """The requested TCP port is already taken by a process we do not own."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on *host* that is free right now (the OS picks it).

    There is an unavoidable race between this call and the server binding the
    port; in practice the kernel does not hand out the same ephemeral port
    again immediately.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port (bind test with SO_REUSEADDR, which
    both nats-server and postgres set, so TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_port_free(port: int, host: str, what: str) -> None:
    if not port_is_free(port, host):
        raise PortInUseError(
            f"{what}: port {host}:{port} is already in use by another process "
            f"(not one started by fw_devenv for this data dir). Stop that process "
            f"or choose another port."
        )


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
            if fields and fields[0] == b"Z":
                return False
    except OSError:
        pass
    return True


def proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def wait_pid_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def tail(path: Path, lines: int = 30) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(data[-lines:])


def make_traversable(path: Path) -> None:
    """Add o+x to *path* and every parent so an unprivileged user can reach
    files below it. Only adds the search bit, never removes anything."""
    path = path.resolve()
    for p in [path, *path.parents]:
        try:
            mode = p.stat().st_mode
        except OSError:
            continue
        if not mode & 0o001:
            os.chmod(p, (mode & 0o7777) | 0o001)
