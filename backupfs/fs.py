"""The FUSE adapter: answers the kernel from the index and the content readers.

It knows nothing about backup formats. Every call that would change anything fails with
EROFS; the source is immutable for the life of the mount, so the kernel is allowed to
cache attributes, entries and pages for as long as it likes.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from backupfs.content import Contents, Reader
from backupfs.index import Entry, Index
from backupfs.kernel_cache import STAT_FIELDS
from backupfs.mounting import Completion, choose_libfuse
from backupfs.mounttable import XATTR_BACKUP
from backupfs.records import Kind

choose_libfuse()  # before mfusepy loads a libfuse

import mfusepy as fuse  # noqa: E402

log = logging.getLogger(__name__)

XATTR_FILEID = "user.backupfs.fileid"
XATTR_ORIGIN = "user.backupfs.origin"
XATTR_MANIFEST_SIZE = "user.backupfs.manifest_size"
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_CACHE_SECONDS = 86400
_BLOCK = 4096
# Never shown, whatever a row records: write bits (the mount is read-only) and setuid/setgid
# (a crafted backup must not plant a privileged-looking program, even on a nosuid mount).
_HIDDEN_BITS = 0o6222
# Always shown: the mounting user can read every file and search every folder of their
# mount (a row recording 0o000 would otherwise hide its file from them).
_OWNER_FILE_BITS = 0o400
_OWNER_DIR_BITS = 0o500


def _erofs(*_args: Any) -> int:
    raise fuse.FuseOSError(errno.EROFS)


class BackupFS(fuse.Operations):
    """Read-only view of one index."""

    use_ns = True

    def __init__(
        self,
        index: Index,
        on_ready: Callable[[], None] | None = None,
        completion: Completion | None = None,
    ) -> None:
        self.index = index
        self._pending = [f"{folder}/" for folder in index.pending_dirs]
        self._completion = completion
        self._settled = threading.Event()
        self._pending_failed = False
        if not self._pending:
            self._settled.set()
        self.contents = Contents(index.roots, index.manifests)
        self._handles: dict[int, Reader] = {}
        self._next_handle = itertools.count(1)
        self._lock = threading.Lock()
        self._on_ready = on_ready
        self._uid = os.getuid()
        self._gid = os.getgid()
        self._mounted_ns = time.time_ns()

    # -- lookups -----------------------------------------------------------------------

    def _entry(self, path: str, listing: bool = False) -> Entry:
        path = path.strip("/")
        self._wait_for_pending(path + "/" if listing else path)
        entry = self.index.lookup(path)
        if entry is None:
            raise fuse.FuseOSError(errno.ENOENT)
        return self.contents.resolved(entry)

    def _wait_for_pending(self, path: str) -> None:
        """Hold a call that reaches into a folder whose content is still being worked out.

        Answering early would be wrong and cached by the kernel for a day (a missing
        file, a short listing), so such calls wait; everything else is served meanwhile.
        """
        if self._settled.is_set() and not self._pending_failed:
            return
        if any(path.startswith(folder) for folder in self._pending):
            self._settled.wait()
            if self._pending_failed:
                raise fuse.FuseOSError(errno.EIO)

    def init(self, path: str) -> None:
        if self._on_ready is not None:
            self._on_ready()
        if not self._settled.is_set() or self._completion is not None:
            threading.Thread(target=self._settle_pending, name="backupfs-pending", daemon=True).start()

    def destroy(self, path: str) -> None:
        """Unmounted: the completion stops at once rather than keep reading the backup."""
        if self._completion is not None:
            self._completion.stop()

    def _settle_pending(self) -> None:
        """Complete the pending folders, then the rest of the index, in the background."""
        if not self._settled.is_set():
            try:
                if self._completion is None:
                    raise RuntimeError("the index has pending folders and nothing to complete them")
                self._completion.run("typing")
                self.index.refresh()
            except Exception as exc:  # the mount stays up; the pending folders answer EIO
                log.error("cannot complete %s: %s", ", ".join(self._pending), exc)
                self._pending_failed = True
            finally:
                self._settled.set()
        # Most mounts reuse a completed index: one count here spares them starting a process.
        if self._completion is not None and self.index.unread_count():
            try:
                self._completion.run("attributes")
                self.index.refresh()
            except Exception as exc:  # entries keep being completed one by one, as so far
                log.warning("cannot complete the index: %s", exc)

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        return dict(zip(STAT_FIELDS, self._attrs(self._entry(path))))

    def _attrs(self, entry: Entry) -> tuple[int, ...]:
        """What ``getattr`` answers for ``entry``, in :data:`STAT_FIELDS` order."""
        size, mtime = self.contents.stat(entry) if entry.kind is Kind.FILE else (entry.size, entry.mtime_ns)
        return self._shown(entry.kind, entry.mode, size, mtime)

    def _shown(self, kind: int, mode: int, size: int, mtime: int) -> tuple[int, ...]:
        """The attributes of an entry: for ``getattr`` and listings alike, one truth for both.

        Owned by the mounting user, read-only; a symlink keeps its mode (links have no
        permissions of their own on Linux, and always show as 0o777). A tuple in
        :data:`STAT_FIELDS` order, not a dict: a listing of 75,000 entries holds one each.
        """
        mtime = mtime or self._mounted_ns
        if kind == Kind.DIR:
            mode = (mode & ~_HIDDEN_BITS) | _OWNER_DIR_BITS
        elif kind != Kind.SYMLINK:
            mode = (mode & ~_HIDDEN_BITS) | _OWNER_FILE_BITS
        nlink = 2 if kind == Kind.DIR else 1
        return mode, nlink, self._uid, self._gid, size, _BLOCK, (size + 511) // 512, mtime, mtime, mtime

    def readdir(self, path: str, fh: int) -> Iterator[tuple[str, dict[str, int] | int, int]]:
        entry = self._entry(path, listing=True)
        if entry.kind is not Kind.DIR:
            raise fuse.FuseOSError(errno.ENOTDIR)
        yield ".", {"st_mode": stat.S_IFDIR}, 0
        yield "..", {"st_mode": stat.S_IFDIR}, 0
        for name, mode in self.index.listing(entry.path):
            yield name, mode, 0  # a bare mode is the cheapest form mfusepy accepts

    def readdir_plus(
        self, path: str, after: str | None, limit: int, skip: int
    ) -> list[tuple[str, tuple[int, ...] | int]]:
        """A chunk of the listing (without "." and "..") with each entry's attributes, for ``kernel_cache``.

        The kernel then answers itself the ``lstat`` of every entry that follows a listing
        in a walk. Only attributes the index already holds are sent: one that would need the
        source (a size the listing of payloads did not stat, metadata still in a Manifest.db
        row, the size of a database merged with its ``-wal``, which means reading the whole
        ``-wal``) is left to ``getattr``, so a plain listing never costs a read per file.
        Once the index is completed in the background (``build.fill_attributes``), nearly
        every entry carries its attributes.
        """
        entry = self._entry(path, listing=True)
        if entry.kind is not Kind.DIR:
            raise fuse.FuseOSError(errno.ENOTDIR)
        shown = self._shown
        return [
            (name, shown(kind, mode, size, mtime_ns) if final else mode)
            for name, kind, mode, size, mtime_ns, final in self.index.listing_attributes(entry.path, after, limit, skip)
        ]

    def readlink(self, path: str) -> str:
        entry = self._entry(path)
        if entry.kind is not Kind.SYMLINK:
            raise fuse.FuseOSError(errno.EINVAL)
        return entry.target or ""

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": _BLOCK, "f_frsize": _BLOCK, "f_namemax": 255}

    # -- reading -------------------------------------------------------------------------

    def open(self, path: str, flags: int) -> int:
        if flags & _WRITE_FLAGS:
            raise fuse.FuseOSError(errno.EROFS)
        entry = self._entry(path)
        if entry.kind is not Kind.FILE:
            raise fuse.FuseOSError(errno.EISDIR if entry.kind is Kind.DIR else errno.EINVAL)
        try:
            reader = self.contents.open(entry)
        except PermissionError:  # the payload's own permissions refuse us: say so, as a disk would
            raise fuse.FuseOSError(errno.EACCES) from None
        except OSError as exc:  # gone, a link, a FIFO, a socket, a failing disk
            log.warning("cannot open %s (%s): %s", path, entry.source, exc)
            raise fuse.FuseOSError(errno.EIO) from None
        except Exception:  # a payload no reader expected: this file fails, the mount stays up
            log.exception("cannot open %s (%s)", path, entry.source)
            raise fuse.FuseOSError(errno.EIO) from None
        handle = next(self._next_handle)
        with self._lock:
            self._handles[handle] = reader
        return handle

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        reader = self._handles.get(fh)
        if reader is None:
            raise fuse.FuseOSError(errno.EBADF)
        try:
            return reader.read(size, offset)
        except OSError as exc:
            log.warning("read of %s failed: %s", path, exc)
            raise fuse.FuseOSError(errno.EIO) from None
        except Exception:  # as in open: EIO for this read rather than mfusepy's EINVAL
            log.exception("read of %s failed", path)
            raise fuse.FuseOSError(errno.EIO) from None

    def release(self, path: str, fh: int) -> int:
        with self._lock:
            self._handles.pop(fh, None)
        return 0

    def access(self, path: str, amode: int) -> int:
        self._entry(path)
        if amode & os.W_OK:
            raise fuse.FuseOSError(errno.EROFS)
        return 0

    # -- extended attributes -------------------------------------------------------------

    def _xattrs(self, entry: Entry) -> dict[str, str]:
        attrs: dict[str, str] = {}
        if not entry.path:  # the root: which backup this is a mount of, for whoever mistakes it for one
            attrs[XATTR_BACKUP] = "\n".join(str(root) for root in self.index.roots)
        if entry.file_id:
            attrs[XATTR_FILEID] = entry.file_id
        if entry.origin:
            attrs[XATTR_ORIGIN] = entry.origin
        if entry.manifest_size is not None and entry.manifest_size != self.contents.payload_stat(entry)[0]:
            attrs[XATTR_MANIFEST_SIZE] = str(entry.manifest_size)
        return attrs

    def listxattr(self, path: str) -> list[str]:
        return list(self._xattrs(self._entry(path)))

    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        value = self._xattrs(self._entry(path)).get(name)
        if value is None:
            raise fuse.FuseOSError(fuse.ENOATTR)
        return value.encode()

    # -- everything that would write -----------------------------------------------------

    chmod = chown = create = link = mkdir = mknod = removexattr = rename = rmdir = _erofs
    setxattr = symlink = truncate = unlink = utimens = write = _erofs
