"""The current tariff in plain German for the customer form (billing's ``GET /api/tariff``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fw_web.domain.formatting import money


def _minutes(seconds: object) -> int:
    try:
        return max(0, int(str(seconds))) // 60
    except ValueError:
        return 0


def _percent(value: object) -> str:
    try:
        return f"{Decimal(str(value)).normalize():f}".replace(".", ",")
    except (InvalidOperation, ValueError):
        return str(value)


def price_text(tariff: dict[str, Any]) -> list[str]:
    """Sentences about the price: per interval (gross and net), minimum, free time, surcharges."""
    interval = _minutes(tariff.get("interval_seconds"))
    vat = _percent(Decimal(str(tariff.get("vat_rate", "0"))) * 100)
    lines = [(f"{money(tariff.get('rate_per_interval_gross'))} je angefangene {interval} Minuten "
              f"({money(tariff.get('rate_per_interval'))} netto zzgl. {vat} % USt).")]
    base = tariff.get("base_fee")
    if base not in (None, "0", "0.00"):
        lines.append(f"Dazu eine Grundgebühr von {money(base)} netto je Sitzung.")
    minimum = _minutes(tariff.get("min_billed_seconds"))
    if minimum:
        lines.append(f"Abgerechnet werden mindestens {minimum} Minuten.")
    free = _minutes(tariff.get("free_threshold_seconds"))
    if free:
        lines.append(f"Eine Sitzung unter {free} Minuten (z. B. ein abgebrochener Verbindungsaufbau) "
                     "berechnen wir nicht.")
    for s in tariff.get("surcharges") or []:
        if s.get("kind") == "evening":
            lines.append(f"{s.get('description')}: {_percent(s.get('percent'))} % bei Beginn zwischen "
                         f"{s.get('start')} und {s.get('until') or '24:00'} Uhr.")
        elif s.get("kind") == "weekend":
            lines.append(f"{s.get('description')}: {_percent(s.get('percent'))} % bei Beginn am Samstag "
                         "oder Sonntag.")
    return lines
