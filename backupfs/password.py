"""The password of an encrypted backup, as the user gives it: a file, the environment, or the terminal.

Three ways, tried in this order (see :data:`HOW_TO_GIVE`): ``--password-file FILE`` (its
first line), the ``BACKUPFS_PASSWORD`` environment variable, and a prompt on the terminal
without echo when the command runs in one. The password comes back as a ``bytearray`` the
caller passes on as it is and clears with :func:`wipe` once the key is derived: a
``bytearray`` can be overwritten in place, ``bytes`` and ``str`` cannot.

What this module does so that the password lingers in as few places as Python allows:

- The file is read unbuffered, straight into one ``bytearray`` (never decoded, never
  ``bytes``); the line is copied out of it through a ``memoryview`` and the buffer wiped.
- The environment variable is removed from ``os.environ`` (and so from the process's C
  environment) whenever :func:`obtain_password` runs, even when a file wins, so no child
  process (the background completion, a FUSE helper) inherits it.
- The text ``getpass`` returns is converted to a ``bytearray`` at once and the reference
  dropped.
- The ``bytearray`` returned hides its bytes from ``repr`` and ``str``, so a log line, a
  traceback or an exception message that shows it shows no password.

What Python cannot wipe, and is left to the memory allocator to reuse: the ``str`` that
``getpass`` returns and the buffers of the terminal stream it read from; the ``str`` that
``os.environ`` held and the ``bytes`` made when encoding it or the answer to the prompt;
and the environment's original copy, which the kernel placed in the process's memory at
start and which removing the variable unlinks but does not overwrite (``/proc/PID/environ``
still shows it to the same user and root for the life of the process). A file or the
prompt leaves none of that last kind; only the environment does. Nor can it reach a copy
the caller makes: ``hashlib.pbkdf2_hmac`` takes the ``bytearray`` as it is, ``bytes(...)``
of it is one more copy nobody can wipe. And a child started before the variable is removed
has it already: call :func:`obtain_password` before starting any.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from backupfs.errors import BackupfsError

ENV_VAR = "BACKUPFS_PASSWORD"

# Follows a colon in an error message, e.g. f"the backup ... is encrypted: {HOW_TO_GIVE}".
HOW_TO_GIVE = (
    "type the password when backupfs asks for it in a terminal, "
    f"set {ENV_VAR}=... in the environment, "
    "or pass --password-file FILE with the password on the file's first line"
)

# The longest first line a password file may have: a longer one is not a password file
# (or is /dev/zero), and reading it whole would only fill memory.
_MAX_LINE = 64 * 1024


class Password(bytearray):
    """A ``bytearray`` whose ``repr`` and ``str`` never show its bytes (only how many there are)."""

    def __repr__(self) -> str:
        return f"<password: {len(self)} bytes, hidden>"

    __str__ = __repr__


def obtain_password(password_file: Path | None, ask: bool, prompt: str) -> bytearray | None:
    """The password from ``password_file``, else the environment, else a terminal prompt when ``ask``.

    None when none of them gives one (the caller then says how, with :data:`HOW_TO_GIVE`).
    The environment variable is removed in every case. Ctrl-C at the prompt raises
    KeyboardInterrupt (``getpass`` restores the echo first).
    """
    from_env = _take_from_environment()
    if password_file is not None:
        if from_env is not None:
            wipe(from_env)
        return _read_first_line(password_file)
    if from_env is not None:
        return from_env
    if ask and sys.stdin is not None and sys.stdin.isatty():
        return _ask(prompt)
    return None


def wipe(secret: bytearray) -> None:
    """Overwrite ``secret`` with zeros in place, then empty it, so a later use finds no password.

    Zeroing in place reuses the same memory (an equal-length slice assignment never
    reallocates); emptying it afterwards frees zeros only, and hides the length too. A
    ``bytearray`` a ``memoryview`` still exports cannot change size: it stays zero-filled.
    """
    secret[:] = bytes(len(secret))
    try:
        del secret[:]
    except BufferError:
        pass


def _take_from_environment() -> Password | None:
    """The variable's value as bytes (as the environment held them), removed from the environment; None if empty."""
    value = os.environ.pop(ENV_VAR, None)
    if not value:
        return None
    secret = Password(value, "utf-8", "surrogateescape")
    del value
    return secret


def _read_first_line(path: Path) -> Password:
    """The first line of ``path`` without its ``\\n`` or ``\\r\\n``, read into memory that is wiped after."""
    buffer = bytearray(_MAX_LINE + 1)
    try:
        filled = _fill_until_newline(path, buffer)
        end = buffer.find(b"\n", 0, filled)
        if end < 0 and filled > _MAX_LINE:
            raise BackupfsError(
                f"the first line of the password file {path} is longer than {_MAX_LINE:,} bytes: "
                "write the password alone on the file's first line"
            )
        if end < 0:
            end = filled
        elif end > 0 and buffer[end - 1] == ord("\r"):
            end -= 1
        if end == 0:
            raise BackupfsError(f"the password file {path} is empty: write the password on its first line")
        with memoryview(buffer) as view:  # copied straight from the buffer, with no bytes in between
            return Password(view[:end])
    finally:
        wipe(buffer)


def _fill_until_newline(path: Path, buffer: bytearray) -> int:
    """Read ``path`` into ``buffer`` until a newline, the end of the file, or ``buffer`` is full; the bytes read."""
    filled = 0
    try:
        # Unbuffered, into ``buffer`` itself: no copy of the password in a stream's buffer.
        with open(path, "rb", buffering=0) as file, memoryview(buffer) as view:
            while filled < len(buffer):
                count = file.readinto(view[filled:])
                if not count:
                    break
                filled += count
                if buffer.find(b"\n", filled - count, filled) >= 0:
                    break
    except OSError as error:
        raise BackupfsError(
            f"cannot read the password file {path} ({error.strerror or error}): "
            "give --password-file a readable file whose first line is the password"
        ) from None
    return filled


def _ask(prompt: str) -> Password:
    """Ask on the terminal, without echo; the answer as bytes, the text ``getpass`` returned dropped at once."""
    try:
        answer = getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        answer = ""
    except UnicodeDecodeError:
        raise BackupfsError(
            "the password typed is not text in the terminal's encoding: set the terminal to UTF-8, "
            f"or set {ENV_VAR}=... or pass --password-file FILE instead"
        ) from None
    secret = Password(answer, "utf-8", "surrogateescape")
    del answer
    if not secret:
        raise BackupfsError(f"no password given: {HOW_TO_GIVE}")
    return secret
