"""The one way backupfs opens a file or a folder of the source.

Read-only, never following a symlink planted in the backup (a payload that is a link to
/etc/passwd must not serve /etc/passwd), never blocking on a FIFO, and without updating
the access time where the kernel lets us (O_NOATIME needs ownership or privilege, so it
is dropped when refused).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import weakref
from pathlib import Path

_BASE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class SourceFile:
    """An open payload, read at any offset; the descriptor is closed when the object is collected."""

    def __init__(self, path: str | Path, root: str | Path | None = None) -> None:
        self.fd = open_source(path, root)
        self.size = os.fstat(self.fd).st_size
        weakref.finalize(self, os.close, self.fd)

    def read(self, size: int, offset: int) -> bytes:
        return pread(self.fd, size, offset)


_SEEKING = threading.Lock()


def pread(fd: int, size: int, offset: int) -> bytes:
    """``os.pread``, or a seek and a read where the system has no pread (Windows), one thread at a time."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    with _SEEKING:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


def open_folder(path: Path | str, dir_fd: int | None = None, follow: bool = False) -> int:
    """A folder descriptor that keeps atime where allowed and, unless ``follow``, refuses links.

    Only a folder the user pointed at (or one above any backup root) is opened with
    ``follow``: a link there is the user's choice, a link inside a backup is not.
    """
    return _open_without_atime(path, _FOLDER_FLAGS | (0 if follow else _NOFOLLOW), dir_fd)


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
        return pread(fd, size, 0), st
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
                opened = os.open(where, _FOLDER_FLAGS | _NOFOLLOW, dir_fd=folder_fd)
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
    return _open_without_atime(path, _BASE_FLAGS, dir_fd)


def _open_without_atime(path: str | os.PathLike[str], flags: int, dir_fd: int | None) -> int:
    """``os.open`` with O_NOATIME, or without it where the kernel refuses it (not our file)."""
    try:
        return os.open(path, flags | _NOATIME, dir_fd=dir_fd)
    except OSError as exc:
        if not _NOATIME or exc.errno not in (errno.EPERM, errno.EACCES, errno.EINVAL):
            raise
        return os.open(path, flags, dir_fd=dir_fd)
