"""``python -m fw_contracts_docs``: write (or ``--check``) the contract documents.

    python -m fw_contracts_docs                 # docs/asyncapi/<svc>.json + docs/events.md
    python -m fw_contracts_docs --check         # exit 1 if a committed document is stale
    python -m fw_contracts_docs expectations    # record new consumer declarations
    python -m fw_contracts_docs expectations --accept   # re-record all (after a reviewed change)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fw_contracts_docs import asyncapi, catalogue, compat
from fw_contracts_docs.services import load_contracts, repo_root

EXPECTATIONS = Path("tests/contracts/consumer_expectations.json")


def documents(root: Path) -> dict[Path, str]:
    """Relative path -> content of every generated document, as this build renders it."""
    contracts = load_contracts()
    schemas = compat.committed_schemas()
    out = {Path("docs/asyncapi") / f"{svc}.json": asyncapi.render(asyncapi.build(c, schemas))
           for svc, c in contracts.items()}
    out[Path("docs/events.md")] = catalogue.build(contracts, schemas)
    return out


def stale(root: Path) -> list[Path]:
    """Documents whose committed content differs from what this build renders."""
    return [rel for rel, text in documents(root).items()
            if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text]


def write(root: Path) -> list[Path]:
    written = []
    for rel, text in documents(root).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(rel)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fw_contracts_docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["docs", "expectations"], default="docs")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    parser.add_argument("--accept", action="store_true",
                        help="expectations: re-record every expectation from the current schemas")
    parser.add_argument("--root", type=Path, default=None, help="the checkout (default: found from cwd)")
    args = parser.parse_args(argv)
    root = repo_root(args.root)

    if args.command == "expectations":
        path = root / EXPECTATIONS
        new = compat.record_expectations(load_contracts().values(), compat.committed_schemas(),
                                         compat.load_expectations(path), accept=args.accept)
        text = compat.render_expectations(new)
        if args.check:
            ok = path.exists() and path.read_text(encoding="utf-8") == text
            print(f"{EXPECTATIONS}: {'current' if ok else 'STALE'}")
            return 0 if ok else 1
        path.write_text(text, encoding="utf-8")
        print(f"wrote {EXPECTATIONS}")
        return 0

    if args.check:
        old = stale(root)
        for rel in old:
            print(f"stale: {rel} (run: make docs)")
        return 1 if old else 0
    for rel in write(root):
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
