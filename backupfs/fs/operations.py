"""The mfusepy backend: kernel requests answered by a :class:`MountSource`.

It knows nothing about backup formats or the index. Every call that would change
anything fails with EROFS; the source is immutable for the life of the mount, so the
kernel is allowed to cache attributes, entries and pages for as long as it likes. Every
callback answers an unexpected failure with EIO and a log line, never with mfusepy's
EINVAL, and never by taking the mount down.
"""

from __future__ import annotations

import errno
import functools
import itertools
import logging
import os
import stat
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from backupfs.content.mount_source import BLOCK, STAT_FIELDS, MountSource
from backupfs.fs.libfuse import fuse
from backupfs.source.manifest.records import Kind
from backupfs.source.sqlite_view import Reader

log = logging.getLogger(__name__)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
F = TypeVar("F", bound=Callable[..., Any])


def _answers_eio(callback: F) -> F:
    """``callback``, with any failure but an :class:`OSError` turned into EIO and logged."""

    @functools.wraps(callback)
    def answered(self: Any, path: str, *args: Any) -> Any:
        try:
            return callback(self, path, *args)
        except OSError:
            raise  # its errno is the answer (mfusepy's FuseOSError is one)
        except Exception:
            log.exception("%s of %s failed", callback.__name__, path)
            raise fuse.FuseOSError(errno.EIO) from None

    return answered  # type: ignore[return-value]


def _erofs(*_args: Any) -> int:
    raise fuse.FuseOSError(errno.EROFS)


class BackupFS(fuse.Operations):
    """Read-only view of one :class:`MountSource`."""

    use_ns = True

    def __init__(self, source: MountSource, on_ready: Callable[[], None] | None = None) -> None:
        self.source = source
        self._handles: dict[int, Reader] = {}
        self._next_handle = itertools.count(1)
        self._lock = threading.Lock()
        self._on_ready = on_ready

    def init(self, path: str) -> None:
        if self._on_ready is not None:
            self._on_ready()
        self.source.start_completion()

    def destroy(self, path: str) -> None:
        self.source.stop_completion()

    @_answers_eio
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        return dict(zip(STAT_FIELDS, self.source.attributes(self.source.node(path))))

    @_answers_eio
    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int] | int, int]]:
        # A list, not a generator: a failure then happens here, where it is answered EIO.
        dots: list[tuple[str, dict[str, int] | int, int]] = [(".", {"st_mode": stat.S_IFDIR}, 0), ("..", {"st_mode": stat.S_IFDIR}, 0)]
        # A bare mode is the cheapest form mfusepy accepts.
        return dots + [(name, mode, 0) for name, mode in self.source.listing(self.source.folder(path))]

    @_answers_eio
    def readdir_plus(
        self, path: str, after: str | None, limit: int, skip: int
    ) -> list[tuple[str, tuple[int, ...] | int]]:
        """A chunk of the listing (without "." and "..") with attributes, for ``kernel_cache``."""
        return self.source.listing_attributes(self.source.folder(path), after, limit, skip)

    @_answers_eio
    def readlink(self, path: str) -> str:
        node = self.source.node(path)
        if node.kind is not Kind.SYMLINK:
            raise fuse.FuseOSError(errno.EINVAL)
        return node.target or ""

    @_answers_eio
    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": BLOCK, "f_frsize": BLOCK, "f_namemax": 255}

    @_answers_eio
    def open(self, path: str, flags: int) -> int:
        if flags & _WRITE_FLAGS:
            raise fuse.FuseOSError(errno.EROFS)
        reader = self.source.open(self.source.node(path))
        handle = next(self._next_handle)
        with self._lock:
            self._handles[handle] = reader
        return handle

    @_answers_eio
    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        reader = self._handles.get(fh)
        if reader is None:
            raise fuse.FuseOSError(errno.EBADF)
        try:
            return reader.read(size, offset)
        except OSError as exc:  # the source failed under the mount: this read fails, not another errno
            log.warning("read of %s failed: %s", path, exc)
            raise fuse.FuseOSError(errno.EIO) from None

    @_answers_eio
    def release(self, path: str, fh: int) -> int:
        with self._lock:
            self._handles.pop(fh, None)
        return 0

    @_answers_eio
    def access(self, path: str, amode: int) -> int:
        self.source.node(path)
        if amode & os.W_OK:
            raise fuse.FuseOSError(errno.EROFS)
        return 0

    @_answers_eio
    def listxattr(self, path: str) -> list[str]:
        return list(self.source.xattrs(self.source.node(path)))

    @_answers_eio
    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        value = self.source.xattrs(self.source.node(path)).get(name)
        if value is None:
            raise fuse.FuseOSError(fuse.ENOATTR)
        return value.encode()

    # -- everything that would write -----------------------------------------------------

    chmod = chown = create = link = mkdir = mknod = removexattr = rename = rmdir = _erofs
    setxattr = symlink = truncate = unlink = utimens = write = _erofs
