"""Errors a user can act on.

Every failure that reaches the command line is a ``BackupfsError`` whose message is one
sentence saying what is wrong and what to do; the CLI prints it as a single line and
exits non-zero. Anything else escaping is a bug.
"""


class BackupfsError(Exception):
    """A failure explained to the user in one line."""


class NotABackupError(BackupfsError):
    """The given folder holds no iOS backup."""


class MountError(BackupfsError):
    """Mounting or unmounting failed."""
