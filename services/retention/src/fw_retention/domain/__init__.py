"""Pure rules of the vault and of erasure (no I/O)."""
