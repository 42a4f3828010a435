"""The two failures a `pwtui` command ends with, apart from the parser.

They live here (not in cli.py) so that the subcommand modules need not import the
command line that imports them; cli.py maps them to exit codes.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad arguments or input (a file the user gave, a value out of range); exit code 2."""


class DeviceError(Exception):
    """The stick or a circle failed; exit code 1."""
