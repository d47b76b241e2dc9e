"""``python -m bench [--quick] [--only SECTION ...]``: run, print the table, write the results file."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import event_path, lifecycle, machine, raw, replay, signin
from bench.infra import Infra
from bench.report import render, summary, targets

RESULTS = Path(__file__).parent / "results"
SECTIONS = ("raw", "event_path", "lifecycles", "replay", "signin")

#: (official, --quick)
PLAN: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "raw": ({"nats_messages": 20_000, "pg_seconds": 3.0, "runs": 3},
            {"nats_messages": 5_000, "pg_seconds": 1.0, "runs": 2}),
    "event_path": ({"events": 10_000, "runs": 3}, {"events": 3_000, "runs": 2}),
    "lifecycles": ({"saturate_s": 60.0, "steady_s": 30.0, "warmup": 10.0, "profile_s": 15.0, "in_flight": 100},
                   {"saturate_s": 10.0, "steady_s": 10.0, "warmup": 3.0, "profile_s": 5.0, "in_flight": 100}),
    "replay": ({"events": 1_000_000, "prefix": 100_000, "prefix_runs": 3},
               {"events": 100_000, "prefix": 20_000, "prefix_runs": 2}),
    "signin": ({"runs": 3}, {"runs": 1}),
}
#: The offered rate of the saturation phase: the target itself.
TARGET_RATE = 100.0


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent,
                              check=False).stdout.strip()

    # the bench's own output (results, profiles; a failed run leaves its profiles) is not a change
    # of the code measured
    return {"commit": run("rev-parse", "--short", "HEAD"),
            "dirty": bool(run("status", "--porcelain", "--", ":/", ":(exclude,top)bench/results"))}


async def _section(name: str, infra: Infra, cfg: dict[str, Any], stamp: str) -> dict[str, Any]:
    if name == "raw":
        return (await raw.nats_limits(infra, cfg["nats_messages"], cfg["runs"])
                | await raw.pg_limits(infra, cfg["pg_seconds"], cfg["runs"]))
    if name == "event_path":
        return await event_path.event_path(infra, cfg["events"], cfg["runs"])
    if name == "lifecycles":
        return await lifecycle.lifecycles(
            infra, saturate=(TARGET_RATE, cfg["saturate_s"]), steady_s=cfg["steady_s"], warmup=cfg["warmup"],
            in_flight=cfg["in_flight"], profile_s=cfg["profile_s"], profiles_dir=RESULTS / "profiles", stamp=stamp)
    if name == "replay":
        return await replay.replay(infra, cfg["events"], cfg["prefix"], cfg["prefix_runs"])
    if name == "signin":
        return await signin.signin(infra, cfg["runs"])
    raise ValueError(name)


def _note() -> str:
    """What the machine was doing when the run started (the before/after of each section is in
    ``machine_state``): a run is called quiet only if nothing else kept the CPUs busy."""
    state = machine.snapshot()
    quiet = state["cpu_busy_pct_1s"] < 10 and state["loadavg_1m"] < 0.5
    head = "quiet machine at the start" if quiet else "machine busy with other work at the start (figures are noisy)"
    return (f"{head}: load {state['loadavg_1m']}, CPU busy {state['cpu_busy_pct_1s']} %; "
            "see machine_state (load, CPU/IO pressure) before and after each section.")


async def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    if args.quick:
        stamp += "-quick"
    elif args.out or args.only:
        # not the official run: its profiles must not replace the official run's of the day
        stamp += "-adhoc"
    infra = Infra()
    infra.root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "mode": "quick" if args.quick else "official",
        "git": _git(), "machine": machine.describe(infra.root),
        "note": _note(),
        "machine_state": {}, "sections": {}, "section_seconds": {},
    }
    print(f"bench ({results['mode']}): machine {results['machine']}", flush=True)
    await asyncio.to_thread(infra.start)
    try:
        for name in args.only or SECTIONS:
            cfg = PLAN[name][1 if args.quick else 0]
            print(f"-- {name} {cfg}", flush=True)
            before = await asyncio.to_thread(machine.snapshot)
            t = time.perf_counter()
            results["sections"][name] = await _section(name, infra, cfg, stamp)
            results["section_seconds"][name] = round(time.perf_counter() - t, 1)
            after = await asyncio.to_thread(machine.snapshot)
            results["machine_state"][name] = {"before": before, "after": after}
    finally:
        await asyncio.to_thread(infra.stop)
    results["targets"] = targets(results["sections"])
    results = {"summary": summary(results["sections"], results["machine_state"]), **results}
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nresults: {out}  ({results['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about 2 minutes)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--out", help="results file (default bench/results/<date>.json)")
    logging.basicConfig(level=logging.ERROR)  # the platform's own warnings (disconnects on close) are noise here
    args = parser.parse_args()
    # The services run under uvicorn, which picks uvloop when it is installed (fw_platform
    # depends on it): the in-process parts (raw loops, event path) run on the same loop.
    try:
        import uvloop
    except ImportError:
        raise SystemExit(asyncio.run(main(args))) from None
    raise SystemExit(uvloop.run(main(args)))
