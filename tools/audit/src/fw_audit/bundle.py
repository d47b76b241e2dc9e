"""The offline audit bundle (§147 Abs. 6 AO data carrier access).

Layout of a bundle directory::

    events.jsonl   one line per message: {"seq", "subject", "time", "body" | "body_b64", "chain"}
                   body = the stored bytes as text (exact: the hash chain covers them);
                   body_b64 only for a body that is not UTF-8; chain = hash chain after it (hex)
    stream.json    the stream's configuration and range at export, the export time
    schemas/       the JSON Schemas of every event contract (fw_contracts)
    tariffs/       (older bundles only) tariff files; the tariffs are TariffPublished events
    retention-map/ the retention map rendered from code (when fw_privacy is installed)
    invoices/      <number>.xml: billing's archived EN 16931 XMLs (and <number>.pdf with
                   --with-pdfs), when exported with archive access
    README.txt     this format, for the auditor
    manifest.json  sha256 of every file above; ``invoice_documents``: the index of the archived
                   documents (or why none are included)
    manifest.sig   only with ``export --signing-key``: the Ed25519 signature (64 raw bytes) over
                   the exact bytes of manifest.json
    manifest.sig.json  the signing key's fingerprint (sha256 of the raw public key) and the
                   manifest's SHA-256 at signing; neither signature file is listed in the manifest

``verify --bundle DIR`` needs only this directory (and this tool): no NATS, no database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fw_audit.chain import Chain, fingerprint, public_hex
from fw_audit.model import Record
from fw_contracts.schemas import SCHEMA_DIR

FORMAT = "fw-audit-bundle/1"
EVENTS = "events.jsonl"
MANIFEST = "manifest.json"
STREAM = "stream.json"
#: Only in a signed bundle (``export --signing-key``): the Ed25519 signature over manifest.json's
#: exact bytes (64 raw bytes), and who signed it (not listed in the manifest: written after it).
SIGNATURE = "manifest.sig"
SIGNATURE_INFO = "manifest.sig.json"
SIGNATURE_FORMAT = "fw-audit-manifest-signature/1"
#: The manifest's section on the invoice documents (fw_audit.checks.documents reads it).
DOCUMENTS = "invoice_documents"
NO_DOCUMENTS = ("exported without --database-url and --archive-key: the invoice documents (XML, PDF) "
                "are not in this bundle")

README = """fernwartung audit bundle ({format})

events.jsonl  every message of the event stream in sequence order, one JSON object per line:
              seq (stream sequence), subject, time (store time, UTC), body (the message exactly
              as stored, as text; body_b64 if it is not UTF-8), chain (hash chain value after
              this message: sha256(previous || seq as 8 bytes big-endian || subject ||
              sha256(body)), starting from 32 zero bytes)
stream.json   stream configuration (deny_delete, deny_purge) and range at the time of export
schemas/      JSON Schema of every event type (the contracts the events are checked against)
tariffs/      price lists by version (invoices name the version they were priced with)
retention-map/ the retention map from code: Art. 30 records, deletion concept, stored fields
invoices/     the invoices and cancellations exactly as billing archived them: <number>.xml is the
              EN 16931 CII XML (ZUGFeRD/Factur-X) of each e-invoice, <number>.pdf the PDF (only
              if exported with --with-pdfs). Present only if the export had archive access.
manifest.json SHA-256 of every file in this bundle; "invoice_documents" indexes the archived
              documents (type, year, e-invoice, files), the archive years destroyed after their
              retention period, or says that no invoice documents were included and why
manifest.sig  (only if the export was signed) Ed25519 signature, 64 raw bytes, over the exact
              bytes of manifest.json; manifest.sig.json names the key by its fingerprint
              (sha256 of the raw 32-byte public key). Get the public key from the operator
              through another channel, not from this bundle.

Check it with:  fernwartung audit verify --bundle <this directory> --public-key <KEY_FILE.pub>
                (--public-key: the signer's public key, for a signed bundle)
The events contain pseudonymous ids only; personal data are never part of the stream.
The invoice documents in invoices/ name their recipients: they are personal data (kept for the
tax audit, §147 AO). Keep this bundle as confidential as the invoices themselves.
"""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_line(record: Record, chain_hex: str) -> str:
    """One ``events.jsonl`` line."""
    row: dict[str, Any] = {"seq": record.seq, "subject": record.subject, "time": record.time.isoformat()}
    try:
        row["body"] = record.body.decode("utf-8")
    except UnicodeDecodeError:
        row["body_b64"] = base64.b64encode(record.body).decode()
    row["chain"] = chain_hex
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def _tariff_files() -> list[tuple[str, str]]:
    """No tariff files any more: the tariffs are in the history itself (``TariffPublished`` in
    ``events.jsonl``). An older bundle's ``tariffs/`` is still read by ``verify --bundle``."""
    return []


def _retention_map_files() -> list[tuple[str, str]]:
    """The retention map as rendered from code (Art. 30 records, deletion concept, field list)."""
    try:
        from fw_privacy.render import documents
    except ImportError:
        return []
    try:
        return sorted((name, text) for name, text in documents().items() if name.endswith(".md"))
    except Exception:  # noqa: BLE001 - no migrations to read where the audit runs: the bundle goes without
        return []


class BundleWriter:
    """Writes a bundle while the stream is read; :meth:`close` adds the manifest."""

    def __init__(self, directory: Path) -> None:
        if directory.exists() and any(directory.iterdir()):
            raise FileExistsError(f"{directory} is not empty")
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.chain = Chain()
        self.count = 0
        self._events: IO[str] = (directory / EVENTS).open("w", encoding="utf-8")

    def add_file(self, name: str, data: bytes) -> None:
        """Write one more file (e.g. ``invoices/<number>.xml``); the manifest will list it."""
        rel = Path(name)
        if rel.is_absolute() or not rel.parts or ".." in rel.parts or name in (MANIFEST, SIGNATURE, SIGNATURE_INFO):
            raise ValueError(f"not a bundle path: {name[:80]!r}")
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def add(self, record: Record) -> None:
        """Append one message (in sequence order)."""
        head = self.chain.add(record.seq, record.subject, record.body)
        self._events.write(record_line(record, head.hex()))
        self.count += 1

    def close(self, stream: dict[str, Any], exported_at: datetime,
              invoice_documents: dict[str, Any] | None = None,
              signing_key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        """Write schemas, tariffs, stream.json, README and the manifest; returns the manifest.

        ``invoice_documents``: the manifest's section on the archived invoice documents (see
        :mod:`fw_audit.archive`); None: none were included because the export had no archive access.
        ``signing_key``: also sign the manifest (:func:`sign_manifest`).
        """
        self._events.close()
        (self.dir / "schemas").mkdir()
        for schema in sorted(SCHEMA_DIR.glob("*.json")):
            shutil.copyfile(schema, self.dir / "schemas" / schema.name)
        tariffs = _tariff_files()
        if tariffs:
            (self.dir / "tariffs").mkdir()
            for name, text in tariffs:
                (self.dir / "tariffs" / name).write_text(text, encoding="utf-8")
        retention = _retention_map_files()
        if retention:
            (self.dir / "retention-map").mkdir()
            for name, text in retention:
                (self.dir / "retention-map" / name).write_text(text, encoding="utf-8")
        meta = {"format": FORMAT, "exported_at": exported_at.isoformat(), "messages": self.count,
                "last_seq": self.chain.seq, "chain_head": self.chain.head.hex(), "stream": stream}
        (self.dir / STREAM).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (self.dir / "README.txt").write_text(README.format(format=FORMAT), encoding="utf-8")
        files = {p.relative_to(self.dir).as_posix(): sha256_file(p) for p in sorted(self.dir.rglob("*"))
                 if p.is_file() and p.relative_to(self.dir).as_posix() not in UNLISTED}
        if invoice_documents is None:
            invoice_documents = {"included": False, "reason": NO_DOCUMENTS}
        manifest = {"format": FORMAT, "created_at": exported_at.isoformat(), "algorithm": "sha256",
                    "files": files, DOCUMENTS: invoice_documents}
        (self.dir / MANIFEST).write_bytes((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        if signing_key is not None:
            sign_manifest(self.dir, signing_key)
        return manifest


#: Files of a bundle that its manifest does not list (they are written after it).
UNLISTED = frozenset({MANIFEST, SIGNATURE, SIGNATURE_INFO})


def sign_manifest(directory: Path, key: Ed25519PrivateKey) -> dict[str, str]:
    """Sign the exact bytes of ``directory/manifest.json``: writes ``manifest.sig`` (the 64-byte
    Ed25519 signature) and ``manifest.sig.json`` (the key's fingerprint, the manifest's SHA-256).
    Returns the latter's content."""
    data = (directory / MANIFEST).read_bytes()
    (directory / SIGNATURE).write_bytes(key.sign(data))
    info = {"format": SIGNATURE_FORMAT, "algorithm": "Ed25519", "signed_file": MANIFEST,
            "signature_file": SIGNATURE, "key_fingerprint": fingerprint(public_hex(key)),
            "manifest_sha256": hashlib.sha256(data).hexdigest()}
    (directory / SIGNATURE_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return info


@dataclass
class Bundle:
    """A bundle opened for verification."""

    dir: Path
    meta: dict[str, Any]
    #: Problems with the manifest (missing/changed/unlisted files); empty when intact.
    manifest_problems: list[str] = field(default_factory=list)
    #: The same problems by file (bundle path -> problem).
    file_problems: dict[str, str] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def invoice_documents(self) -> dict[str, Any] | None:
        """The manifest's index of the invoice documents (None: an older bundle without one)."""
        section = self.manifest.get(DOCUMENTS)
        return section if isinstance(section, dict) else None

    @property
    def exported_at(self) -> datetime:
        return datetime.fromisoformat(self.meta["exported_at"])

    @property
    def stream_config(self) -> dict[str, Any]:
        return dict(self.meta.get("stream") or {})

    @property
    def tariff_dir(self) -> Path | None:
        d = self.dir / "tariffs"
        return d if d.is_dir() else None

    def rows(self) -> Iterator[tuple[Record, str]]:
        """``(record, recorded chain hex)`` for every line of ``events.jsonl``."""
        with (self.dir / EVENTS).open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                body = (row["body"].encode("utf-8") if "body" in row else base64.b64decode(row["body_b64"]))
                yield Record(int(row["seq"]), row["subject"], datetime.fromisoformat(row["time"]), body), row["chain"]

    def records(self) -> Iterator[Record]:
        """The messages in the bundle."""
        for record, _ in self.rows():
            yield record

    def recorded_chain(self) -> dict[int, bytes]:
        """The chain values written at export, by sequence (a reference for a later audit)."""
        return {record.seq: bytes.fromhex(chain) for record, chain in self.rows()}


def open_bundle(directory: Path) -> Bundle:
    """Open a bundle and check its manifest (problems are listed, not raised)."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    by_file: dict[str, str] = {}
    listed: dict[str, str] = manifest.get("files", {})
    for name, digest in sorted(listed.items()):
        path = directory / name
        if not path.is_file():
            by_file[name] = f"{name} listed in the manifest is missing"
        elif sha256_file(path) != digest:
            by_file[name] = f"{name} does not match its SHA-256 in the manifest"
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    for extra in sorted(present - set(listed) - UNLISTED):
        by_file[extra] = f"{extra} is not listed in the manifest"
    problems = [by_file[name] for name in sorted(by_file)]
    meta = json.loads((directory / STREAM).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        problems.append(f"unknown bundle format {str(meta.get('format'))[:40]!r}")
    return Bundle(directory, meta, problems, by_file, manifest)
