"""The one way backupfs opens a file or a folder of the source.

Read-only, never following a symlink planted in the backup (a payload that is a link to
/etc/passwd must not serve /etc/passwd), never blocking on a FIFO, and without updating
the access time where the kernel lets us (O_NOATIME needs ownership or privilege, so it
is dropped when refused).

Where the system opens and lists folders by descriptor (:data:`FOLDERS_BY_DESCRIPTOR`:
Linux, macOS, the BSDs), what is inside a folder is reached from its descriptor, so no
link is followed anywhere on the way. Windows has no such calls (``os.open`` refuses a
folder, ``os.scandir`` takes no descriptor, and no ``O_NOFOLLOW``): there folders are
held by path, and every folder and file is checked by ``lstat`` before it is entered or
opened, a symlink or a junction refused. A link swapped in between that check and the
open is not seen there.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# O_BINARY (Windows only): without it the C runtime opens in text mode, and reads turn CRLF into LF.
_BASE_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NOATIME = getattr(os, "O_NOATIME", 0)
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NAME_SURROGATE = 0x20000000
"""The bit of a Windows reparse tag that marks a link to another file: a symlink or a junction."""

FOLDERS_BY_DESCRIPTOR = os.open in os.supports_dir_fd and os.scandir in os.supports_fd
"""Whether folders are opened, and listed, by descriptor; else by path, checked by ``lstat`` (Windows)."""


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
    Without :data:`FOLDERS_BY_DESCRIPTOR`, nothing is kept: each file is opened by its path,
    every folder on the way checked not to be a link. Nor unless ``keep``: then each folder
    is opened for each file and closed at once, as a mount needs, which must not keep a disk
    busy (it could not be ejected) nor go on reading a backup folder moved away or whose
    disk was unplugged.
    """

    def __init__(self, root: str | os.PathLike[str], keep: bool = True) -> None:
        self.root = os.fspath(root)
        self._keep_open = keep
        self._kept: dict[str, int] = {}
        self._keeping = threading.Lock()
        weakref.finalize(self, _close_all, self._kept)

    def open(self, path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
        """``path`` (relative to the root) opened as :func:`open_source` opens a file, and its stat."""
        folder, _, name = os.fspath(path).rpartition("/")
        if not FOLDERS_BY_DESCRIPTOR:
            where = self.root
            for part in folder.split("/") if folder else ():
                where = os.path.join(where, part)
                _check_folder(where, follow=False)
            return _checked(_open_file(os.path.join(where, name), None), path)
        if not folder:
            return _checked(_open_file(os.path.join(self.root, name), None), path)
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
            if self._keep_open and folder not in self._kept and len(self._kept) < _FOLDERS_KEPT:
                self._kept[folder] = folder_fd
                return
        os.close(folder_fd)  # another thread kept its own, or enough are kept


_FOLDERS_KEPT = 512


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)


class Folder:
    """A folder of the source, to list it and to enter the folders in it, never through a link.

    It holds the folder's descriptor where :data:`FOLDERS_BY_DESCRIPTOR` (``fd``), and its
    path only elsewhere (``fd`` None). Close it once done (``contextlib.closing``); an
    entry's ``stat`` needs it still open.
    """

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def open(cls, path: str | os.PathLike[str], follow: bool = False) -> Folder:
        """The folder at ``path``, its access time kept where allowed; unless ``follow``, never a link.

        Only a folder the user pointed at (or one above any backup root) is opened with
        ``follow``: a link there is the user's choice, a link inside a backup is not.
        """
        path = os.fspath(path)
        if not FOLDERS_BY_DESCRIPTOR:
            _check_folder(path, follow)
            return cls(path, None)
        return cls(path, _open_without_atime(path, _FOLDER_FLAGS | (0 if follow else _NOFOLLOW), None))

    def child(self, name: str) -> Folder:
        """The folder ``name`` inside this one, never through a link."""
        path = os.path.join(self.path, name)
        if self.fd is None:
            _check_folder(path, follow=False)
            return Folder(path, None)
        return Folder(path, _open_without_atime(name, _FOLDER_FLAGS | _NOFOLLOW, self.fd))

    @contextmanager
    def scandir(self) -> Iterator[Iterator[os.DirEntry[str]]]:
        """Its entries, as :func:`os.scandir` gives them, one at a time: a folder may hold a million."""
        with os.scandir(self.path if self.fd is None else self.fd) as entries:
            yield entries

    def listdir(self) -> list[str]:
        """The names in it."""
        return os.listdir(self.path if self.fd is None else self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def is_link(st: os.stat_result) -> bool:
    """Whether an ``lstat`` result is a link to elsewhere: a symlink, or on Windows a junction too."""
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_reparse_tag", 0) & _NAME_SURROGATE)


def _check_folder(path: str, follow: bool) -> None:
    """Fail as opening ``path`` as a folder would (ENOTDIR) unless it is one, and, unless ``follow``, not a link."""
    st = os.stat(path) if follow else os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or (not follow and is_link(st)):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)


_SEEKING = threading.Lock()


def pread(fd: int, size: int, offset: int) -> bytes:
    """``os.pread``, or a seek and a read where the system has no pread (Windows), one thread at a time."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    with _SEEKING:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


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
    if not _NOFOLLOW and is_link(os.lstat(path, dir_fd=dir_fd)):  # open() would follow it (Windows)
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fspath(path))
    return _open_without_atime(path, _BASE_FLAGS, dir_fd)


def _open_without_atime(path: str | os.PathLike[str], flags: int, dir_fd: int | None) -> int:
    """``os.open`` with O_NOATIME, or without it where the kernel refuses it (not our file)."""
    try:
        return os.open(path, flags | _NOATIME, dir_fd=dir_fd)
    except OSError as exc:
        if not _NOATIME or exc.errno not in (errno.EPERM, errno.EACCES, errno.EINVAL):
            raise
        return os.open(path, flags, dir_fd=dir_fd)
