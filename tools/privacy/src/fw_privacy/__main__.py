"""``python -m fw_privacy``: see :mod:`fw_privacy.cli`."""

import sys

from fw_privacy.cli import main

sys.exit(main())
