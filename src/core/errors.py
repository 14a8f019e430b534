"""Errors that end a command with a one-line message and an exit status (README, docs/getting-started.md)."""

from __future__ import annotations

__all__ = [
    "EXIT_CONFIG",
    "EXIT_CONNECTION",
    "EXIT_DEAD_LETTERS",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_STATE",
    "EXIT_UNCONFIRMED",
    "ConfigError",
    "ConnectionFailed",
    "LeadsyncError",
    "LockHeld",
    "StateStoreError",
]

EXIT_OK = 0
EXIT_DEAD_LETTERS = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3
EXIT_CONNECTION = 4
EXIT_STATE = 5  # the state store cannot be used: broken, read-only, full, or of a newer schema
EXIT_UNCONFIRMED = 6  # writes were sent but the vendor's answer could not confirm them: they wait for the next run
EXIT_INTERRUPTED = 7  # SIGTERM, SIGINT or --max-duration: the run stopped between batches and can be resumed


class LeadsyncError(Exception):
    """An error shown to the user as one line, without a traceback."""

    exit_code = EXIT_CONFIG


class ConfigError(LeadsyncError):
    """Bad configuration, scoring sheet or input file: names the file, key, row or column."""

    exit_code = EXIT_CONFIG


class LockHeld(LeadsyncError):
    """Another run holds the state store's lock."""

    exit_code = EXIT_LOCKED


class StateStoreError(LeadsyncError):
    """The state store cannot be used; the message names the file and what to do."""

    exit_code = EXIT_STATE


class ConnectionFailed(LeadsyncError):
    """A connection could not be used at all (authentication, vendor down)."""

    exit_code = EXIT_CONNECTION
