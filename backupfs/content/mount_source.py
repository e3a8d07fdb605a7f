"""What a FUSE backend needs of a mounted index: the one interface between the fs and the rest.

A backend (the mfusepy one in :mod:`backupfs.fs.operations`, and any other beside it)
turns kernel requests into calls of :class:`MountSource` and its answers into replies; it
knows nothing of backup formats, the index's tables or how contents are read. Errors come
as :class:`OSError` with the errno the caller should see.

:class:`MountSource` also holds the mount to the truth while the index is being completed
in the background: a request that reaches into a folder whose content is still being
worked out waits for it, as answering early would be wrong, and cached by the kernel.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from backupfs.content.contents import Contents
from backupfs.index.paths import OTHER_DATA
from backupfs.index.readable import local_zone
from backupfs.index.schema import Node
from backupfs.index.store import MEASURED_IN, Index
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.manifest.records import Kind
from backupfs.source.mounttable import XATTR_BACKUP
from backupfs.source.sqlite_view import Reader

log = logging.getLogger(__name__)

XATTR_FILEID = "user.backupfs.fileid"
XATTR_ORIGIN = "user.backupfs.origin"
XATTR_MANIFEST_SIZE = "user.backupfs.manifest_size"
XATTR_TYPE = "user.backupfs.type"
STAT_FIELDS = (
    "st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_blksize", "st_blocks", "st_atime", "st_mtime", "st_ctime",
)
"""What :meth:`MountSource.attributes` gives, in this order; times in nanoseconds."""
BLOCK = 4096
# Never shown, whatever a row records: write bits (the mount is read-only) and setuid/setgid
# (a crafted backup must not plant a privileged-looking program, even on a nosuid mount).
_HIDDEN_BITS = 0o6222
# Always shown: the mounting user can read every file and search every folder of their
# mount (a row recording 0o000 would otherwise hide its file from them).
_OWNER_FILE_BITS = 0o400
_OWNER_DIR_BITS = 0o500


class Completion(Protocol):
    """Completes the index while the mount serves (see :class:`backupfs.index.complete.Completion`)."""

    def run(self, step: str) -> None:
        """Run "readable" (fill the readable folders), "typing" (fill other-data) or "attributes" (sizes, metadata)."""

    def stop(self) -> None:
        """Drop what is running; run nothing more."""


def _error(number: int) -> OSError:
    return OSError(number, os.strerror(number))


class MountSource:
    """One index as a tree of nodes, their attributes and their contents; shared by all FUSE threads."""

    def __init__(self, index: Index, completion: Completion | None = None, keep_folders_open: bool = False) -> None:
        """``keep_folders_open``: the source folders stay open for the object's life, which an
        extract wants and a mount must not (see :class:`~backupfs.index.payload_files.PayloadFiles`)."""
        self.index = index
        self.contents = Contents(index, keep_folders_open)
        self._completion = completion
        # Each folder still to be filled, until the step that fills it is done.
        self._pending = {f"{folder}/": threading.Event() for folder in index.pending_dirs}
        self._failed: set[str] = set()
        self._uid = os.getuid() if hasattr(os, "getuid") else 0  # Windows has no owners of this kind
        self._gid = os.getgid() if hasattr(os, "getgid") else 0
        self._mounted_ns = time.time_ns()

    # -- completing the index while mounted ----------------------------------------------

    def start_completion(self) -> None:
        """Complete, in the background, what the index left pending or to be read later."""
        if self._pending or self._completion is not None:
            threading.Thread(target=self._complete, name="backupfs-completion", daemon=True).start()

    def stop_completion(self) -> None:
        """Unmounted: the completion stops at once rather than keep reading the backup."""
        if self._completion is not None:
            self._completion.stop()

    def _complete(self) -> None:
        """Run the steps of the completion in order: each releases the folders it fills."""
        self._fill("readable", READABLE_FOLDER)
        self._finish("measuring", lambda: self.index.unmeasured(local_zone()))
        self._fill("typing", OTHER_DATA)
        self._finish("attributes", self.index.unread_count)

    def _fill(self, step: str, folder_name: str) -> None:
        """Run ``step``, which fills the pending folders called ``folder_name``; then release them."""
        folders = [folder for folder in self._pending if folder.rstrip("/").rpartition("/")[2] == folder_name]
        if not folders:
            return
        try:
            if self._completion is None:
                raise RuntimeError("the index has pending folders and nothing to complete them")
            self._completion.run(step)
            self.index.refresh()
        except Exception as exc:  # the mount stays up; these folders answer EIO
            log.error("cannot complete %s: %s", ", ".join(folders), exc)
            self._failed.update(folders)
        finally:
            for folder in folders:
                self._pending[folder].set()

    def _finish(self, step: str, needed: Callable[[], object]) -> None:
        """Run ``step`` when ``needed()``: most mounts reuse a completed index, and a query spares them a process."""
        if self._completion is None or not needed():
            return
        try:
            self._completion.run(step)
            self.index.refresh()
        except Exception as exc:  # what the step would have written is worked out node by node, as so far
            log.warning("cannot complete the index (%s): %s", step, exc)

    def _wait_for_pending(self, path: str) -> None:
        """Hold a request that reaches into a folder whose content is still being worked out.

        Answering early would be wrong and cached by the kernel for a day (a missing
        file, a short listing), so such requests wait; everything else is served meanwhile.
        """
        for folder, filled in self._pending.items():
            if path.startswith(folder):
                filled.wait()
                if folder in self._failed:
                    raise _error(errno.EIO)

    # -- nodes ---------------------------------------------------------------------------

    def node(self, path: str, listing: bool = False) -> Node:
        """The node at ``path`` ("/a/b" or "a/b"); ``listing`` when its content is asked for too."""
        path = path.strip("/")
        self._wait_for_pending(path + "/" if listing else path)
        node = self.index.lookup(path)
        if node is None:
            raise _error(errno.ENOENT)
        return self.contents.resolved(node)

    def folder(self, path: str) -> Node:
        """The folder at ``path``, to list (ENOTDIR when it is not one)."""
        node = self.node(path, listing=True)
        if node.kind is not Kind.DIR:
            raise _error(errno.ENOTDIR)
        return node

    def attributes(self, node: Node) -> tuple[int, ...]:
        """What ``stat`` shows for ``node``, in :data:`STAT_FIELDS` order."""
        size, mtime = self.contents.stat(node) if node.kind is Kind.FILE else (node.size, node.mtime_ns)
        return self._shown(node.kind, node.mode, size, mtime)

    def _shown(self, kind: int, mode: int, size: int, mtime: int) -> tuple[int, ...]:
        """The attributes of a node: for ``stat`` and listings alike, one truth for both.

        Owned by the mounting user, read-only; a symlink keeps its mode (links have no
        permissions of their own on Linux, and always show as 0o777). A tuple, not a
        dict: a listing of 75,000 entries holds one each.
        """
        mtime = mtime or self._mounted_ns
        if kind == Kind.DIR:
            mode = (mode & ~_HIDDEN_BITS) | _OWNER_DIR_BITS
        elif kind != Kind.SYMLINK:
            mode = (mode & ~_HIDDEN_BITS) | _OWNER_FILE_BITS
        nlink = 2 if kind == Kind.DIR else 1
        return mode, nlink, self._uid, self._gid, size, BLOCK, (size + 511) // 512, mtime, mtime, mtime

    def listing(self, folder: Node) -> list[tuple[str, int]]:
        """``(name, mode)`` of each entry of ``folder``: what a plain listing needs and no more."""
        return self.index.listing(folder.path)

    def children(self, folder: Node) -> list[Node]:
        """The entries of ``folder`` as :meth:`node` gives each: for a walk that opens them all."""
        resolved = self.contents.resolved
        return [resolved(node) for node in self.index.children(folder.path)]

    def listing_attributes(
        self, folder: Node, after: str | None, limit: int, skip: int
    ) -> list[tuple[str, tuple[int, ...] | int]]:
        """A chunk of ``folder``'s entries, each with its attributes, or its mode alone.

        Only attributes the index already holds are given: one that would need the source
        (a size the listing of payloads did not stat, metadata still in a Manifest.db row,
        the size of a database merged with its ``-wal``, which means reading the whole
        ``-wal``) is left to :meth:`attributes`, so a listing never costs a read per file.
        Once the index is completed in the background, nearly every entry carries them.
        In the order of the names' bytes: up to ``limit`` entries after the one named
        ``after``, or after the first ``skip``.
        """
        shown = self._shown
        rendered_sizes_hold = self.index.meta.get(MEASURED_IN) == local_zone()
        entries = self.index.listing_attributes(folder.path, after, limit, skip, rendered_sizes_hold)
        return [(name, shown(kind, mode, size, mtime_ns) if final else mode)
                for name, kind, mode, size, mtime_ns, final in entries]

    def open(self, node: Node) -> Reader:
        """A reader of ``node``'s content. EACCES when the payload's own permissions refuse it,
        EIO when it cannot be read (gone, a link, a FIFO, a failing disk)."""
        if node.kind is not Kind.FILE:
            raise _error(errno.EISDIR if node.kind is Kind.DIR else errno.EINVAL)
        try:
            return self.contents.open(node)
        except PermissionError:
            raise _error(errno.EACCES) from None
        except OSError as exc:
            log.warning("cannot open %s (%s): %s", node.path, node.source, exc)
            raise _error(errno.EIO) from None

    def xattrs(self, node: Node) -> dict[str, str]:
        """The extended attributes that trace ``node`` back to the backup."""
        attrs: dict[str, str] = {}
        if not node.path:  # the root: which backup this is a mount of, for whoever mistakes it for one
            attrs[XATTR_BACKUP] = "\n".join(str(root) for root in self.index.roots)
        if node.file_id:
            attrs[XATTR_FILEID] = node.file_id
        if node.origin:
            attrs[XATTR_ORIGIN] = node.origin
        if node.file_type:  # "encrypted" for a file shown as the ciphertext it is
            attrs[XATTR_TYPE] = node.file_type
        if node.manifest_size is not None and node.manifest_size != self.contents.payload_stat(node)[0]:
            attrs[XATTR_MANIFEST_SIZE] = str(node.manifest_size)
        return attrs
