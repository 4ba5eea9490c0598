"""Targets: each compiles the lowered form and runs pages on its own kind of source."""
