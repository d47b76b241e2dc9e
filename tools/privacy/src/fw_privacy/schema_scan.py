"""Which tables and columns the services store: read from their SQL migrations, nothing else.

Every service keeps its migrations in ``services/<svc>/src/fw_<svc>/migrations/*.sql``; the
schema is the service's name (the pool's search_path). The platform's own SQL
(``shared/platform/src/fw_platform/sql/*.sql``) and the ``schema_migrations`` table of
``fw_platform.db.migrate`` exist in every service schema.

The parser understands the DDL the project uses: ``CREATE TABLE``, ``ALTER TABLE`` with ``ADD``
/ ``DROP`` / ``RENAME`` column and ``RENAME TO``, ``DROP TABLE``. Anything that would create a
stored relation it cannot read (``CREATE TABLE ... AS``, materialized views) raises
:class:`UnsupportedDDL`, so a new kind of storage is never silently skipped. A test applies the
migrations to a real PostgreSQL and compares the result with this parser's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Created by ``fw_platform.db.migrate`` itself (not in a SQL file), in every service schema.
MIGRATION_TABLE: tuple[str, tuple[str, ...]] = ("schema_migrations", ("name", "sha256", "applied_at"))


class UnsupportedDDL(Exception):
    """A statement that stores data in a way this parser does not understand."""


@dataclass(frozen=True, order=True)
class Column:
    """One stored column: ``schema.table.column`` (schema = the owning service)."""

    schema: str
    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


def repo_root(start: Path | None = None) -> Path:
    """The repository root: the nearest parent with ``services/`` and ``shared/``."""
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "services").is_dir() and (candidate / "shared").is_dir():
            return candidate
    raise FileNotFoundError("repository root (with services/ and shared/) not found")


def service_migrations(root: Path) -> dict[str, list[Path]]:
    """``{service: [migration files in applied order]}`` for every service that has any."""
    out: dict[str, list[Path]] = {}
    for mig_dir in sorted(root.glob("services/*/src/fw_*/migrations")):
        files = sorted(mig_dir.glob("*.sql"), key=lambda p: p.name)
        if files:
            out[mig_dir.parents[2].name] = files
    return out


def platform_migrations(root: Path) -> list[Path]:
    return sorted((root / "shared/platform/src/fw_platform/sql").glob("*.sql"), key=lambda p: p.name)


# ------------------------------------------------------------------ lexing
def _strip(sql: str) -> str:
    """Remove comments and blank out string/dollar-quoted literals (keeping the statement shape)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'" and sql.startswith("''", j):
                    j += 2
                    continue
                if sql[j] == "'":
                    break
                j += 1
            out.append("''")
            i = j + 1
        elif c == "$" and (m := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])):
            tag = m.group(0)
            j = sql.find(tag, i + len(tag))
            out.append("$$")
            i = n if j < 0 else j + len(tag)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _name(token: str) -> str:
    """An identifier without quotes and without a schema qualifier, lower-cased like PostgreSQL."""
    token = token.rsplit(".", maxsplit=1)[-1]
    return token[1:-1] if token.startswith('"') else token.lower()


_IDENT = r'(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?'
_CREATE = re.compile(rf"^CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+"
                     rf"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_IDENT})\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_ALTER = re.compile(rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?P<name>{_IDENT})\s+(?P<rest>.*)$",
                    re.IGNORECASE | re.DOTALL)
_DROP = re.compile(r"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<names>.+?)(?:\s+(?:CASCADE|RESTRICT))?$",
                   re.IGNORECASE | re.DOTALL)
_CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "EXCLUDE", "LIKE"}


def _body(rest: str) -> str:
    if not rest.startswith("("):
        raise UnsupportedDDL("CREATE TABLE without a column list (e.g. CREATE TABLE ... AS)")
    depth = 0
    for i, c in enumerate(rest):
        depth += c == "("
        depth -= c == ")"
        if depth == 0:
            return rest[1:i]
    raise UnsupportedDDL("unbalanced parentheses in CREATE TABLE")


def _apply(tables: dict[str, list[str]], statement: str) -> None:
    stmt = " ".join(statement.split())
    if (re.match(r"^CREATE\s+MATERIALIZED\s+VIEW", stmt, re.IGNORECASE)
            or re.match(r"^SELECT\s.*\sINTO\s", stmt, re.IGNORECASE)):
        raise UnsupportedDDL(f"stores data the parser cannot read: {stmt[:60]}")
    if m := _CREATE.match(stmt):
        cols = []
        for item in _split(_body(m.group("rest")), ","):
            first = item.split()[0]
            if first.upper() not in _CONSTRAINT_WORDS:
                cols.append(_name(first))
        tables[_name(m.group("name"))] = cols
    elif m := _ALTER.match(stmt):
        _alter(tables, _name(m.group("name")), m.group("rest"))
    elif m := _DROP.match(stmt):
        for name in _split(m.group("names"), ","):
            tables.pop(_name(name), None)


def _alter(tables: dict[str, list[str]], table: str, rest: str) -> None:
    if m := re.match(rf"^RENAME\s+TO\s+(?P<new>{_IDENT})$", rest, re.IGNORECASE):
        tables[_name(m.group("new"))] = tables.pop(table, [])
        return
    cols = tables.setdefault(table, [])
    for action in _split(rest, ","):
        words = action.split()
        head = words[0].upper()
        if head == "ADD":
            w = words[1:]
            if w and w[0].upper() in _CONSTRAINT_WORDS:
                continue
            if w and w[0].upper() == "COLUMN":
                w = w[1:]
            if len(w) > 3 and " ".join(x.upper() for x in w[:3]) == "IF NOT EXISTS":
                w = w[3:]
            name = _name(w[0])
            if name not in cols:
                cols.append(name)
        elif head == "DROP":
            w = words[1:]
            if w and w[0].upper() == "CONSTRAINT":
                continue
            if w and w[0].upper() == "COLUMN":
                w = w[1:]
            if len(w) > 2 and " ".join(x.upper() for x in w[:2]) == "IF EXISTS":
                w = w[2:]
            name = _name(w[0])
            if name in cols:
                cols.remove(name)
        elif head == "RENAME":
            w = words[1:]
            if w and w[0].upper() == "COLUMN":
                w = w[1:]
            if len(w) == 3 and w[1].upper() == "TO":
                old, new = _name(w[0]), _name(w[2])
                tables[table] = [new if c == old else c for c in cols]
                cols = tables[table]
        # ALTER COLUMN ... TYPE/SET/DROP DEFAULT, OWNER, ... change no column set


def tables_of(sql_texts: Iterable[str]) -> dict[str, list[str]]:
    """``{table: [columns]}`` after applying the SQL texts in order."""
    tables: dict[str, list[str]] = {}
    for text in sql_texts:
        for statement in _split(_strip(text), ";"):
            _apply(tables, statement)
    return tables


def stored_columns(root: Path | None = None) -> list[Column]:
    """Every column of every service schema, as the migrations leave it."""
    root = root or repo_root()
    platform = [p.read_text(encoding="utf-8") for p in platform_migrations(root)]
    out: list[Column] = []
    for service, files in service_migrations(root).items():
        tables = tables_of([*platform, *(f.read_text(encoding="utf-8") for f in files)])
        tables.setdefault(MIGRATION_TABLE[0], list(MIGRATION_TABLE[1]))
        out += [Column(service, t, c) for t, cols in tables.items() for c in cols]
    return sorted(out)


def by_table(columns: Iterable[Column]) -> Iterator[tuple[tuple[str, str], list[str]]]:
    """Columns grouped by ``(schema, table)``, in order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for c in columns:
        groups.setdefault((c.schema, c.table), []).append(c.column)
    yield from sorted(groups.items())
