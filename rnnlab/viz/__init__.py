"""Plots (matplotlib, imported lazily so that the library does not need it to train)."""
