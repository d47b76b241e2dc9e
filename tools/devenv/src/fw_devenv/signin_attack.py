"""Wrong sign-ins from 30 loopback addresses against a running web process, while a probe
measures the pages (issue 14, finding 2).

Used twice: ``tests/load`` checks what the attack must never do (a 5xx, a hang, a page that
stops answering, a 429 that waits); ``make bench`` reports the pages' latency under the attack
against the speed target (p99 < 200 ms), on a quiet machine, where a latency figure means
something. Loopback only: the addresses are 127.0.0.10–39, real source addresses (the web
process must not trust X-Forwarded-For for them to count as 30 clients).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from dataclasses import dataclass, field

import httpx

ADDRESSES = [f"127.0.0.{i}" for i in range(10, 40)]
ATTEMPTS_PER_ADDRESS = 10
#: Each address sends one attempt about every second (a steady attack, not one burst that is
#: over before the first password check ends).
PACE_S = 1.0
#: The whole attack must end within this on a quiet machine; it is paced to take ~10 s. On a
#: busy one the password checks (nice +10: they get the CPU others leave) take longer, and so
#: do the sign-ins queued behind them.
ATTACK_LIMIT_S = 60.0
#: The pages' target under the attack (``make bench``).
P99_TARGET_S = 0.200
PROBED = ("/healthz", "/")


@dataclass
class Probe:
    """Requests each page again and again from 127.0.0.1 until stopped (in its own thread, so
    the attackers' event loop does not delay the measurement)."""

    url: str
    limit_s: float = ATTACK_LIMIT_S
    latencies: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PROBED})
    failures: list[tuple[str, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=self.limit_s) as http:
            while not self.stop.is_set():
                for path in self.latencies:
                    started = time.perf_counter()
                    resp = http.get(path)
                    self.latencies[path].append(time.perf_counter() - started)
                    if resp.status_code != 200:
                        self.failures.append((path, resp.status_code))
                self.stop.wait(0.02)


@dataclass
class Attack:
    """What the attack got back, and what the probe measured meanwhile."""

    #: (status code, seconds, Retry-After) of every attempt
    answers: list[tuple[int, float, str | None]]
    probe: Probe
    seconds: float

    @property
    def codes(self) -> list[int]:
        return [code for code, _, _ in self.answers]

    @property
    def limited_seconds(self) -> list[float]:
        return [seconds for code, seconds, _ in self.answers if code == 429]


async def _attacker(url: str, address: str, password: str, answers: list[tuple[int, float, str | None]],
                    limit_s: float) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, base_url=url, timeout=limit_s) as http:
        page = await http.get("/anmelden")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the sign-in page"
        await asyncio.sleep(random.uniform(0, PACE_S))
        for _ in range(ATTEMPTS_PER_ADDRESS):
            started = time.perf_counter()
            resp = await http.post("/anmelden", data={"username": "technik", "password": password,
                                                      "csrf_token": token.group(1)})
            answers.append((resp.status_code, time.perf_counter() - started, resp.headers.get("retry-after")))
            await asyncio.sleep(PACE_S)


async def attack(url: str, *, wrong_password: str = "falsch-geraten", limit_s: float = ATTACK_LIMIT_S) -> Attack:
    """300 wrong sign-ins as user ``technik`` from 30 addresses, the probe running meanwhile;
    ``TimeoutError`` when they take longer than ``limit_s`` in all."""
    probe = Probe(url, limit_s=limit_s)
    thread = threading.Thread(target=probe.run, name="latency-probe")
    thread.start()
    answers: list[tuple[int, float, str | None]] = []
    try:
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(_attacker(url, a, wrong_password, answers, limit_s)
                                                for a in ADDRESSES)), limit_s)
        seconds = time.monotonic() - started
    finally:
        probe.stop.set()
        await asyncio.to_thread(thread.join, 30)
    return Attack(answers, probe, seconds)
