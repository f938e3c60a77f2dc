"""The ``predelinq`` command line."""

from .main import CliError, main

__all__ = ["CliError", "main"]
