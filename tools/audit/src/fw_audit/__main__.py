"""``python -m fw_audit audit …`` is the same as ``fernwartung audit …``."""

from fw_audit.cli import main

main()
