"""The audit reaches into no service: of the project's packages, ``tools/audit`` imports only the
public contracts and the shared platform (the archive format, the hash chain), plus the optional
privacy documentation generator. Everything it reads of a service is the stream or that service's
own ``audit_*`` views."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "fw_audit"
ALLOWED = {"fw_audit", "fw_contracts", "fw_platform",
           # optional: renders the retention map into a bundle from the documentation sources
           "fw_privacy"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("files", "import_module"):
            # importlib.resources.files("fw_x") / importlib.import_module("fw_x") reach in too
            roots |= {a.value.split(".")[0] for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return {r for r in roots if r.startswith("fw_")}


def test_the_audit_imports_no_service_package() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 10
    found = {str(p.relative_to(SRC)): _imported_roots(p) - ALLOWED for p in files}
    assert {p: r for p, r in found.items() if r} == {}


def test_the_scan_sees_a_reach_in() -> None:
    sample = SRC.parent.parent / "tests" / "unit" / "_reach_in_sample.py"
    sample.write_text('from fw_billing.adapters import keys\nimport importlib.resources as r\n'
                      'r.files("fw_intake")\n', encoding="utf-8")
    try:
        assert _imported_roots(sample) == {"fw_billing", "fw_intake"}
    finally:
        sample.unlink()
