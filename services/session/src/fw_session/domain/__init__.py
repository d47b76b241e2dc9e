"""Pure domain of the session service: no I/O, no clocks, no randomness beyond event ids."""
