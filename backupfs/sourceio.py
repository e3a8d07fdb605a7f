"""The one way backupfs opens a file of the source.

Read-only, never following a symlink planted in the backup (a payload that is a link to
/etc/passwd must not serve /etc/passwd), never blocking on a FIFO, and without updating
the access time where the kernel lets us (O_NOATIME needs ownership or privilege, so it
is dropped when refused).
"""

from __future__ import annotations

import errno
import os
import stat

_BASE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)


def open_source(path: str | os.PathLike[str]) -> int:
    """Open a regular file of the source for reading; raise OSError otherwise.

    Anything that is not a regular file (a FIFO, a socket, a device) is refused with
    EIO after a non-blocking open, so a crafted backup cannot hang or redirect a read.
    """
    return _open_regular(path)[0]


def read_head(path: str | os.PathLike[str], size: int) -> tuple[bytes, os.stat_result]:
    """The first ``size`` bytes of a source file, and its stat (free once it is open)."""
    fd, st = _open_regular(path)
    try:
        return os.pread(fd, size, 0), st
    finally:
        os.close(fd)


def _open_regular(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    try:
        fd = os.open(path, _BASE_FLAGS | _NOATIME)
    except PermissionError:
        fd = os.open(path, _BASE_FLAGS)
    except OSError as exc:
        if exc.errno != errno.EINVAL or not _NOATIME:
            raise
        fd = os.open(path, _BASE_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EIO, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, st
