"""Every shoplens error and warning lives here.

Each subclasses a builtin so callers can catch either the shoplens class or the
builtin (the scikit-learn habit). User mistakes raise a :class:`UserInputError`
subclass: the CLI prints its message on one line and exits with code 2, never a
traceback.

>>> try:
...     raise InputFileError("orders.csv", "file not found", hint="check the path")
... except FileNotFoundError:
...     pass
... except ValueError as e:
...     print(e)
orders.csv: file not found (check the path)
"""

from __future__ import annotations


class ShoplensError(Exception):
    """Base class of every error raised on purpose by shoplens."""


class UserInputError(ShoplensError, ValueError):
    """The user asked for something that cannot be done as asked (exit code 2)."""

    exit_code = 2


class InputFileError(UserInputError):
    """An input file is missing, empty, undecodable or malformed.

    The message always names the file, and where possible the line and column,
    and says how to fix it.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        line: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = str(file)
        self.problem = problem
        self.line = line
        self.column = column
        self.hint = hint
        where = self.file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        msg = f"{where}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class MappingError(UserInputError):
    """A mapping file or preset is invalid, or does not fit the source."""


class UnknownTableError(UserInputError, KeyError):
    """A table name that is not part of the canonical data model."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StrictModeError(UserInputError):
    """``--strict`` ingest found at least one bad row; nothing was written."""


class ConfigError(UserInputError):
    """Settings are missing or invalid (bad config file, weak secret...)."""


class NotFittedError(ShoplensError, ValueError, AttributeError):
    """A model was used before ``fit``."""


class InsufficientDataError(UserInputError):
    """The data cannot support the requested analysis or model."""


class NotFoundError(UserInputError, LookupError):
    """An id (customer, product, model...) that does not exist."""


class InvalidParameterError(UserInputError, TypeError):
    """A model parameter outside its declared constraints; ``param`` names it (the API's 422 field)."""

    def __init__(self, param: str, problem: str) -> None:
        self.param = param
        super().__init__(f"{param}: {problem}")


class ModelVersionWarning(UserWarning):
    """A saved model was written by another shoplens version."""


class NotComputedError(UserInputError, LookupError):
    """A result (table or model) that has not been computed yet; the message says which command computes it."""


class AuthError(ShoplensError, PermissionError):
    """A request without a valid API key, or with a role too weak for what it asks (HTTP 401/403)."""


class SparkUnavailableError(ConfigError):
    """``--engine spark`` was asked for but PySpark or Java is missing, or Spark cannot start."""


class EngineMismatchError(ConfigError):
    """A warehouse was opened with an engine that does not hold its tables (the message
    names the ``shoplens migrate`` command that moves them)."""


class StorageConflictError(ConfigError):
    """A table changed both in the DuckDB file and in the Spark tables since they were last equal."""


class MigrationError(ShoplensError, RuntimeError):
    """A copied table did not verify (row count or a column checksum differs); nothing was switched."""

    exit_code = 1


class UnknownEventError(UserInputError, LookupError):
    """An event name (funnel step, retention or path event) that is neither a spec name, a
    canonical event type nor a custom event name found in the warehouse; the message lists them."""
