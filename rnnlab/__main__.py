"""``python -m rnnlab``: the command-line interface."""

from rnnlab.cli import run

run()
