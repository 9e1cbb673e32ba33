"""Parlance: self-hosted speech-to-text built around model customization and its lifecycle."""

__version__ = "0.1.0"
