"""Custom language model building blocks: corpus text normalization, pronunciations, n-gram models."""
