"""Domain rules, free of HTTP: the API and the CLI both call these."""
