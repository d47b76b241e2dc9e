"""The services and their declared contracts."""

from __future__ import annotations

import importlib
from pathlib import Path

from fw_contracts.catalog import ServiceContract

#: Every service with a ``fw_<name>.contract`` module, in the order documents list them.
SERVICES: tuple[str, ...] = ("intake", "session", "billing", "retention", "reporting")


def load_contract(service: str) -> ServiceContract:
    """``fw_<service>.contract.CONTRACT`` (the service package must be installed)."""
    module = importlib.import_module(f"fw_{service}.contract")
    contract = module.CONTRACT
    if not isinstance(contract, ServiceContract) or contract.service != service:
        raise TypeError(f"fw_{service}.contract.CONTRACT is not the ServiceContract of {service!r}")
    return contract


def load_contracts(services: tuple[str, ...] = SERVICES) -> dict[str, ServiceContract]:
    return {svc: load_contract(svc) for svc in services}


def repo_root(start: Path | None = None) -> Path:
    """The checkout that holds ``shared/contracts``: from ``start`` (default: cwd) upwards."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "shared" / "contracts").is_dir() and (candidate / "services").is_dir():
            return candidate
    raise FileNotFoundError("not inside a fernwartung checkout (no shared/contracts above the cwd)")
