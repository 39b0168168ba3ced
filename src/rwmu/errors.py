"""User-facing errors.

An :class:`RwmuError` is a mistake in what the user gave us (a file, a flag, a checkpoint). The command line prints
its message as one line and exits with a non-zero code, without a traceback. The message says what is wrong, where
(file, row, column or key) and what to do about it.
"""

import errno


class RwmuError(Exception):
    """A user error with a one-line, actionable message."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


OS_ERROR_ADVICE = {
    errno.ENOSPC: "free some space or choose another location",
    errno.EDQUOT: "free some space or choose another location",
    errno.EACCES: "choose a location you can write to, or fix its permissions",
    errno.EPERM: "choose a location you can write to, or fix its permissions",
    errno.EROFS: "choose a location on a writable file system",
    errno.ENOENT: "check that the path and its parent folders exist and can be created",
    errno.EEXIST: "remove it or choose another name",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another location",
    errno.EISDIR: "it is a folder; give a file name",
}


def os_error_message(err: OSError) -> str:
    """One line for an operating-system error: the path, what went wrong and what to do."""
    paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
    reason = (err.strerror or str(err) or type(err).__name__).rstrip(".")
    advice = OS_ERROR_ADVICE.get(err.errno, "check the path and re-run")
    if not paths:
        return " ".join(
            f"{reason} ({type(err).__name__}); check the files and folders of this command and re-run".split()
        )
    return " ".join(f"{paths}: {reason}; {advice}".split())
