"""Whisper tiny.en through faster-whisper/CTranslate2: the `en-US_Multimedia` next-generation engine.

Modules: `engine` (the `Engine`), `version` (the built-in model versions), `model` (a loaded version
decoding and scoring utterances), `bias` (custom models: prompt, corpus LM, rewrite rules) and
`rewriter` (custom words' display forms).
"""

from parlance.engines.whisper.engine import WhisperEngine
from parlance.engines.whisper.version import builtin_version, model_dir, telephony_version

__all__ = ["WhisperEngine", "builtin_version", "model_dir", "telephony_version"]
