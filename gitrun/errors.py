"""One error hierarchy for the whole library.

Every error carries a message that says what went wrong *and* what to do about it. The CLI maps
:class:`GitrunError` to one red line and exit code 1 (see ``gitrun.cli._common``); nothing here
imports click.
"""

from __future__ import annotations


class GitrunError(Exception):
    """Base class of every error gitrun raises on purpose."""

    exit_code = 1


class InvalidInputError(GitrunError, ValueError):
    """A key, value or argument the user passed is not acceptable."""


class RunNotFoundError(GitrunError, LookupError):
    """No run with the given ID in the store."""


class ExperimentNotFoundError(GitrunError, LookupError):
    """No experiment with the given name or ID in the store."""


class StoreFormatError(GitrunError):
    """A store or file cannot be read: newer format, or corrupt content (in strict mode)."""


class RunStateError(GitrunError):
    """The operation does not fit the run's state (deleted run, run already active...)."""


class PluginError(GitrunError):
    """A plugin failed in a way that cannot be reduced to a warning."""


class StoreWarning(UserWarning):
    """A file of the store could not be read completely; the rest of the store still reads."""
