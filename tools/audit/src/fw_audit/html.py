"""A self-contained HTML report: checks, counts, events per day and the erasure delays.

Charts are inline SVG generated here: the file opens offline, loads nothing from anywhere
(no CDN, no script), and every text from the history is HTML-escaped.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from html import escape

from fw_audit.model import AuditReport, CheckResult, Finding

#: Upper bounds (seconds) of the erasure delay histogram's bins; the last bin is open.
DELAY_BINS: tuple[tuple[float, str], ...] = (
    (1, "< 1 s"), (5, "1–5 s"), (15, "5–15 s"), (30, "15–30 s"), (60, "30–60 s"), (300, "1–5 min"),
    (3600, "5 min–1 h"), (86400, "1 h–1 d"), (math.inf, "> 1 d"),
)


def delay_histogram(delays: list[float]) -> list[tuple[str, int]]:
    """Counts of erasure delays per bin of :data:`DELAY_BINS`."""
    counts = [0] * len(DELAY_BINS)
    for d in delays:
        for i, (upper, _) in enumerate(DELAY_BINS):
            if d < upper:
                counts[i] += 1
                break
    return [(label, counts[i]) for i, (_, label) in enumerate(DELAY_BINS)]


def bar_chart(bars: list[tuple[str, int]], *, title: str, width: int = 900, height: int = 240,
              label_every: int = 1) -> str:
    """An inline SVG bar chart with a title, a y-axis maximum and x labels."""
    left, bottom, top = 40, 40, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((v for _, v in bars), default=0) or 1
    n = max(len(bars), 1)
    step = plot_w / n
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
              f'aria-label="{escape(title)}">'),
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 10}" font-size="10" text-anchor="end">{peak}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>']
    for i, (label, value) in enumerate(bars):
        h = plot_h * value / peak
        x = left + i * step
        parts.append(f'<rect x="{x + step * 0.1:.1f}" y="{top + plot_h - h:.1f}" width="{max(step * 0.8, 1):.1f}" '
                     f'height="{h:.1f}" fill="#3b6ea5"><title>{escape(label)}: {value}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{top + plot_h + 14}" font-size="10" '
                         f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def per_day_bars(per_day: dict[str, int]) -> list[tuple[str, int]]:
    """Every day from the first to the last (quiet days as zero bars)."""
    if not per_day:
        return []
    days = sorted(per_day)
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    out, d = [], first
    while d <= last:
        out.append((d.isoformat(), per_day.get(d.isoformat(), 0)))
        d += timedelta(days=1)
    return out


def _finding_item(f: Finding) -> str:
    seq = f.seq if f.seq is not None else "–"
    also = escape(f" (also {', '.join(map(str, f.seqs[1:]))})") if len(f.seqs) > 1 else ""
    ids = escape(" ".join(f"{k}={v}" for k, v in f.ids.items()))
    return f"<li><b>seq {seq}</b>{also}: {escape(f.reason)} <small>{ids}</small></li>"


def _check_rows(checks: list[CheckResult]) -> str:
    rows = []
    for c in checks:
        cls, verdict = (("fail", f"FAIL ({len(c.failures)})") if c.failures else ("skipped", "SKIPPED")
                        if c.skipped is not None else ("pass", "PASS"))
        items = "".join(_finding_item(f) for f in c.failures[:200])
        more = f"<li>… {len(c.failures) - 200} more (JSON output has all)</li>" if len(c.failures) > 200 else ""
        pending = f"<p>{len(c.pending)} pending (not yet due)</p>" if c.pending else ""
        notes = "".join(f"<li class=note>{escape(n)}</li>" for n in c.notes)
        rows.append(f"<tr class={cls}><td><b>{escape(c.name)}</b><br><small>{escape(c.title)}</small></td>"
                    f"<td class=verdict>{verdict}</td><td>{c.checked}</td>"
                    f"<td><ul>{items}{more}</ul>{pending}<ul>{notes}</ul></td></tr>")
    return "".join(rows)


def render_html(report: AuditReport) -> str:
    """The full report as one HTML document."""
    s = report.summary
    days = per_day_bars(s.per_day)
    day_chart = bar_chart(days, title="Events per day", label_every=max(1, len(days) // 12))
    delay_chart = bar_chart(delay_histogram(report.erasure_delays), width=700,
                            title=f"Erasure delay after trigger / deadline ({len(report.erasure_delays)} erasures)")
    counts = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(s.counts.items()))
    verdict = ("ALL CHECKS PASS" if report.ok else "CHECKS FAILED" if report.failed_checks
               else f"NOT COMPLETE: SKIPPED {', '.join(report.skipped_checks)}")
    return f"""<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>fernwartung audit report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }}
tr.pass td.verdict {{ color: #17702b; font-weight: bold; }}
tr.fail td.verdict {{ color: #b00020; font-weight: bold; }}
tr.skipped td.verdict {{ color: #a06000; font-weight: bold; }}
.banner {{ font-size: 1.4em; font-weight: bold; color: {'#17702b' if report.ok else '#b00020' if report.failed_checks else '#a06000'}; }}
li.note {{ color: #666; }}
</style></head><body>
<h1>fernwartung audit report</h1>
<p class=banner>{verdict}</p>
<p>Source: {escape(report.source)} — stream {escape(s.stream)}, {s.messages} messages (seq {s.first_seq}..{s.last_seq})
— history judged as of {escape(report.as_of.isoformat())}</p>
<h2>Checks</h2>
<table><tr><th>check</th><th>verdict</th><th>checked</th><th>evidence (stream sequences, ids) and notes</th></tr>
{_check_rows(report.checks)}</table>
<h2>Timeline</h2>
<figure>{day_chart}</figure>
<figure>{delay_chart}</figure>
<h2>Events by type</h2>
<table><tr><th>event type</th><th>count</th></tr>{counts}</table>
<p><small>{len(s.invalid)} invalid messages. The report contains pseudonymous ids only.</small></p>
</body></html>
"""
