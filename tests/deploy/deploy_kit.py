"""Helpers for the deployment checks: load deploy/ files and the settings classes they feed."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
CLUSTER = DEPLOY / "cluster" / "compose.cluster.yaml"

#: The services the image runs, their settings class and their port.
APP_SERVICES: tuple[str, ...] = ("intake", "session", "billing", "retention", "reporting", "web")
DB_SERVICES: tuple[str, ...] = ("intake", "session", "billing", "retention", "reporting")
SETTINGS_CLASS = {svc: f"fw_{svc}.settings:Settings" for svc in APP_SERVICES}


def load_deploy_module(name: str) -> ModuleType:
    """Import ``deploy/<name>.py`` (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"fw_deploy_{name}", DEPLOY / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def settings_class(service: str) -> Any:
    module, _, cls = SETTINGS_CLASS[service].partition(":")
    return getattr(importlib.import_module(module), cls)


def env_prefix(cls: Any) -> str:
    return str(cls.model_config.get("env_prefix", ""))


def env_names(cls: Any) -> dict[str, Any]:
    """``{FW_<SVC>_<FIELD>: field info}`` for every field of a settings class."""
    prefix = env_prefix(cls)
    return {f"{prefix}{name}".upper(): info for name, info in cls.model_fields.items()}


def required_env(cls: Any) -> set[str]:
    prefix = env_prefix(cls)
    return {f"{prefix}{name}".upper() for name, info in cls.model_fields.items() if info.is_required()}


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


_MOUNT_KEYS = ("volumes",)


def _merge(base: Any, over: Any, key: str = "") -> Any:
    """docker compose's merge rules, as far as these files use them: mappings merge key by key,
    ``volumes`` merge by container path, other lists are replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if key in _MOUNT_KEYS and isinstance(base, list) and isinstance(over, list):
        by_target = {mount_target(m): m for m in base}
        by_target.update({mount_target(m): m for m in over})
        return list(by_target.values())
    return over


def mount_target(mount: str) -> str:
    return mount.split(":")[1]


def merged_cluster() -> dict[str, Any]:
    return _merge(load_yaml(COMPOSE), load_yaml(CLUSTER))


_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def referenced_vars(text: str) -> set[str]:
    """Every ``${VAR…}`` in a compose file."""
    return set(_VAR.findall(text))


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:?msg}``, ``${VAR:-default}`` (enough for these files)."""

    def sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        name = m.group(1)
        if ":-" in whole and not env.get(name):
            return whole.split(":-", 1)[1][:-1]
        if name not in env or env[name] == "":
            raise KeyError(f"{name} is required but not set")
        return env[name]

    return _VAR.sub(sub, value)


def service_env(compose: Mapping[str, Any], service: str, values: Mapping[str, str]) -> dict[str, str]:
    """The container's environment after interpolation with ``values`` (the .env)."""
    raw = compose["services"][service].get("environment") or {}
    assert isinstance(raw, dict), f"{service}: environment must be a mapping"
    return {k: interpolate(str(v), values) for k, v in raw.items()}


def env_file_keys(path: Path, *, commented: bool = False) -> dict[str, str]:
    """``KEY=value`` lines of an env file; with ``commented`` also ``# KEY=value`` lines."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.strip()
        if commented and re.match(r"^#\s*[A-Z][A-Z0-9_]*=", text):
            text = text.lstrip("#").strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        key, _, value = text.partition("=")
        out[key.strip()] = value.strip()
    return out
