"""The `spacewatch` command: one module per command group."""
