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
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def open_source(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> int:
    """Open a regular file of the source for reading; raise OSError otherwise.

    Anything that is not a regular file (a FIFO, a socket, a device) is refused with
    EIO after a non-blocking open, so a crafted backup cannot hang or redirect a read.
    With ``root``, ``path`` is relative to it and no folder on the way may be a link
    either: O_NOFOLLOW guards only the last component, and a bucket folder swapped for a
    link while the backup is mounted would otherwise lead out of the source.
    """
    return _open_regular(path, root)[0]


def read_head(
    path: str | os.PathLike[str], size: int, root: str | os.PathLike[str] | None = None
) -> tuple[bytes, os.stat_result]:
    """The first ``size`` bytes of a source file, and its stat (free once it is open)."""
    fd, st = _open_regular(path, root)
    try:
        return os.pread(fd, size, 0), st
    finally:
        os.close(fd)


def _open_regular(path: str | os.PathLike[str], root: str | os.PathLike[str] | None) -> tuple[int, os.stat_result]:
    if root is None or os.open not in os.supports_dir_fd:
        fd = _open_file(path if root is None else os.path.join(root, path), None)
    else:
        *folders, name = os.fspath(path).split("/")
        folder_fd = None
        try:
            for part in folders:
                where = part if folder_fd is not None else os.path.join(root, part)
                opened = os.open(where, _FOLDER_FLAGS, dir_fd=folder_fd)
                if folder_fd is not None:
                    os.close(folder_fd)
                folder_fd = opened
            fd = _open_file(name if folder_fd is not None else os.path.join(root, name), folder_fd)
        finally:
            if folder_fd is not None:
                os.close(folder_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EIO, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _open_file(path: str | os.PathLike[str], dir_fd: int | None) -> int:
    try:
        return os.open(path, _BASE_FLAGS | _NOATIME, dir_fd=dir_fd)
    except PermissionError:
        return os.open(path, _BASE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL or not _NOATIME:
            raise
        return os.open(path, _BASE_FLAGS, dir_fd=dir_fd)
