"""The printed table and the verdict on each target of the issue."""

from __future__ import annotations

from typing import Any

from bench.stats import table

TARGETS_TEXT = {
    "event_path_no_db": "event path without DB work >= 50 % of raw",
    "event_path_db": "event path with DB work >= 10,000 events/s",
    "lifecycles": "lifecycles >= 100/s sustained",
    "intake_p99": "intake request p99 < 100 ms (saturated phase)",
    "erasure_p99": "PersonalDataErased after InvoiceIssued p99 < 1 s (saturated phase)",
    "replay": "audit replay >= 50 % of raw ordered read (1M events)",
    "rss": "four services < 400 MB RSS together",
}


def _t(key: str, value: float | None, goal: float, unit: str, higher: bool) -> dict[str, Any]:
    met = value is not None and (value >= goal if higher else value < goal)
    return {"target": TARGETS_TEXT[key], "value": value, "goal": goal, "unit": unit, "met": met,
            "value_vs_goal": round(value / goal, 3) if value is not None and goal else None}


def targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    if ep := s.get("event_path"):
        out.append(_t("event_path_no_db", ep["ratio_no_db_vs_raw"], 0.5, "ratio", True))
        # "with database work through batching": the batched handler is the means the target names
        db = ep.get("platform_batched", ep["platform_insert"])
        out.append(_t("event_path_db", db["median"], 10_000, "events/s", True))
    if lc := s.get("lifecycles"):
        sat = lc["phases"]["saturated"]
        out.append(_t("lifecycles", sat["lifecycles_per_s"], 100, "lifecycles/s", True))
        out.append(_t("intake_p99", sat["intake_request"]["p99_ms"], 100, "ms", False))
        out.append(_t("erasure_p99", sat["erasure_after_invoice_issued"]["p99_ms"], 1000, "ms", False))
        out.append(_t("rss", lc["footprint"]["peak_rss_mb_total"], 400, "MB", False))
    if rp := s.get("replay"):
        out.append(_t("replay", rp["full"]["ratio_replay_vs_raw"], 0.5, "ratio", True))
    return out


def _rate(x: dict[str, Any]) -> str:
    return f"{x['median']:,.0f} {x['unit']} (±{x['spread_pct']:.0f} %, n={len(x['runs'])})"


def _lat(x: dict[str, Any]) -> str:
    return f"p50 {x['p50_ms']:,.0f} / p95 {x['p95_ms']:,.0f} / p99 {x['p99_ms']:,.0f} ms (n={x['n']})"


def render(r: dict[str, Any]) -> str:
    s = r["sections"]
    rows: list[tuple[str, str, str]] = [(f"fernwartung bench, {r['mode']} run {r['date']} "
                                         f"(commit {r['git']['commit']}{' + changes' if r['git']['dirty'] else ''}); "
                                         f"{r['machine']['cpus']} cores shared with other jobs, disk "
                                         f"{r['machine']['fsync_per_s']:,.0f} fsync/s", "", "")]
    if raw := s.get("raw"):
        rows += [("1. Raw limits (same run)", "", ""),
                 ("NATS JetStream publish, pipelined, acked", _rate(raw["nats_publish"]), "sync_interval: always"),
                 ("NATS ordered-consumer read", _rate(raw["nats_ordered_read"]), ""),
                 ("PostgreSQL unit of work, pool of 10", _rate(raw["pg_tx_pool10"]), "FOR UPDATE + INSERT + UPDATE"),
                 ("PostgreSQL unit of work, 1 connection", _rate(raw["pg_tx_single_conn"]), "")]
    if ep := s.get("event_path"):
        rows += [(f"2. One service's event path ({ep['events']:,} events, batch {ep['batch']})", "", ""),
                 ("raw nats-py consume-publish-ack", _rate(ep["raw"]), "reference"),
                 ("EventConsumer, handler without DB work", _rate(ep["platform_no_db"]),
                  f"{100 * ep['ratio_no_db_vs_raw']:.0f} % of raw (target >= 50 %)"),
                 ("EventConsumer, handler with one INSERT", _rate(ep["platform_insert"]),
                  f"{100 * ep['ratio_insert_vs_raw']:.0f} % of raw"),
                 ("EventConsumer, INSERT, emits nothing", _rate(ep["platform_projection"]),
                  "consumer alone, no publish")]
        if "platform_batched" in ep:
            rows += [("EventConsumer, batched handler: one INSERT per run, emits", _rate(ep["platform_batched"]),
                      f"{100 * ep['ratio_batched_vs_raw']:.0f} % of raw (target >= 10,000/s)"),
                     ("EventConsumer, batched handler, emits nothing", _rate(ep["platform_batched_projection"]),
                      "consumer alone, no publish")]
        rows += [("EventConsumer, handler does nothing", _rate(ep["platform_ceiling"]),
                  "the platform's own ceiling")]
    if lc := s.get("lifecycles"):
        for name, ph in lc["phases"].items():
            title = f"3. Lifecycles, {name}: offered {ph['offered_rate']:g}/s, {ph['window_s']:.0f} s window"
            rows += [(title, "", ""),
                     ("complete lifecycles/s", f"{ph['lifecycles_per_s']:.1f}"
                      + (f" (10 s slices: {_rate(ph['per_10s_slice'])})" if ph.get("per_10s_slice") else ""),
                      "target >= 100/s" if name == "saturated" else ""),
                     ("intake request", _lat(ph["intake_request"]), "target p99 < 100 ms"),
                     ("InvoiceIssued after SessionEnded", _lat(ph["invoice_after_session_ended"]), ""),
                     ("PersonalDataErased after InvoiceIssued", _lat(ph["erasure_after_invoice_issued"]),
                      "target p99 < 1 s"),
                     ("request created -> erasure seen", _lat(ph["lifecycle_total"]), ""),
                     ("failed / incomplete", f"{ph['failed']} / {ph['incomplete']}", str(ph["errors"] or ""))]
        sat = lc["phases"]["saturated"]
        fp = lc["footprint"]
        rows += [("5. Footprint (saturated phase)", "", ""),
                 ("peak RSS per service (MB)", ", ".join(f"{k} {v:.0f}" for k, v in fp["peak_rss_mb"].items()),
                  f"total {fp['peak_rss_mb_total']:.0f} MB (target < 400)"),
                 ("CPU ms per lifecycle",
                  ", ".join(f"{k} {v:.0f}" for k, v in (sat["cpu_ms_per_lifecycle"] or {}).items()),
                  f"services {sat['services_cpu_ms_per_lifecycle']} ms")]
        if prof := sat.get("profile"):
            rows += [("6. Profiles (py-spy, after the window)", f"hottest: {sat['hottest_service']}",
                      str(prof.get("flamegraph") or prof.get("error")))]
    if rp := s.get("replay"):
        f, p = rp["full"], rp["prefix"]
        rows += [(f"4. Replay ({f['events']:,} events)", "", ""),
                 ("raw ordered-consumer read", f"{f['raw_ordered_read']:,.0f} msgs/s", ""),
                 ("fernwartung audit replay (validating)", f"{f['audit_replay']:,.0f} events/s",
                  f"{100 * f['ratio_replay_vs_raw']:.0f} % of raw (target >= 50 %)"),
                 (f"same over the first {p['events']:,}: raw", _rate(p["raw_ordered_read"]), ""),
                 (f"same over the first {p['events']:,}: replay", _rate(p["audit_replay"]),
                  f"{100 * p['ratio_replay_vs_raw']:.0f} % of raw"),
                 ]
    rows += [("Targets", "", "")]
    for t in r.get("targets", []):
        rows.append((t["target"], f"{t['value']} {t['unit']}", ("MET" if t["met"] else "MISSED")
                     + (f" ({100 * t['value_vs_goal']:.0f} % of goal)" if t["value_vs_goal"] is not None else "")))
    return table(rows)
