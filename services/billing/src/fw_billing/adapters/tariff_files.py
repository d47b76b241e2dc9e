"""Reads tariff files: the versions shipped in the package plus an optional directory.

The directory adds versions (e.g. an office's own price list); it may repeat a shipped version
only with identical content, because invoices already issued name that version.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from fw_billing.domain.tariff import Tariff, TariffCatalog, TariffError, tariff_from_mapping


def _parse(name: str, text: str) -> Tariff:
    version = name.removesuffix(".toml")
    try:
        # Decimal, not float: 24.10 must stay 24.10.
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise TariffError(f"tariff file {name!r} is not valid TOML: {exc}") from None
    return tariff_from_mapping(version, data)


def _files(folder: Traversable | Path) -> Iterable[tuple[str, str]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml") and entry.is_file():
            yield entry.name, entry.read_text(encoding="utf-8")


def shipped_tariffs() -> list[Tariff]:
    """The tariff versions that come with the package."""
    return [_parse(name, text) for name, text in _files(resources.files("fw_billing") / "tariffs")]


def load_catalog(selected: str | None = None, directory: Path | None = None) -> TariffCatalog:
    """All tariffs (package + ``directory``); ``selected`` or else the newest is current."""
    tariffs = shipped_tariffs()
    if directory is not None:
        if not directory.is_dir():
            raise TariffError(f"tariff directory {str(directory)!r} does not exist")
        tariffs += [_parse(name, text) for name, text in _files(directory)]
    return TariffCatalog(tariffs, selected)
