"""One module per CLI command; each has ``register(subparsers)`` and sets ``func`` to its handler."""
