"""``python -m fw_web``: serve the pages; ``hash-password`` / ``add-user`` manage sign-ins."""

from __future__ import annotations

import sys

from fw_web.cli import main

if __name__ == "__main__":
    sys.exit(main())
