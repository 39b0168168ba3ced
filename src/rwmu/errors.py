"""User-facing errors.

An :class:`RwmuError` is a mistake in what the user gave us (a file, a flag, a checkpoint). The command line prints
its message as one line and exits with a non-zero code, without a traceback. The message says what is wrong, where
(file, row, column or key) and what to do about it.
"""


class RwmuError(Exception):
    """A user error with a one-line, actionable message."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
