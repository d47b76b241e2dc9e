"""Terminal output with rich: the replay summary and the checks with their evidence."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fw_audit.model import AuditReport, CheckResult, Finding, ReplaySummary, Status

#: How many findings per check the terminal shows (``--json`` has them all).
SHOW = 10


def summary_tables(summary: ReplaySummary) -> list[Table]:
    """Counts per event type and the invalid messages."""
    counts = Table(title=f"{summary.stream}: {summary.messages} messages, seq {summary.first_seq}.."
                         f"{summary.last_seq} ({summary.seconds:.2f} s)")
    counts.add_column("event type")
    counts.add_column("count", justify="right")
    for name, n in sorted(summary.counts.items()):
        counts.add_row(escape(name), str(n))
    tables = [counts]
    if summary.invalid:
        bad = Table(title=f"{len(summary.invalid)} invalid messages", style="red")
        bad.add_column("seq", justify="right")
        bad.add_column("subject")
        bad.add_column("reason")
        for inv in summary.invalid[:50]:
            bad.add_row(str(inv.seq), escape(inv.subject), escape(inv.reason))
        tables.append(bad)
    return tables


def _evidence(f: Finding) -> str:
    where = f"seq {f.seq}" if f.seq is not None else "-"
    extra = f" (also {', '.join(map(str, f.seqs[1:]))})" if len(f.seqs) > 1 else ""
    ids = " ".join(f"{k}={v}" for k, v in f.ids.items())
    return f"[bold]{where}[/bold]{extra}: {escape(f.reason)}" + (f" [dim]{escape(ids)}[/dim]" if ids else "")


def check_table(checks: list[CheckResult]) -> Table:
    """One row per check: verdict, how much was checked, the first evidence."""
    t = Table(title="Checks", show_lines=True)
    t.add_column("check", max_width=30)
    t.add_column("verdict", no_wrap=True)
    t.add_column("checked", justify="right")
    t.add_column("evidence / notes")
    for c in checks:
        verdict = ("[green]PASS[/green]" if c.status is Status.PASS else f"[red]FAIL ({len(c.failures)})[/red]"
                   if c.failures else "[yellow]SKIPPED[/yellow]")
        lines = [_evidence(f) for f in c.failures[:SHOW]]
        if len(c.failures) > SHOW:
            lines.append(f"… {len(c.failures) - SHOW} more (use --json)")
        if c.pending:
            lines.append(f"[yellow]{len(c.pending)} pending[/yellow] (not yet due), e.g. {_evidence(c.pending[0])}")
        lines += [f"[dim]{escape(n)}[/dim]" for n in c.notes]
        t.add_row(f"{c.name}\n[dim]{c.title}[/dim]", verdict, str(c.checked), "\n".join(lines))
    return t


def print_report(report: AuditReport, console: Console) -> None:
    """The whole verify result on the terminal."""
    for table in summary_tables(report.summary):
        console.print(table)
    console.print(check_table(report.checks))
    verdict = ("[green]ALL CHECKS PASS[/green]" if report.ok else "[red]CHECKS FAILED[/red]" if report.failed_checks
               else f"[yellow]NOT COMPLETE: SKIPPED {escape(', '.join(report.skipped_checks))}[/yellow]")
    console.print(f"{verdict} — source {escape(report.source)}, as of {report.as_of.isoformat()}")
