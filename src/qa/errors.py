"""The project's exceptions. Translated to messages and exit codes once, at the edges."""


class QAError(Exception):
    """Base class: a problem the user can act on. The message says what to do."""

    exit_code = 1


class UsageError(QAError):
    """Bad input from the user: a missing corpus, an empty question, an unknown document."""

    exit_code = 2


class IndexProblem(QAError):
    """The index is missing, damaged or built with other settings. The message names the fixing command."""

    exit_code = 2


class IngestError(QAError):
    """One file cannot be read. The build records the reason and goes on with the others."""
