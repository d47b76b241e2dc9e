"""Proof that adding reporting needed no change in the four services it reads from.

* The commit that added it (message starting with "Reporting service") changes no file under
  ``services/{intake,session,billing,retention}``: ``tools/check_untouched.sh <commit>``.
* Always, on the working tree: reporting's code imports none of those services' packages and
  names none of their database schemas; it is written against ``shared/`` and the stream only.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORTING = ROOT / "services" / "reporting"
OTHERS = ("intake", "session", "billing", "retention")
COMMIT_PREFIX = "Reporting service"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def reporting_commits() -> list[str]:
    """Commits whose subject starts with ``Reporting service`` (none before the lead commits it)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return []
    log = _git("log", "--format=%H %s")
    return [line.split(" ", 1)[0] for line in log.splitlines() if line.split(" ", 1)[-1].startswith(COMMIT_PREFIX)]


def test_the_commit_adding_reporting_leaves_the_other_services_untouched() -> None:
    for commit in reporting_commits():
        result = subprocess.run(["bash", str(ROOT / "tools" / "check_untouched.sh"), commit], cwd=ROOT,
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    # Whether or not that commit exists yet, the working tree must hold the same promise:
    test_reporting_imports_no_other_service()


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_reporting_imports_no_other_service() -> None:
    sources = sorted(REPORTING.rglob("*.py"))
    assert any(p.name == "bootstrap.py" for p in sources)
    forbidden = {f"fw_{svc}" for svc in OTHERS}
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _imported_modules(p)
                                                   if m.split(".", 1)[0] in forbidden)
                 for p in sources}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_reporting_sql_names_no_other_schema() -> None:
    # (its database role could not read them anyway: this keeps the intent visible)
    qualified = re.compile(r"\b(" + "|".join(OTHERS) + r")\.[a-z_]+\b")
    for path in [*REPORTING.rglob("*.sql"), *(REPORTING / "src" / "fw_reporting" / "adapters").rglob("*.py")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert not qualified.search(line.split("--", 1)[0]), f"{path.relative_to(ROOT)}: {line.strip()}"


def test_check_untouched_rejects_a_commit_that_touches_a_service() -> None:
    first = _git("rev-list", "--max-parents=0", "HEAD").split()[0]
    touching = _git("log", "--format=%H", "-1", "--", "services/intake").strip()
    result = subprocess.run(["bash", str(ROOT / "tools" / "check_untouched.sh"), touching or first],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "services/intake/" in result.stderr
