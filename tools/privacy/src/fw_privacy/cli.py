"""``python -m fw_privacy render --out docs/privacy/`` and ``python -m fw_privacy check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fw_privacy.classify import classify
from fw_privacy.render import write
from fw_privacy.schema_scan import repo_root, stored_columns


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (1 when the check finds unclassified columns)."""
    parser = argparse.ArgumentParser(prog="fw_privacy", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: found from here)")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="write the Art. 30 records and the deletion concept (MD + HTML)")
    render.add_argument("--out", type=Path, default=Path("docs/privacy"))
    sub.add_parser("check", help="fail if a stored column is neither in the retention map nor on the allow-list")
    args = parser.parse_args(argv)
    root = args.root or (repo_root(Path.cwd()) if _has_repo(Path.cwd()) else repo_root())
    result = classify(stored_columns(root))
    if not result.complete:
        print(result.message(), file=sys.stderr)
        return 1
    if args.command == "render":
        for path in write(args.out, root):
            print(path)
    else:
        print(f"ok: {len(result.personal)} personal and {len(result.not_personal)} not-personal columns classified")
    return 0


def _has_repo(path: Path) -> bool:
    try:
        repo_root(path)
    except FileNotFoundError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
