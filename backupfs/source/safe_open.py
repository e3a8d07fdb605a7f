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

    def __init__(self, path: str | Path, root: SourceFolders | None = None) -> None:
        self.fd, st = _open_regular(path, root)
        self.size = st.st_size
        weakref.finalize(self, os.close, self.fd)

    def read(self, size: int, offset: int) -> bytes:
        return pread(self.fd, size, offset)


class SourceFolders:
    """The folders of one backup, each opened once and kept open, to open the files inside them.

    A payload sits in a bucket folder ("ab/ab12..."): opened from the kept folder, it costs
    one system call rather than three (open the folder, the file, close the folder), which
    is a tenth of copying a small file. Opened as every folder of the source is, never
    through a link; a folder kept open stays the one first opened even if a link takes its
    name later. A backup has 256 bucket folders: past :data:`_FOLDERS_KEPT` (many backups at
    once), further folders are opened for each file. Closed when the object is collected.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._kept: dict[str, int] = {}
        self._keeping = threading.Lock()
        weakref.finalize(self, _close_all, self._kept)

    def open(self, path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
        """``path`` (relative to the root) opened as :func:`open_source` opens a file, and its stat."""
        folder, _, name = os.fspath(path).rpartition("/")
        if not folder or os.open not in os.supports_dir_fd:
            return _checked(_open_file(os.path.join(self.root, path), None), path)
        kept = self._kept.get(folder)
        if kept is not None:
            return _checked(_open_file(name, kept), path)
        folder_fd = self._open_folder(folder)
        try:
            fd = _open_file(name, folder_fd)
        finally:
            self._keep(folder, folder_fd)
        return _checked(fd, path)

    def _open_folder(self, folder: str) -> int:
        """Each folder on the way opened from the one above it: no link anywhere, not only at the end."""
        folder_fd = None
        try:
            for part in folder.split("/"):
                where = part if folder_fd is not None else os.path.join(self.root, part)
                opened = os.open(where, _FOLDER_FLAGS | _NOFOLLOW, dir_fd=folder_fd)
                if folder_fd is not None:
                    os.close(folder_fd)
                folder_fd = opened
        except BaseException:
            if folder_fd is not None:
                os.close(folder_fd)
            raise
        assert folder_fd is not None
        return folder_fd

    def _keep(self, folder: str, folder_fd: int) -> None:
        with self._keeping:
            if folder not in self._kept and len(self._kept) < _FOLDERS_KEPT:
                self._kept[folder] = folder_fd
                return
        os.close(folder_fd)  # another thread kept its own, or enough are kept


_FOLDERS_KEPT = 512


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)


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


def open_source(path: str | os.PathLike[str], root: SourceFolders | None = None) -> int:
    """Open a regular file of the source for reading; raise OSError otherwise.

    Anything that is not a regular file (a FIFO, a socket, a device) is refused with
    EIO after a non-blocking open, so a crafted backup cannot hang or redirect a read.
    With ``root``, ``path`` is relative to it and no folder on the way may be a link
    either: O_NOFOLLOW guards only the last component, and a bucket folder swapped for a
    link while the backup is mounted would otherwise lead out of the source.
    """
    return _open_regular(path, root)[0]


def read_head(
    path: str | os.PathLike[str], size: int, root: SourceFolders | None = None
) -> tuple[bytes, os.stat_result]:
    """The first ``size`` bytes of a source file, and its stat (free once it is open)."""
    fd, st = _open_regular(path, root)
    try:
        return pread(fd, size, 0), st
    finally:
        os.close(fd)


def _open_regular(path: str | os.PathLike[str], root: SourceFolders | None) -> tuple[int, os.stat_result]:
    if root is not None:
        return root.open(path)
    return _checked(_open_file(path, None), path)


def _checked(fd: int, path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """``fd`` and its stat when it is a regular file; closed, and EIO raised, otherwise."""
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
