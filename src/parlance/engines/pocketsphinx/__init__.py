"""PocketSphinx 5: the previous-generation engine (lexicon, OOV words, sounds_like, grammars).

Modules: `engine` (the `Engine`), `version` (the built-in model version, its files and vocabulary),
`model` (a loaded version decoding utterances) with `decoder_pool` and `lattice`, `training`
(custom language models) with `dictionary`, `g2p` and `trigram_lm`.
"""

from parlance.engines.pocketsphinx.engine import PocketSphinxEngine
from parlance.engines.pocketsphinx.version import builtin_version

__all__ = ["PocketSphinxEngine", "builtin_version"]
