"""Tariff files (``<version>.toml``, billing's format) read into the public contract's content.

Only the fallback for histories from before billing published its tariffs (``TariffPublished``):
``--tariff-dir DIR``. The audit needs no billing code for it.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from fw_contracts.reference import TariffContent


class TariffFileError(ValueError):
    """A tariff file that cannot be read; names the file and fields, never more."""


def read_tariff(path: Path) -> TariffContent:
    """One tariff file; the version is the file name (a ``version`` key must match it)."""
    version = path.name.removesuffix(".toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TariffFileError(f"tariff file {path.name!r} cannot be read: {type(exc).__name__}") from None
    if data.pop("version", version) != version:
        raise TariffFileError(f"tariff file {path.name!r} declares another version")
    surcharges = [{("start" if k == "from" else k): v for k, v in s.items()} for s in data.pop("surcharges", [])]
    try:
        return TariffContent.model_validate({"version": version, **data, "surcharges": surcharges})
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) + ":" + e["type"] for e in exc.errors())
        raise TariffFileError(f"tariff {version!r} is invalid: {fields}") from None


def read_tariff_dir(directory: Path) -> dict[str, TariffContent]:
    """Every ``*.toml`` of ``directory`` by version."""
    if not directory.is_dir():
        raise TariffFileError(f"tariff directory {str(directory)!r} does not exist")
    return {t.version: t for t in (read_tariff(p) for p in sorted(directory.glob("*.toml")))}
