"""An Azure-compatible subset of the Speech-to-text REST API (v3.1 and v3.2 paths) over the same store."""
