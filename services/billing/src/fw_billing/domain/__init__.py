"""Pure billing rules: tariffs, pricing, invoice kind and numbering. No I/O here."""
