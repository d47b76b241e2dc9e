"""Compile KoSIT's XRechnung CII schematron (``kosit-src``) to XSLT with SchXslt 1.10.1, exactly
as KoSIT's own build does (``pipeline-for-svrl.xsl``, ``full-path-notation=3``; the version tokens
filled in like its Ant filter). ``python compile_xrechnung.py`` rewrites
``XRechnung-CII-validation.xsl``; the tests check that the committed file equals a fresh
compilation, so the sources and the compiled rules cannot drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "kosit-src" / "cii" / "XRechnung-CII-validation.sch"
PIPELINE = HERE / "schxslt-1.10.1" / "2.0" / "pipeline-for-svrl.xsl"
TARGET = HERE / "XRechnung-CII-validation.xsl"
#: KoSIT xrechnung-schematron release v2.5.0 (2026-01-31), "compatible with XRechnung 3.0.x".
TOKENS = {"@xr-schematron.version.full@": "2.5.0", "@xrechnung.version@": "3.0.2"}


def compile_xrechnung() -> str:
    """The compiled XSLT text (needs ``saxonche``: XSLT 3.0)."""
    from saxonche import PySaxonProcessor

    with PySaxonProcessor(license=False) as proc:
        exe = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(PIPELINE))
        exe.set_parameter("full-path-notation", proc.make_string_value("3"))
        # Parsed from its file, so that <include href="../common.sch"/> resolves next to it.
        node = proc.parse_xml(xml_file_name=str(SOURCE))
        text = str(exe.transform_to_string(xdm_node=node))
    for token, value in TOKENS.items():  # the tokens only occur in texts (the title)
        text = text.replace(token, value)
    return text


if __name__ == "__main__":
    TARGET.write_text(compile_xrechnung(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET}\n")
