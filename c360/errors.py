"""Typed errors, each mapped to one exit code of the contract (0 ok, 2 usage/config, 3 quality, 1 other)."""

from __future__ import annotations


class C360Error(Exception):
    """Base of every error c360 raises on purpose."""

    exit_code = 1


class ConfigError(C360Error, ValueError):
    """Bad configuration: the message names the key and the file."""

    exit_code = 2


class UsageError(C360Error, ValueError):
    """Bad command-line usage."""

    exit_code = 2


class NotBuiltError(C360Error):
    """A job of the contract whose capability is not built yet."""

    exit_code = 2


class SourceError(ConfigError):
    """A misconfigured source (missing path, unknown format, unmapped column)."""


class DataError(C360Error):
    """The data cannot give a meaningful result (nothing to compare, no candidate pair): the message says why
    and what to change."""


class MissingColumnError(C360Error, ValueError):
    """A DataFrame lacks a column a transform or a table needs."""

    def __init__(self, column: str, where: str, available: list[str] | None = None):
        hint = f"; available: {', '.join(sorted(available))}" if available else ""
        super().__init__(f"{where}: missing column '{column}'{hint}")
        self.column = column
        self.where = where


class QualityGateError(C360Error):
    """A data-quality gate failed: the message names the table and the expectation."""

    exit_code = 3


class NotTrainedError(C360Error):
    """A job needs a trained model and there is none (or not the version asked for)."""

    exit_code = 2


class WarehouseBusyError(C360Error):
    """Another run holds the warehouse's run lock (the message names it: command, host, process, since)."""


def exit_code_of(error: BaseException) -> int:
    """The contract's exit code for an error: a C360Error's own (that of the C360Error it was raised from, when
    it wraps one, as ``run all`` does), 130 for an interrupt, 1 for anything else."""
    if isinstance(error, KeyboardInterrupt):
        return 130
    if not isinstance(error, C360Error):
        return 1
    cause = error
    while cause.__cause__ is not None and isinstance(cause.__cause__, C360Error):
        cause = cause.__cause__
    return cause.exit_code
