"""``fernwartung audit …``: the command line.

Exit codes: 0 every check passes (replay: no invalid message), 1 a check failed (replay: invalid
messages), 2 the audit could not run (connection, arguments, unreadable bundle), 3 no check failed
but a check was skipped (``projections`` without ``--database-url``; ``invoice_documents`` on a
bundle exported without archive access): that is not a pass.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from fw_audit.reading import Conn
from fw_audit.source import Until
from fw_contracts import STREAM_NAME

if TYPE_CHECKING:
    from rich.console import Console

    from fw_audit.model import AuditReport
    from fw_audit.verifier import VerifyOptions

app = typer.Typer(no_args_is_help=True, add_completion=False, help="fernwartung back-office tools")
audit = typer.Typer(no_args_is_help=True, help="Replay the event history and prove compliance, integrity "
                                               "and consistency.")
app.add_typer(audit, name="audit")


class _LazyConsole:
    """A rich console created on first use: ``replay --json`` never prints through one, and
    importing rich was a tenth of its start-up."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return getattr(self._console, name)


out = cast("Console", _LazyConsole(stderr=False))
err = cast("Console", _LazyConsole(stderr=True))
T = TypeVar("T")

NatsUrl = Annotated[str, typer.Option("--nats-url", envvar="NATS_URL", help="NATS server URL(s), comma-separated")]
User = Annotated[str | None, typer.Option("--user", envvar="NATS_USER", help="NATS user (read access suffices)")]
Password = Annotated[str | None, typer.Option("--password", envvar="NATS_PASSWORD", help="NATS password")]
Stream = Annotated[str, typer.Option("--stream", help="stream to audit")]
Subjects = Annotated[list[str] | None, typer.Option("--subjects", help="subject filter (repeatable); default fw.>")]
Reader = Annotated[str, typer.Option("--reader", help="direct (default: batched direct get, read-only; needs "
                                                      "allow_direct on the stream) or ordered (an ordered "
                                                      "consumer: needs admin credentials)")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="last stream sequence, or an ISO time "
                                                              "(store time) after which to stop")]
JsonOut = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(value: str) -> timedelta:
    """``90``/``90s``, ``5m``, ``2h``, ``14d``."""
    m = _DURATION.match(value)
    if not m:
        raise typer.BadParameter(f"not a duration: {value!r} (e.g. 60s, 5m, 2h, 14d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]
    return timedelta(seconds=float(m[1]) * unit)


def _conn(nats_url: str, user: str | None, password: str | None, stream: str, subjects: list[str] | None,
          reader: str) -> Conn:
    if reader not in ("ordered", "direct"):
        raise typer.BadParameter("--reader is direct or ordered")
    return Conn(url=nats_url, user=user, password=password, stream=stream,
                subjects=list(subjects) if subjects else ["fw.>"], reader=reader)


@contextmanager
def _progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; the callback is throttled (a long history has many ticks).

    Without a terminal on stderr (a script, the bench) rich would draw nothing (the bar is
    transient): then rich is not even imported.
    """
    if not enabled or not sys.stderr.isatty():
        yield lambda seq, end: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=True, disable=not enabled) as bar:
        task = bar.add_task(label, total=None)
        shown = 0

        def tick(seq: int, end: int) -> None:
            nonlocal shown
            if seq - shown >= 500 or seq >= end:  # by distance: a subject filter skips sequences
                shown = seq
                bar.update(task, completed=seq, total=end)

        yield tick


def _loop_run(coro: Coroutine[Any, Any, T]) -> T:
    """uvloop where installed (reading the stream is event-loop bound), else asyncio."""
    from fw_audit.parallel import run_loop

    return run_loop(coro)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return _guarded(lambda: _loop_run(coro))


def _guarded(work: Callable[[], T]) -> T:
    """``work()``; an error that stops the audit is printed and exits 2."""
    try:
        return work()
    except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(2) from None
    except Exception as exc:  # noqa: BLE001 - nats-py raises its own hierarchy (e.g. NoServersError, NotFoundError)
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(2) from None


Workers = Annotated[int, typer.Option("--workers", min=1, help="processes that read and check consecutive parts "
                                                               "of the range side by side (default 1; not with "
                                                               "--until TIME)")]


@audit.command()
def replay(nats_url: NatsUrl = "nats://127.0.0.1:4222", user: User = None, password: Password = None,
           stream: Stream = STREAM_NAME, subjects: Subjects = None, reader: Reader = "direct",
           until: UntilOpt = None, json_out: JsonOut = False, workers: Workers = 1) -> None:
    """Read the stream from sequence 1, decode every event (upcasting), count per type."""
    from fw_audit.parallel import replay_parallel

    conn = _conn(nats_url, user, password, stream, subjects, reader)
    stop = Until.parse(until)
    # No progress bar with workers: its drawing thread would be running while they are forked.
    with _progress("replay", enabled=workers == 1) as tick:
        summary = _guarded(lambda: replay_parallel(conn, stop, workers, tick))
    if json_out:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        from fw_audit.render import summary_tables

        for table in summary_tables(summary):
            out.print(table)
    raise typer.Exit(1 if summary.invalid else 0)


def _options(max_erasure_delay: str, abandon_after: str, abandon_slack: str, public_key: list[str] | None,
             reference: Path | None, tariff_dir: Path | None, database_url: str | None = None,
             billing_hold: str = "90d", delivery_hold: str = "14d") -> VerifyOptions:
    from fw_audit.chain import KeyFileError, read_public_key
    from fw_audit.runner import load_reference
    from fw_audit.tariff_files import TariffFileError, read_tariff_dir
    from fw_audit.verifier import VerifyOptions

    try:
        tariffs = read_tariff_dir(tariff_dir) if tariff_dir else {}
    except TariffFileError as exc:
        err.print(f"[red]error:[/red] --tariff-dir: {exc}")
        raise typer.Exit(2) from None
    note = f"{tariff_dir}: versions {', '.join(sorted(tariffs)) or 'none'}" if tariff_dir else ""
    try:
        trusted = frozenset(read_public_key(k) for k in public_key or [])
    except KeyFileError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    options = VerifyOptions(max_erasure_delay=parse_duration(max_erasure_delay),
                            abandon_after=parse_duration(abandon_after), abandon_slack=parse_duration(abandon_slack),
                            billing_hold=parse_duration(billing_hold),
                            delivery_hold=parse_duration(delivery_hold),
                            trusted_keys=trusted,
                            tariff_files=tariffs, tariff_files_note=note,
                            database_url=database_url or None)
    if reference is not None:
        options.reference, options.reference_name = load_reference(reference)
    return options


def parse_time(value: str) -> datetime:
    """An ISO 8601 time; naive means UTC."""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO time: {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _verify(conn: Conn, bundle: Path | None, until: str | None, as_of: str | None, options: VerifyOptions,
            show_progress: bool, tariff_dir: Path | None) -> AuditReport:
    from fw_audit.runner import verify_bundle, verify_stream
    from fw_audit.tariff_files import TariffFileError, read_tariff_dir

    stop = Until.parse(until)
    when = parse_time(as_of) if as_of else None
    with _progress("verify", show_progress) as tick:
        if bundle is None:
            return _run(verify_stream(conn, options, stop, when, tick))
        if tariff_dir is None and (bundle / "tariffs").is_dir():
            # an older bundle's own price lists (for invoices without a TariffPublished)
            try:
                options.tariff_files = read_tariff_dir(bundle / "tariffs")
            except TariffFileError as exc:
                err.print(f"[red]error:[/red] the bundle's tariffs: {exc}")
                raise typer.Exit(2) from None
            options.tariff_files_note = f"the bundle's tariffs/: versions {', '.join(sorted(options.tariff_files))}"
        try:
            bundle_report = verify_bundle(bundle, options, stop, when, tick)
        except (OSError, ValueError, KeyError) as exc:
            err.print(f"[red]error:[/red] bundle or database unreadable: {type(exc).__name__}: {exc}")
            raise typer.Exit(2) from None
        except Exception as exc:  # noqa: BLE001 - asyncpg's own hierarchy (authentication, unknown database, …)
            err.print(f"[red]error:[/red] database: {type(exc).__name__}")
            raise typer.Exit(2) from None
        return bundle_report


BundleOpt = Annotated[Path | None, typer.Option("--bundle", help="verify an exported bundle (no NATS)")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="end of the audited history (ISO time) for "
                                                          "pending vs. missing erasures; default now / "
                                                          "the --until point / the bundle's export time")]
MaxDelay = Annotated[str, typer.Option("--max-erasure-delay", help="allowed time from trigger to erasure")]
AbandonAfter = Annotated[str, typer.Option("--abandon-after", help="retention's abandonment deadline")]
AbandonSlack = Annotated[str, typer.Option("--abandon-slack", help="allowed lateness of the abandonment sweep")]
BillingHold = Annotated[str, typer.Option("--billing-hold", help="retention's billing hold: a request billing "
                                                                 "waits on (BillingBlocked) is erased at the latest "
                                                                 "this long after the first block")]
DeliveryHold = Annotated[str, typer.Option("--delivery-hold", help="retention's delivery hold: an e-mail "
                                                                   "address kept for an invoice's delivery is "
                                                                   "erased at the latest this long after the invoice")]
PublicKey = Annotated[list[str] | None, typer.Option("--public-key", help="trusted key (hex, KEY_FILE.pub or PEM "
                                                                           "public key), repeatable: checkpoints "
                                                                           "and, with --bundle, the manifest's "
                                                                           "signature (bundle_signature)")]
Reference = Annotated[Path | None, typer.Option("--reference", help="an earlier bundle: pinpoints the first "
                                                                    "altered message")]
TariffDir = Annotated[Path | None, typer.Option("--tariff-dir", help="tariff files (TOML) for invoices of an older "
                                                                    "history without TariffPublished events")]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", envvar="FW_AUDIT_DATABASE_URL",
                                                 help="DSN of the fernwartung database (admin or read-only) "
                                                      "for the projections check; without it that check is "
                                                      "skipped and verify exits 3, never 0")]


@audit.command()
def verify(nats_url: NatsUrl = "nats://127.0.0.1:4222", user: User = None, password: Password = None,
           stream: Stream = STREAM_NAME, subjects: Subjects = None, reader: Reader = "direct",
           bundle: BundleOpt = None, until: UntilOpt = None, as_of: AsOf = None,
           max_erasure_delay: MaxDelay = "60s", abandon_after: AbandonAfter = "14d", abandon_slack: AbandonSlack = "1h",
           billing_hold: BillingHold = "90d", delivery_hold: DeliveryHold = "14d",
           public_key: PublicKey = None, reference: Reference = None, tariff_dir: TariffDir = None,
           database_url: DatabaseUrl = None, json_out: JsonOut = False) -> None:
    """Run every check; exit 0 only when all pass (1 a failure, 3 a check skipped)."""
    conn = _conn(nats_url, user, password, stream, subjects, reader)
    options = _options(max_erasure_delay, abandon_after, abandon_slack, public_key, reference, tariff_dir,
                       database_url, billing_hold, delivery_hold)
    report = _verify(conn, bundle, until, as_of, options, not json_out, tariff_dir)
    if json_out:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        from fw_audit.render import print_report

        print_report(report, out)
    raise typer.Exit(report.exit_code)


@audit.command()
def report(html: Annotated[Path, typer.Option("--html", help="write the HTML report here")],
           nats_url: NatsUrl = "nats://127.0.0.1:4222", user: User = None, password: Password = None,
           stream: Stream = STREAM_NAME, subjects: Subjects = None, reader: Reader = "direct",
           bundle: BundleOpt = None, until: UntilOpt = None, as_of: AsOf = None,
           max_erasure_delay: MaxDelay = "60s", abandon_after: AbandonAfter = "14d", abandon_slack: AbandonSlack = "1h",
           billing_hold: BillingHold = "90d", delivery_hold: DeliveryHold = "14d",
           public_key: PublicKey = None, reference: Reference = None, tariff_dir: TariffDir = None,
           database_url: DatabaseUrl = None) -> None:
    """Verify and write a self-contained HTML report (exit code as for verify)."""
    from fw_audit.html import render_html

    conn = _conn(nats_url, user, password, stream, subjects, reader)
    options = _options(max_erasure_delay, abandon_after, abandon_slack, public_key, reference, tariff_dir,
                       database_url, billing_hold, delivery_hold)
    result = _verify(conn, bundle, until, as_of, options, True, tariff_dir)
    html.write_text(render_html(result), encoding="utf-8")
    skipped = ", ".join(result.skipped_checks)
    verdict = ("[green]all checks pass[/green]" if result.ok else "[red]checks failed[/red]"
               if result.failed_checks else f"[yellow]not complete: skipped {skipped}[/yellow]")
    out.print(f"report written to {html} — {verdict}")
    raise typer.Exit(result.exit_code)


#: ``fw_audit.archive.KEY_ENV`` (spelled out here so that the CLI starts without the archive's
#: imports; ``tests/unit/test_cli_startup.py`` checks they agree).
ARCHIVE_KEY_ENV = "FW_AUDIT_ARCHIVE_KEY"

ExportDatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", envvar="FW_AUDIT_DATABASE_URL",
    help="DSN with read access to billing's schema: adds billing's archived invoice XMLs to the bundle "
         "(needs --archive-key too)")]
ArchiveKey = Annotated[Path | None, typer.Option(
    "--archive-key", help=f"file with billing's archive master key (base64 of 32 bytes, as "
                          f"FW_BILLING_ARCHIVE_KEY); or the key itself in ${ARCHIVE_KEY_ENV}")]
WithPdfs = Annotated[bool, typer.Option("--with-pdfs", help="also add every archived PDF (invoices/<number>.pdf)")]
SigningKey = Annotated[Path | None, typer.Option(
    "--signing-key", help="Ed25519 private key (PEM, as from `audit keygen`, the checkpoint key format): "
                          "sign manifest.json (manifest.sig, manifest.sig.json)")]


@audit.command()
def export(directory: Annotated[Path, typer.Argument(help="new or empty directory for the bundle")],
           nats_url: NatsUrl = "nats://127.0.0.1:4222", user: User = None, password: Password = None,
           stream: Stream = STREAM_NAME, subjects: Subjects = None, reader: Reader = "direct",
           until: UntilOpt = None, database_url: ExportDatabaseUrl = None, archive_key: ArchiveKey = None,
           with_pdfs: WithPdfs = False, signing_key: SigningKey = None) -> None:
    """Write an offline audit bundle (§147 Abs. 6 AO): events.jsonl, schemas, invoice XMLs, manifest."""
    from fw_audit.archive import KEY_ENV, ArchiveError, ArchiveSource, load_archive_key
    from fw_audit.chain import KeyFileError, fingerprint, load_key, public_hex
    from fw_audit.runner import export_stream

    conn = _conn(nats_url, user, password, stream, subjects, reader)
    if directory.exists() and any(directory.iterdir()):
        err.print(f"[red]error:[/red] {directory} is not empty")
        raise typer.Exit(2)
    try:  # before anything is read or written
        signer = load_key(signing_key) if signing_key is not None else None
    except KeyFileError as exc:
        err.print(f"[red]error:[/red] --signing-key: {exc}; nothing was exported")
        raise typer.Exit(2) from None
    try:
        key = load_archive_key(archive_key)
    except ArchiveError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if (key is None) != (not database_url):
        missing = "--archive-key (or $" + KEY_ENV + ")" if key is None else "--database-url"
        err.print(f"[red]error:[/red] the invoice documents need both --database-url and --archive-key: "
                  f"{missing} is missing")
        raise typer.Exit(2)
    if with_pdfs and key is None:
        err.print("[red]error:[/red] --with-pdfs needs --database-url and --archive-key")
        raise typer.Exit(2)
    archive = ArchiveSource(database_url, key, with_pdfs) if key is not None and database_url else None
    with _progress("export") as tick:
        manifest = _run(export_stream(conn, directory, Until.parse(until), tick, archive, signer))
    documents: dict[str, Any] = manifest["invoice_documents"]  # type: ignore[assignment]
    out.print(f"bundle written to {directory}: {len(manifest['files'])} files "  # type: ignore[arg-type]
              f"(check it with: fernwartung audit verify --bundle {directory}"
              + (" --public-key KEY_FILE.pub)" if signer else ")"))
    if signer is not None:
        out.print(f"manifest signed: manifest.sig, key {fingerprint(public_hex(signer))}")
    else:
        out.print("[yellow]manifest NOT signed[/yellow] (no --signing-key): verify --bundle reports "
                  "bundle_signature as SKIPPED")
    if not documents.get("included"):
        out.print("[yellow]invoice documents NOT included[/yellow] (no --database-url/--archive-key): "
                  "verify --bundle reports that check as SKIPPED")
        return
    destroyed = ", ".join(f"{y} ({d['in_bundle']} documents)" for y, d in documents["destroyed_years"].items())
    out.print(f"invoice documents: {documents['xml_count']} XMLs, {documents['pdf_count']} PDFs"
              + (f"; archive destroyed after the retention period: {destroyed}" if destroyed else ""))
    problems = [f"{n}: {e['problem']}" for n, e in documents["documents"].items() if e.get("problem")]
    for problem in problems[:20]:
        err.print(f"[yellow]warning:[/yellow] {problem}")
    if len(problems) > 20:
        err.print(f"[yellow]warning:[/yellow] {len(problems) - 20} more documents with problems (see manifest.json)")


@audit.command()
def checkpoint(key_file: Annotated[Path, typer.Option("--key-file", help="Ed25519 private key (PEM)")],
               nats_url: NatsUrl = "nats://127.0.0.1:4222", user: User = None, password: Password = None,
               stream: Stream = STREAM_NAME) -> None:
    """Publish a signed AuditCheckpoint over the stream as it is now (needs publish permission)."""
    from fw_audit.runner import publish_checkpoint

    conn = Conn(url=nats_url, user=user, password=password, stream=stream)
    with _progress("checkpoint") as tick:
        seq, event = _run(publish_checkpoint(conn, key_file, tick))
    out.print(f"checkpoint over seq 1..{event.checkpoint_seq} published at seq {seq}: "
              f"chain {event.chain_hash}, key {event.public_key}")


@audit.command()
def keygen(key_file: Annotated[Path, typer.Argument(help="where to write the private key (PEM, 0600)")]) -> None:
    """Create an Ed25519 key pair for checkpoints (public key also in KEY_FILE.pub)."""
    from fw_audit.chain import generate_key

    try:
        public = generate_key(key_file)
    except FileExistsError:
        err.print(f"[red]error:[/red] {key_file} exists; refusing to overwrite a checkpoint key")
        raise typer.Exit(2) from None
    out.print(f"private key: {key_file}\npublic key:  {public}  (also in {key_file}.pub; pin it with --public-key)")


def main() -> None:
    """Console script entry point ``fernwartung``."""
    app()


if __name__ == "__main__":
    main()
