"""Engine-neutral building blocks of custom models: corpus text, spoken-style words, sounds_like rules,
Kneser-Ney n-gram estimation and SRGS grammars (engine-specific parts live in each engine's package)."""
