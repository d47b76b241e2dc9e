"""Every service has the one skeleton of ``docs/adding-a-service.md`` ("The skeleton").

Read from the source (AST) and by building each service without connecting anything:
``bootstrap.build(settings) -> App``, one ``Settings`` class, the handler table in
``application/consumers.py``, no use cases and no construction cycles in bootstrap.
"""

from __future__ import annotations

import ast
import base64
import importlib
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic_settings import BaseSettings

from fw_platform.app import App
from fw_platform.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "adding-a-service.md").read_text(encoding="utf-8")
SERVICES = ("intake", "session", "billing", "retention", "reporting", "web")
#: Web has no NATS, no database and no application layer: it renders pages over the services' APIs.
WITHOUT_RUNTIME = {"web"}


def _package(svc: str) -> Path:
    return ROOT / "services" / svc / "src" / f"fw_{svc}"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _settings(svc: str) -> BaseSettings:
    """The service's settings with the required secrets given (nothing read from the env matters)."""
    key = base64.b64encode(os.urandom(32)).decode()
    extra: dict[str, Any] = {"billing": {"archive_key": key}, "retention": {"master_key": key}}.get(svc, {})
    settings_cls = importlib.import_module(f"fw_{svc}.settings").Settings
    settings: BaseSettings = settings_cls(http_port=0, **extra)
    return settings


@pytest.mark.parametrize("svc", SERVICES)
def test_settings_is_one_class_named_settings(svc: str) -> None:
    tree = _tree(_package(svc) / "settings.py")
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == ["Settings"], classes
    module = importlib.import_module(f"fw_{svc}.settings")
    config = module.Settings.model_config
    assert config["env_prefix"] == f"FW_{svc.upper()}_"
    assert config["frozen"] is True and config["extra"] == "ignore"


@pytest.mark.parametrize("svc", SERVICES)
def test_bootstrap_has_build_and_no_use_cases(svc: str) -> None:
    tree = _tree(_package(svc) / "bootstrap.py")
    public = [n.name for n in tree.body
              if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not n.name.startswith("_")]
    assert public == ["build"], public
    assert not [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], "no classes in bootstrap"
    build = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "build")
    first = build.args.args[0]
    assert first.arg == "settings" and ast.unparse(first.annotation or ast.Constant(None)) == "Settings"
    assert ast.unparse(build.returns or ast.Constant(None)).startswith("App[")
    for node in ast.walk(tree):
        # a use case opens a transaction; bootstrap only wires (the application modules open them)
        assert not isinstance(node, ast.AsyncWith), f"line {node.lineno}: a transaction in bootstrap"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr != "unit_of_work", f"line {node.lineno}: a unit of work opened in bootstrap"


@pytest.mark.parametrize("svc", SERVICES)
def test_bootstrap_builds_without_cycles(svc: str) -> None:
    """No holder dicts, no attribute set on a built part afterwards (``x.y = z`` wires a cycle):
    only the HTTP app's state may be written; parts are passed to constructors in order."""
    tree = _tree(_package(svc) / "bootstrap.py")
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else []
        for target in targets:
            assert not isinstance(target, ast.Subscript), f"line {target.lineno}: item assignment in bootstrap"
            if isinstance(target, ast.Attribute):
                assert ast.unparse(target.value).endswith(".state"), \
                    f"line {target.lineno}: {ast.unparse(target)} set after construction"


@pytest.mark.parametrize("svc", sorted(set(SERVICES) - WITHOUT_RUNTIME))
def test_handler_table_is_in_application(svc: str) -> None:
    consumers = _package(svc) / "application" / "consumers.py"
    tree = _tree(consumers)
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")] == \
        ["consumers"]
    bootstrap = (_package(svc) / "bootstrap.py").read_text(encoding="utf-8")
    assert f"from fw_{svc}.application.consumers import consumers" in bootstrap
    assert "register(" in bootstrap and ".consume(" not in bootstrap


@pytest.mark.parametrize("svc", SERVICES)
def test_build_returns_an_app_and_connects_nothing(svc: str) -> None:
    bootstrap = importlib.import_module(f"fw_{svc}.bootstrap")
    extra: dict[str, Any] = {"users": {}} if svc == "web" else {}
    app = bootstrap.build(_settings(svc), **extra)
    assert isinstance(app, App) and isinstance(app.http, FastAPI)
    assert app.http.state.app is app and app.http.state.runtime is app.runtime
    if svc in WITHOUT_RUNTIME:
        assert app.runtime is None
        return
    assert isinstance(app.runtime, Runtime) and app.runtime.service == svc
    table = importlib.import_module(f"fw_{svc}.application.consumers")
    registered = [name for name, _ in app.runtime._consumer_specs]
    assert registered and len(registered) == len(set(registered))
    assert table.consumers.__module__ == f"fw_{svc}.application.consumers"
    with pytest.raises(AssertionError, match="runtime not started"):
        app.runtime.pool  # noqa: B018 - nothing connected at build time


@pytest.mark.parametrize("svc", SERVICES)
def test_entry_point_serves_build(svc: str) -> None:
    main = _package(svc) / ("cli.py" if svc == "web" else "__main__.py")
    text = main.read_text(encoding="utf-8")
    assert f"from fw_{svc}.bootstrap import" in text and "build(settings).http" in text


def test_the_guide_describes_the_skeleton() -> None:
    for words in ("bootstrap.build(settings) -> App", "`Settings`", "application/consumers.py",
                  "fw_platform.app", "on_start", "background", "on_stop", "register(runtime, consumers(",
                  "fw_platform.keys", "no use cases"):
        assert words in GUIDE, words
