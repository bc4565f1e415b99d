"""Shared pieces of the CLI commands."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """A mistake in what the user asked for; reported as one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message: str):
        raise UsageError(message)


def csv_of(kind):
    """An argparse type for comma-separated lists of ``kind``."""

    def parse(text: str):
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from e

    return parse
