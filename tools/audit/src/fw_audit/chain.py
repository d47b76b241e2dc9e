"""The hash chain and checkpoint signatures: the shared format of :mod:`fw_platform.audit_chain`
(the office's checkpoint job seals with it, the audit verifies with it)."""

from __future__ import annotations

from fw_platform.audit_chain import (
    GENESIS,
    Chain,
    KeyFileError,
    fingerprint,
    generate_key,
    link,
    load_key,
    public_hex,
    read_public_key,
    sign,
    signature_valid,
    signed_message,
)

__all__ = ["GENESIS", "Chain", "KeyFileError", "fingerprint", "generate_key", "link", "load_key", "public_hex",
           "read_public_key", "sign", "signature_valid", "signed_message"]
