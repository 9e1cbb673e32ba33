"""Durable background jobs (training, corpus analysis, upgrades) run in-process by default."""
