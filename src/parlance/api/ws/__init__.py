"""Watson's WebSocket recognition protocol: messages (`protocol`), shared limits (`limits`), and one
connection as a state machine (`session`)."""
