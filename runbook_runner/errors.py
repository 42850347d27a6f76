"""The exceptions of the runbook.

Every error the runbook raises on purpose derives from :class:`RunbookError`.
The command line catches that base class only, prints its message and its
hint, and exits with :attr:`RunbookError.exit_code`; anything else is a bug
and keeps its traceback.
"""


class RunbookError(Exception):
    """A failure the user can act on.

    ``hint`` says what to do about it, in one sentence.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(RunbookError):
    """The configuration file or an environment setting holds a bad value."""

    exit_code = 2


class UsageError(RunbookError):
    """A command-line value is malformed or does not fit the others."""

    exit_code = 2
