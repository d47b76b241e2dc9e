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
    "replay_vs_peer": "audit replay >= the eventsourcing library's replay, same run (1M events)",
    "replay_rate": "audit replay >= 130,000 validated events/s (goal)",
    "rss": "four services < 400 MB RSS together",
    "signin_p99": "pages under a sign-in attack (300 from 30 addresses): p99 < 200 ms, worst page and run",
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
        out.append(_t("replay_vs_peer", rp["full"]["replay_vs_peer"], 1.0, "ratio", True))
        out.append(_t("replay_rate", rp["full"]["audit_replay"], 130_000, "events/s", True))
    if si := s.get("signin"):
        out.append(_t("signin_p99", max(si["p99_ms"].values()), si["target_p99_ms"], "ms", False))
    return out


def _machine_cpu_ms(phase: dict[str, Any]) -> float | None:
    """CPU per lifecycle of everything the bench runs (services, nats-server, PostgreSQL, load
    generator); other people's processes on the machine are not in it (``machine_busy`` is the
    whole machine, neighbours included, and is left out)."""
    per = phase.get("cpu_ms_per_lifecycle")
    return round(sum(v for k, v in per.items() if k != "machine_busy"), 1) if per else None


def summary(s: dict[str, Any], machine_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The headline figures (None where the section did not run); ``host_loop_ms_lifecycles``
    is the host's speed around the lifecycle section (mean of before and after, see
    :func:`bench.machine.host_loop_ms`), to compare runs of different hours."""
    lc = s.get("lifecycles", {}).get("phases", {}).get("saturated")
    rp = s.get("replay", {}).get("full")
    ep = s.get("event_path")
    return {
        "lifecycles_per_s": lc["lifecycles_per_s"] if lc else None,
        "cpu_ms_per_lifecycle": _machine_cpu_ms(lc) if lc else None,
        "replay_events_per_s": rp["audit_replay"] if rp else None,
        "peer_replay_events_per_s": rp["peer_replay"] if rp else None,
        "replay_vs_peer": rp["replay_vs_peer"] if rp else None,
        "replay_vs_raw_callback": rp["replay_vs_raw_callback"] if rp else None,
        "replay_vs_raw_direct": rp["replay_vs_raw_direct"] if rp else None,
        "replay_cpu_us_per_event": (s["replay"].get("process_cpu_us_per_event", {}).get("audit_replay", {}).get("full")
                                    if rp else None),
        "peer_cpu_us_per_event": (s["replay"].get("process_cpu_us_per_event", {}).get("peer_replay", {}).get("full")
                                  if rp else None),
        "event_path_db_per_s": ep.get("platform_batched", ep.get("platform_insert", {})).get("median") if ep else None,
        "signin_attack_page_p99_ms": max(s["signin"]["p99_ms"].values()) if s.get("signin") else None,
        "host_loop_ms_lifecycles": _host_loop((machine_state or {}).get("lifecycles")),
    }


def _host_loop(state: dict[str, Any] | None) -> float | None:
    if not state or "host_loop_ms" not in state["before"] or "host_loop_ms" not in state["after"]:
        return None
    return round((float(state["before"]["host_loop_ms"]) + float(state["after"]["host_loop_ms"])) / 2, 1)


def _load(state: dict[str, Any] | None) -> str:
    """The machine's other load around a section, e.g. ``load 3.4→1.8, CPU busy 50→12 %, PSI cpu 25→9``."""
    if not state:
        return ""
    b, a = state["before"], state["after"]
    speed = (f", host loop {b['host_loop_ms']:g}→{a['host_loop_ms']:g} ms"
             if "host_loop_ms" in b and "host_loop_ms" in a else "")
    return (f"machine: load {b['loadavg_1m']:g}→{a['loadavg_1m']:g}, CPU busy {b['cpu_busy_pct_1s']:.0f}→"
            f"{a['cpu_busy_pct_1s']:.0f} %, PSI cpu {b['psi_cpu_some_avg10']}→{a['psi_cpu_some_avg10']}{speed}")


def _rate(x: dict[str, Any]) -> str:
    return f"{x['median']:,.0f} {x['unit']} (±{x['spread_pct']:.0f} %, n={len(x['runs'])})"


def _lat(x: dict[str, Any]) -> str:
    return f"p50 {x['p50_ms']:,.0f} / p95 {x['p95_ms']:,.0f} / p99 {x['p99_ms']:,.0f} ms (n={x['n']})"


def render(r: dict[str, Any]) -> str:
    s = r["sections"]
    rows: list[tuple[str, str, str]] = [((f"fernwartung bench, {r['mode']} run {r['date']} "
                                          f"(commit {r['git']['commit']}{' + changes' if r['git']['dirty'] else ''}); "
                                          f"{r['machine']['cpus']} cores, other processes at the start: "
                                          f"{', '.join(r['machine'].get('other_processes_top_cpu') or []) or 'none busy'}, disk "
                                          f"{r['machine']['fsync_per_s']:,.0f} fsync/s"), "", "")]
    ms = r.get("machine_state", {})
    if raw := s.get("raw"):
        rows += [("1. Raw limits (same run)", "", ""),
                 ("other load on the machine", _load(ms.get("raw")), "before→after the section"),
                 ("NATS JetStream publish, pipelined, acked", _rate(raw["nats_publish"]), "sync_interval: always"),
                 ("NATS ordered-consumer read, callback", _rate(raw["nats_ordered_read"]), "admin"),
                 ("NATS batched direct get, callback", _rate(raw["nats_direct_read"]), "batches of 5000"),
                 ("PostgreSQL unit of work, pool of 10", _rate(raw["pg_tx_pool10"]), "FOR UPDATE + INSERT + UPDATE"),
                 ("PostgreSQL unit of work, 1 connection", _rate(raw["pg_tx_single_conn"]), "")]
    if ep := s.get("event_path"):
        rows += [(f"2. One service's event path ({ep['events']:,} events, batch {ep['batch']})", "", ""),
                 ("other load on the machine", _load(ms.get("event_path")), "before→after the section"),
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
        if "faststream" in ep:
            rows += [("FastStream batch pull (MANUAL ack), decode, emits, no DB", _rate(ep["faststream"]),
                      (f"{100 * ep['ratio_faststream_vs_raw']:.0f} % of raw; ours without DB "
                       f"{ep['ratio_no_db_vs_faststream']:.2f}x"))]
    if lc := s.get("lifecycles"):
        for name, ph in lc["phases"].items():
            title = f"3. Lifecycles, {name}: offered {ph['offered_rate']:g}/s, {ph['window_s']:.0f} s window"
            rows += [(title, "", ""),
                     ("other load on the machine", _load(ms.get("lifecycles")), "before→after the section"),
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
                  f"services {sat['services_cpu_ms_per_lifecycle']} ms, all of the bench's {_machine_cpu_ms(sat)} ms")]
        for phase_name in ("saturated", "steady"):
            phase = lc["phases"].get(phase_name) or {}
            if st := (phase.get("statements") or {}).get("per_service"):
                rows += [(f"statements per lifecycle, {phase_name} (pg_stat_statements)",
                          ", ".join(f"{k} {v:.1f}" for k, v in st.items()), f"total {sum(st.values()):.1f}")]
            if pl := phase.get("per_lifecycle"):
                rows += [(f"messages and commits per lifecycle, {phase_name}",
                          f"NATS in {pl['nats_msgs_in']:.1f}, out {pl['nats_msgs_out']:.1f}",
                          f"PostgreSQL commits {pl['pg_commits']:.1f}")]
        if prof := sat.get("profile"):
            rows += [("6. Profiles (py-spy, after the window)", f"hottest: {sat['hottest_service']}",
                      str(prof.get("flamegraph") or prof.get("error")))]
    if rp := s.get("replay"):
        f, p = rp["full"], rp["prefix"]

        def vs(x: dict[str, Any]) -> str:
            return (f"{x['replay_vs_peer']:.2f}x the peer, {x['replay_vs_raw_callback']:.2f} of raw ordered, "
                    f"{x['replay_vs_raw_direct']:.2f} of raw direct")

        rows += [(f"4. Replay ({f['events']:,} events)", "", ""),
                 ("other load on the machine", _load(ms.get("replay")), "before→after the section"),
                 ("raw ordered push consumer, callback (admin)", f"{f['raw_ordered_read']:,.0f} msgs/s", "reference"),
                 ("raw batched direct get, callback (admin)", f"{f['raw_direct_read']:,.0f} msgs/s", "reference"),
                 ("peer: eventsourcing on PostgreSQL, with decode", f"{f['peer_replay']:,.0f} events/s",
                  f"read loop alone {f['peer_read_only']:,.0f}/s"),
                 (f"fernwartung audit replay (validating, audit user, {f.get('audit_workers', 1)} processes)",
                  f"{f['audit_replay']:,.0f} events/s", vs(f)),
                 *([("the same, one process (the CLI's default)", f"{f['audit_replay_one_process']:,.0f} events/s",
                     f"{f['audit_replay_one_process'] / f['peer_replay']:.2f}x the peer")]
                   if f.get("audit_replay_one_process") else []),
                 (f"first {p['events']:,}: raw ordered / raw direct", f"{_rate(p['raw_ordered_read'])}",
                  _rate(p["raw_direct_read"])),
                 (f"first {p['events']:,}: peer", _rate(p["peer_replay"]), ""),
                 (f"first {p['events']:,}: audit replay", _rate(p["audit_replay"]), vs(p)),
                 ]
        if cpu := rp.get("process_cpu_us_per_event"):
            a, q = cpu["audit_replay"]["full"], cpu["peer_replay"]["full"]
            rows += [("process CPU per event, full pass: audit replay / peer", f"{a:.1f} / {q:.1f} us",
                      f"{q / a:.2f}x the peer by CPU (steadier than rates on a shared machine)")]
            if one := cpu.get("audit_replay_one_process"):
                rows += [("process CPU per event, full pass: audit replay in one process", f"{one['full']:.1f} us",
                          f"{q / one['full']:.2f}x the peer by CPU")]
    if si := s.get("signin"):
        rows += [(f"7. Pages under a sign-in attack (300 wrong sign-ins, 30 addresses; {len(si['runs'])} runs)", "", ""),
                 ("other load on the machine", _load(ms.get("signin")), "before→after the section")]
        for i, run in enumerate(si["runs"], 1):
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(run["answers"].items()))
            rows += [*((f"run {i}: {path}", _lat(lat), "target p99 < 200 ms") for path, lat in run["pages"].items()),
                     (f"run {i}: the attempts", answers, f"429 answered in {_lat(run['limited'])}")]
    rows += [("Targets", "", "")]
    for t in r.get("targets", []):
        rows.append((t["target"], f"{t['value']} {t['unit']}", ("MET" if t["met"] else "MISSED")
                     + (f" ({100 * t['value_vs_goal']:.0f} % of goal)" if t["value_vs_goal"] is not None else "")))
    return table(rows)
