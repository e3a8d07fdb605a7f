"""The low-level backend's answers: kernel requests by node id, answered from a :class:`MountSource`.

libfuse's high-level API (mfusepy's) turns every request into a path and every listing
entry into a ``filler`` call; the low-level one hands over the kernel's own requests, so a
listing is packed here into one reply buffer, with every entry's attributes
(READDIRPLUS), and sent at once. Like :mod:`backupfs.fs.operations` it knows nothing of
backup formats: every answer comes from the :class:`MountSource`, every call that would
change anything fails with EROFS, and every unexpected failure is answered EIO with a log
line, never by taking the mount down. The source never changes under the mount, so the
kernel keeps entries, attributes, pages and listings for as long as the timeouts say.

Node ids: the kernel knows a node by the id a ``lookup`` or a ``readdirplus`` entry gave
it, until it ``forget``\\ s it as many times as it was told of it. The id is the hash of
the node's path, so a node keeps its inode number for the life of the mount even after the
kernel forgot it (see :class:`Inodes`).
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import logging
import os
import stat
import threading
from collections.abc import Callable
from typing import Any

from backupfs.content.mount_source import BLOCK, MountSource
from backupfs.fs.lowlevel import ffi
from backupfs.index.schema import Node
from backupfs.source.manifest.records import Kind
from backupfs.source.sqlite_view import Reader

log = logging.getLogger(__name__)

DAY = 86400.0
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_ENCODING = ("utf-8", "surrogateescape")  # names are bytes to the kernel, str (maybe not UTF-8) to the index
_CHUNK = 512  # entries of a folder read from the index per query
_HASHED = (1 << 63) - 1  # ids from hashes stay below 2**63; ids given on a clash of hashes start there
# Every request that would change something: its arguments do not matter, the answer is EROFS.
_CHANGES = (
    "setattr", "mknod", "mkdir", "unlink", "rmdir", "symlink", "rename", "link", "write", "create", "setxattr",
    "removexattr", "fallocate", "copy_file_range",
)
_DOTS_MODE = stat.S_IFDIR
READDIRPLUS = {
    "yes": ffi.CAP_READDIRPLUS, "auto": ffi.CAP_READDIRPLUS | ffi.CAP_READDIRPLUS_AUTO, "no": 0,
}
"""The values of the ``readdirplus`` option, and the capabilities each asks of the kernel."""
Attributes = tuple[int, ...]
Entry = tuple[bytes, str, "Attributes | int"]
"""An entry of a listing: its name as the kernel sees it, its path, its attributes or its mode alone."""


def _child(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _hashed(path: str) -> int:
    """The node id ``path`` has unless another path of the same hash holds it: never 0 (none) nor 1 (the root)."""
    if not path:
        return ffi.ROOT_ID
    number = hash(path) & _HASHED
    return number + 2 if number <= ffi.ROOT_ID else number


class Inodes:
    """The node ids the kernel holds, with their lookup counts, and the path of each.

    An id is the path's hash (Python's, stable for the life of the process), so ``stat``
    shows a node the same inode number whenever the kernel asks again. Two live paths of
    one hash (about one chance in 20 million at a million nodes) cannot share it: the later
    one gets a number of its own until the kernel forgets it. The root is never forgotten.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[int, str] = {ffi.ROOT_ID: ""}
        self._counts: dict[int, int] = {}
        self._displaced: dict[str, int] = {}
        self._spare = itertools.count(_HASHED + 1)

    def number(self, path: str) -> int:
        """The id ``path`` has or would have, without telling the kernel of it (a listing's ``d_ino``)."""
        return self._displaced.get(path) or _hashed(path)

    def acquire(self, entries: list[Entry]) -> list[int]:
        """The ids of ``entries``; those sent with their attributes are told to the kernel once more.

        One pass under one lock for a whole reply: a listing of 300,000 entries goes
        through here entry by entry, so the work is written out rather than called.
        """
        paths, counts, displaced = self._paths, self._counts, self._displaced
        numbers = []
        with self._lock:
            for _, path, attrs in entries:
                number = displaced.get(path) if displaced else None
                if number is None:
                    number = hash(path) & _HASHED
                    if number <= ffi.ROOT_ID:
                        number = _hashed(path)
                if type(attrs) is tuple:
                    held = paths.get(number)
                    if held is not None and held != path:
                        number = displaced[path] = next(self._spare)
                    paths[number] = path
                    counts[number] = counts.get(number, 0) + 1
                numbers.append(number)
        return numbers

    def forget(self, numbers: list[tuple[int, int]]) -> None:
        """The kernel forgot each ``(id, count)`` that many times (or never had it: a reply it did not get)."""
        with self._lock:
            for number, count in numbers:
                left = self._counts.get(number, 0) - count
                if left > 0:
                    self._counts[number] = left
                    continue
                self._counts.pop(number, None)
                if number == ffi.ROOT_ID:
                    continue
                path = self._paths.pop(number, None)
                if path is not None and self._displaced.get(path) == number:
                    del self._displaced[path]

    def path(self, number: int) -> str:
        """The path of a node the kernel holds; ESTALE for one it was never given or forgot."""
        path = self._paths.get(number)
        if path is None:
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE))
        return path

    def __len__(self) -> int:
        """How many nodes the kernel holds, the root aside."""
        return len(self._counts)


class Listing:
    """One ``opendir`` of a folder: its entries, read from the index a chunk at a time and kept.

    Offsets are positions in this list (after "." and ".."), so every offset the kernel
    gives back names the same entry for as long as the folder is open, whichever reply
    it came in. Each entry is an :data:`Entry`: attributes, or the mode alone when the
    index does not hold them yet (:meth:`MountSource.listing_attributes`).
    """

    def __init__(self, source: MountSource, folder: Node, path: str) -> None:
        self.source, self.folder, self.path = source, folder, path
        self.entries: list[Entry] = []
        self.complete = False
        self.lock = threading.Lock()  # the kernel may read one open folder from several threads
        self._last: str | None = None

    def dots(self, offset: int) -> list[Entry]:
        """"." and "..", those at ``offset`` or after it: the offsets 1 and 2 come after them."""
        dots: list[Entry] = [(b".", self.path, _DOTS_MODE), (b"..", self.path.rpartition("/")[0], _DOTS_MODE)]
        return dots[offset:]

    def following(self, offset: int, room: int, fixed: int) -> tuple[int, list[Entry]]:
        """The entries from ``offset`` on whose records (``fixed`` bytes and the name) fit in ``room`` bytes.

        With the offset that comes after the first of them: after it the kernel asks again.
        """
        start = index = max(offset - 2, 0)
        entries = self.entries
        while True:
            if index >= len(entries):  # a handle opened anew may be asked to go on where another stopped
                if self.complete:
                    break
                self._read_more()
                continue
            room -= fixed + (len(entries[index][0]) + 7 & ~7)
            if room < 0:
                break
            index += 1
        return start + 3, entries[start:index]

    def _read_more(self) -> None:
        rows = self.source.listing_attributes(self.folder, self._last, _CHUNK, 0)
        prefix = f"{self.path}/" if self.path else ""
        self.entries += [(name.encode(*_ENCODING), prefix + name, attrs) for name, attrs in rows]
        self.complete = len(rows) < _CHUNK
        if rows:
            self._last = rows[-1][0]


class LowLevelServer:
    """The callbacks of a libfuse3 low-level session, answering from ``source``.

    ``operations`` is the ``struct fuse_lowlevel_ops`` to give ``fuse_session_new``; this
    object keeps its callbacks alive and must outlive the session. ``keep_cache`` keeps
    each file's pages in the kernel from one open to the next (libfuse's ``kernel_cache``).
    ``readdirplus`` is libfuse's option of that name: "yes" sends attributes with every
    listing (what a walk that ``stat``\\ s wants), "auto" lets the kernel ask for them only
    when it guesses they will be used, "no" never.
    ``on_ready`` is called once the kernel has the mount, before the completion starts.
    """

    def __init__(
        self,
        source: MountSource,
        libfuse: ffi.Libfuse,
        *,
        attr_timeout: float = DAY,
        entry_timeout: float = DAY,
        negative_timeout: float = DAY,
        keep_cache: bool = True,
        readdirplus: str = "yes",
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        self.inodes = Inodes()
        self._fuse = libfuse
        self._attr_timeout, self._entry_timeout, self._negative_timeout = attr_timeout, entry_timeout, negative_timeout
        self._attr_valid, self._entry_valid = ffi.timeout(attr_timeout), ffi.timeout(entry_timeout)
        self._keep_cache = keep_cache
        self._readdirplus = readdirplus  # one of READDIRPLUS
        self._on_ready = on_ready
        self._files: dict[int, Reader] = {}
        self._folders: dict[int, Listing] = {}
        self._handles = itertools.count(1)
        self._callbacks: list[Any] = []
        self.operations = self._operations()

    # -- the operations table ------------------------------------------------------------

    def _operations(self) -> ffi.LowlevelOps:
        operations = ffi.LowlevelOps()
        answered: dict[str, Callable[..., None]] = {
            "lookup": self.lookup, "getattr": self.getattr, "readlink": self.readlink, "open": self.open,
            "read": self.read, "release": self.release, "opendir": self.opendir, "readdir": self.readdir,
            "readdirplus": self.readdirplus, "releasedir": self.releasedir, "statfs": self.statfs,
            "getxattr": self.getxattr, "listxattr": self.listxattr, "access": self.access,
        }
        callbacks: dict[str, Callable[..., None]] = {
            "init": self.init, "destroy": self.destroy, "forget": self.forget, "forget_multi": self.forget_multi,
        }
        callbacks.update({name: self._answering(name, handler) for name, handler in answered.items()})
        callbacks.update({name: self._refusing for name in _CHANGES})
        for name, callback in callbacks.items():
            function = ffi.OPERATION_TYPES[name](callback)
            self._callbacks.append(function)  # ctypes does not keep them alive: libfuse calls them until the end
            setattr(operations, name, function)
        return operations

    def _answering(self, name: str, handler: Callable[..., None]) -> Callable[..., None]:
        """``handler``, with a failure turned into its errno, or into EIO and a log line when unexpected.

        Every handler replies as its last step, so a failure means no reply was sent yet.
        """
        reply_err = self._fuse.fuse_reply_err

        def answer(req: int, ino: int, *args: Any) -> None:
            try:
                handler(req, ino, *args)
            except OSError as exc:  # its errno is the answer
                reply_err(req, exc.errno or errno.EIO)
            except Exception:
                log.exception("%s of %s failed", name, self._described(ino, args[0] if name == "lookup" else None))
                reply_err(req, errno.EIO)

        return answer

    def _described(self, ino: int, name: bytes | None) -> str:
        """The path of node ``ino`` (and of its entry ``name``), for a log line."""
        try:
            path = self.inodes.path(ino)
        except OSError:
            return f"node {ino}"
        if name is not None:
            path = _child(path, name.decode(*_ENCODING))
        return "/" + path

    def _refusing(self, req: int, *args: Any) -> None:
        self._fuse.fuse_reply_err(req, errno.EROFS)

    # -- the session -------------------------------------------------------------------

    def init(self, userdata: int | None, conn: int) -> None:
        """Ask for listings with attributes, cached symlinks and parallel lookups; then the mount is ready."""
        try:
            self._want(self._fuse.conn_info.from_address(conn))
            if self._on_ready is not None:
                self._on_ready()
            self.source.start_completion()
        except Exception:
            log.exception("init failed")

    def _want(self, info: Any) -> None:
        wanted = ffi.CAP_ASYNC_READ | ffi.CAP_CACHE_SYMLINKS | ffi.CAP_PARALLEL_DIROPS | READDIRPLUS[self._readdirplus]
        # No check of the attributes before each read of a cached page: the source never changes.
        unwanted = ffi.CAP_AUTO_INVAL_DATA | (ffi.CAP_READDIRPLUS | ffi.CAP_READDIRPLUS_AUTO) & ~wanted
        if hasattr(info, "want_ext"):  # 3.17: libfuse takes the 64-bit flags when the 32-bit ones agree
            info.want_ext = (info.want_ext | (wanted & info.capable_ext)) & ~unwanted
            info.want = info.want_ext & 0xFFFFFFFF
        else:
            info.want = (info.want | (wanted & info.capable)) & ~unwanted

    def destroy(self, userdata: int | None) -> None:
        try:
            self.source.stop_completion()
        except Exception:
            log.exception("destroy failed")

    def forget(self, req: int, ino: int, nlookup: int) -> None:
        try:
            self.inodes.forget([(ino, nlookup)])
        except Exception:
            log.exception("forget of node %d failed", ino)
        self._fuse.fuse_reply_none(req)  # a forget is never answered otherwise

    def forget_multi(self, req: int, count: int, forgets: int) -> None:
        try:
            forgotten = (ffi.ForgetData * count).from_address(forgets)
            self.inodes.forget([(node.ino, node.nlookup) for node in forgotten])
        except Exception:
            log.exception("forget of %d nodes failed", count)
        self._fuse.fuse_reply_none(req)

    # -- nodes -------------------------------------------------------------------------

    def lookup(self, req: int, parent: int, name: bytes) -> None:
        path = _child(self.inodes.path(parent), name.decode(*_ENCODING))
        try:
            node = self.source.node(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            entry = ffi.EntryParam()  # id 0: "no such entry", kept by the kernel for the negative timeout
            entry.entry_timeout = self._negative_timeout
            self._fuse.fuse_reply_entry(req, ctypes.addressof(entry))
            return
        attrs = self.source.attributes(node)
        entry = ffi.EntryParam(attr_timeout=self._attr_timeout, entry_timeout=self._entry_timeout)
        (entry.ino,) = self.inodes.acquire([(b"", path, attrs)])
        ffi.fill_stat(entry.attr, entry.ino, attrs)
        if self._fuse.fuse_reply_entry(req, ctypes.addressof(entry)) != 0:
            self.inodes.forget([(entry.ino, 1)])  # interrupted: the kernel never had it

    def getattr(self, req: int, ino: int, fi: int | None) -> None:
        attrs = self.source.attributes(self.source.node(self.inodes.path(ino)))
        st = ffi.Stat()
        ffi.fill_stat(st, ino, attrs)
        self._fuse.fuse_reply_attr(req, ctypes.addressof(st), self._attr_timeout)

    def readlink(self, req: int, ino: int) -> None:
        node = self.source.node(self.inodes.path(ino))
        if node.kind is not Kind.SYMLINK:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        self._fuse.fuse_reply_readlink(req, (node.target or "").encode(*_ENCODING))

    def access(self, req: int, ino: int, mask: int) -> None:
        self.source.node(self.inodes.path(ino))
        if mask & os.W_OK:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        self._fuse.fuse_reply_err(req, 0)

    def statfs(self, req: int, ino: int) -> None:
        info = ffi.Statvfs(f_bsize=BLOCK, f_frsize=BLOCK, f_namemax=255)
        self._fuse.fuse_reply_statfs(req, ctypes.addressof(info))

    def getxattr(self, req: int, ino: int, name: bytes, size: int) -> None:
        value = self.source.xattrs(self.source.node(self.inodes.path(ino))).get(name.decode(*_ENCODING))
        if value is None:
            raise OSError(errno.ENODATA, os.strerror(errno.ENODATA))
        self._reply_sized(req, value.encode(*_ENCODING), size)

    def listxattr(self, req: int, ino: int, size: int) -> None:
        names = self.source.xattrs(self.source.node(self.inodes.path(ino)))
        self._reply_sized(req, b"".join(name.encode(*_ENCODING) + b"\0" for name in names), size)

    def _reply_sized(self, req: int, data: bytes, size: int) -> None:
        """An extended attribute's value or names: their length alone when asked with size 0, ERANGE when too long."""
        if size == 0:
            self._fuse.fuse_reply_xattr(req, len(data))
        elif len(data) > size:
            raise OSError(errno.ERANGE, os.strerror(errno.ERANGE))
        else:
            self._fuse.fuse_reply_buf(req, data, len(data))

    # -- files -------------------------------------------------------------------------

    def open(self, req: int, ino: int, fi: int) -> None:
        info = self._fuse.file_info.from_address(fi)
        if info.flags & _WRITE_FLAGS:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        reader = self.source.open(self.source.node(self.inodes.path(ino)))
        handle = next(self._handles)
        self._files[handle] = reader
        info.fh = handle
        if self._keep_cache:
            info.bits |= self._fuse.bits["keep_cache"]
        if self._fuse.fuse_reply_open(req, fi) != 0:  # interrupted: no release will come
            self._files.pop(handle, None)

    def read(self, req: int, ino: int, size: int, offset: int, fi: int) -> None:
        reader = self._files.get(self._fuse.file_info.from_address(fi).fh)
        if reader is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        try:
            data = reader.read(size, offset)
        except OSError as exc:  # the source failed under the mount: this read fails, not another errno
            log.warning("read of %s failed: %s", self._described(ino, None), exc)
            raise OSError(errno.EIO, os.strerror(errno.EIO)) from None
        self._fuse.fuse_reply_buf(req, data, len(data))

    def release(self, req: int, ino: int, fi: int) -> None:
        self._files.pop(self._fuse.file_info.from_address(fi).fh, None)
        self._fuse.fuse_reply_err(req, 0)

    # -- folders -----------------------------------------------------------------------

    def opendir(self, req: int, ino: int, fi: int) -> None:
        """A folder opened: its listing will be kept by the kernel, and kept from one open to the next."""
        path = self.inodes.path(ino)
        listing = Listing(self.source, self.source.folder(path), path)
        handle = next(self._handles)
        self._folders[handle] = listing
        info = self._fuse.file_info.from_address(fi)
        info.fh = handle
        info.bits |= self._fuse.bits["cache_readdir"] | self._fuse.bits["keep_cache"]
        if self._fuse.fuse_reply_open(req, fi) != 0:
            self._folders.pop(handle, None)

    def releasedir(self, req: int, ino: int, fi: int) -> None:
        self._folders.pop(self._fuse.file_info.from_address(fi).fh, None)
        self._fuse.fuse_reply_err(req, 0)

    def _listing(self, fi: int) -> Listing:
        listing = self._folders.get(self._fuse.file_info.from_address(fi).fh)
        if listing is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return listing

    def readdirplus(self, req: int, ino: int, size: int, offset: int, fi: int) -> None:
        """Entries from ``offset``, each with its node id and attributes, packed in one reply of up to ``size`` bytes.

        Each entry sent with a node id counts as a lookup, as the kernel will forget it.
        An entry whose attributes the index does not hold yet goes without one (id 0):
        the kernel looks it up when it is used, rather than the listing reading the source
        for every file. The records are packed here rather than by ``fuse_add_direntry_plus``,
        a ctypes call per entry that would cost more than the rest of the listing.
        """
        listing = self._listing(fi)
        with listing.lock:
            dots = listing.dots(offset)
            room = size - sum(ffi.record_length(name, plus=True) for name, _, _ in dots)
            first, entries = listing.following(offset, room, ffi.DIRENTPLUS_SIZE)
        numbers = self.inodes.acquire(entries)
        direntplus, bare, entry_valid, attr_valid = ffi.direntplus, ffi.direntplus_bare, self._entry_valid, self._attr_valid
        number = self.inodes.number
        records = [bare(name, 3 - len(dots) + at, number(path), mode) for at, (name, path, mode) in enumerate(dots)]
        records += [
            direntplus(name, at, ino, attrs, entry_valid, attr_valid) if type(attrs) is tuple
            else bare(name, at, ino, attrs)  # its attributes are not known yet
            for at, (name, _, attrs), ino in zip(itertools.count(first), entries, numbers)
        ]
        data = b"".join(records)
        if self._fuse.fuse_reply_buf(req, data, len(data)) != 0:
            self.inodes.forget([(ino, 1) for (_, _, attrs), ino in zip(entries, numbers) if type(attrs) is tuple])

    def readdir(self, req: int, ino: int, size: int, offset: int, fi: int) -> None:
        """Entries from ``offset``, names and types only: when the kernel did not ask for attributes."""
        listing = self._listing(fi)
        with listing.lock:
            dots = listing.dots(offset)
            room = size - sum(ffi.record_length(name, plus=False) for name, _, _ in dots)
            first, entries = listing.following(offset, room, ffi.DIRENT_SIZE)
        number, dirent = self.inodes.number, ffi.dirent
        records = [dirent(name, 3 - len(dots) + at, number(path), mode) for at, (name, path, mode) in enumerate(dots)]
        records += [
            dirent(name, at, number(path), attrs[0] if type(attrs) is tuple else attrs)
            for at, (name, path, attrs) in zip(itertools.count(first), entries)
        ]
        data = b"".join(records)
        self._fuse.fuse_reply_buf(req, data, len(data))
