"""Let the Linux kernel keep the mount's listings and attributes, which never change.

Every request that reaches Python costs a few hundred microseconds, so at a phone's
300,000 files what matters is how many requests the kernel makes. mfusepy (3.1) leaves
unused the two libfuse3 features that spare them, and libfuse 3.14's high-level API
(Debian 12's) drops parts of both, hence this subclass:

* READDIRPLUS: each entry of a listing goes to the kernel with its full attributes, so
  the ``lstat`` that follows a listing in every walk (``find -ls``, ``du``, ``rsync``, file
  managers) is answered by the kernel, not by a lookup per file. mfusepy never passes
  FUSE_FILL_DIR_PLUS, and libfuse 3.14 sends the attributes only for entries filled with
  a non-zero offset (at offset 0 it queues them with inode 0, "ignore the attributes"),
  so listings are filled here with offsets. READDIRPLUS_AUTO is turned off: with it the
  kernel asks for attributes only with the first page of a listing.
* FOPEN_CACHE_DIR and FOPEN_KEEP_CACHE: the kernel keeps a folder's listing and lists it
  again without asking. libfuse 3.14's high-level ``opendir`` copies only ``fh`` from the
  ``fuse_file_info`` it hands to the filesystem, so ``cache_readdir`` set there never
  reaches the kernel. The flags are therefore set on the low-level request: the session's
  ``opendir`` entry is wrapped at ``init``. That needs the offset of ``op.opendir`` in
  libfuse's private ``struct fuse_session``, read off ``do_opendir``'s machine code for
  each version listed in ``_OPENDIR_SLOT``; on any other version listings are simply not
  cached by the kernel. (mfusepy's ``fuse_file_info`` bits match 3.14's ``fill_open``.)

With libfuse2 (macOS, or a Linux without libfuse3) mfusepy's own behaviour is kept.
"""

from __future__ import annotations

import ctypes
import logging
import operator
import os
import stat
import struct
import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache

from backupfs.content.mount_source import STAT_FIELDS
from backupfs.fs.libfuse import fuse as mfusepy

log = logging.getLogger(__name__)

FUSE_READDIR_PLUS = 1 << 0  # enum fuse_readdir_flags
FUSE_FILL_DIR_PLUS = 1 << 1  # enum fuse_fill_dir_flags
FUSE_CAP_AUTO_INVAL_DATA = 1 << 12
FUSE_CAP_READDIRPLUS_AUTO = 1 << 14
LIBFUSE_VERSION = (mfusepy.fuse_version_major, mfusepy.fuse_version_minor)
# offsetof(struct fuse_session, op.opendir) on 64-bit builds: do_opendir loads it as
# `mov 0xc8(%rax),%rax`.
_OPENDIR_SLOT = {(3, 14): 0xC8}
# Rows read from the index per query, and folders being listed whose next rows are kept.
_CHUNK = 512
_WINDOWS_KEPT = 16

if mfusepy.fuse_version_major == 3:
    _LowLevelOpendir = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(mfusepy.fuse_file_info))
    mfusepy._libfuse.fuse_get_session.restype = ctypes.c_void_p
    mfusepy._libfuse.fuse_get_session.argtypes = [ctypes.c_void_p]



class KernelCachingFUSE(mfusepy.FUSE):
    """mfusepy's FUSE, plus the kernel caching of listings and attributes described above.

    The operations object must provide ``readdir_plus(path, after, limit, skip)``,
    returning up to ``limit`` ``(name, attrs)`` of the folder's entries but "." and "..",
    in a fixed order, starting after the one named ``after`` or, when ``after`` is None,
    after the first ``skip``. ``attrs`` holds the values ``getattr`` returns for that
    entry, in :data:`STAT_FIELDS` order, or is a bare mode for an entry whose attributes
    are left to a later ``getattr``.
    """

    def __init__(self, operations: Any, mountpoint: str, **kwargs: Any) -> None:
        # Set before mfusepy's __init__, which runs the filesystem until it is unmounted.
        self._windows: LRUCache[bytes, _Window] = LRUCache(maxsize=_WINDOWS_KEPT)
        self._windows_lock = threading.Lock()
        self._opendir_wrapper: Any = None
        super().__init__(operations, mountpoint, **kwargs)

    def init_fuse_3(self, conn: Any, config: Any) -> None:
        if conn:
            # Always listings with attributes; and no check of the attributes before each
            # read of a cached page: the source never changes under the mount.
            conn.contents.want &= ~(FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_AUTO_INVAL_DATA)
        self._cache_listings()
        super().init_fuse_3(conn, config)

    def _cache_listings(self) -> None:
        """Wrap the session's low-level ``opendir`` so that each reply asks the kernel to cache."""
        slot = _OPENDIR_SLOT.get(LIBFUSE_VERSION) if ctypes.sizeof(ctypes.c_void_p) == 8 else None
        if slot is None:
            log.info("libfuse %d.%d: folder listings are not cached by the kernel", *LIBFUSE_VERSION)
            return
        fuse = mfusepy._libfuse.fuse_get_context().contents.fuse
        session = mfusepy._libfuse.fuse_get_session(fuse)
        entry = ctypes.c_void_p.from_address(session + slot)
        if not _in_libfuse_code(entry.value):
            log.warning("unexpected libfuse %d.%d session layout: folder listings are not cached", *LIBFUSE_VERSION)
            return
        original = _LowLevelOpendir(entry.value)

        def opendir(req: int, ino: int, fip: Any) -> None:
            fip.contents.cache_readdir = 1
            fip.contents.keep_cache = 1
            original(req, ino, fip)

        self._opendir_wrapper = _LowLevelOpendir(opendir)  # kept alive for the life of the mount
        entry.value = ctypes.cast(self._opendir_wrapper, ctypes.c_void_p).value

    def readdir_fuse_3(self, path: bytes | None, buf: Any, filler: Any, offset: int, fip: Any, flags: int) -> int:
        if not flags & FUSE_READDIR_PLUS or path is None:
            return super().readdir_fuse_3(path, buf, filler, offset, fip, flags)
        # One stat structure serves every entry: libfuse copies it into the reply.
        st = mfusepy.c_stat()
        position = offset
        for dot_offset, dot in ((1, b"."), (2, b"..")):
            if position < dot_offset:
                st.st_mode = stat.S_IFDIR
                if filler(buf, dot, st, dot_offset, 0) != 0:
                    return 0
                position = dot_offset
        with self._windows_lock:
            window = self._windows.pop(path, None)
        rows, before, ended = window.resuming(position) if window else ([], {}, False)
        sent: dict[int, str] = {}  # offset -> name of each entry of this reply
        encoding, errors = self.encoding, self.errors
        while True:
            if not rows:
                if ended:  # kept for the request that follows, which finds the end
                    with self._windows_lock:
                        self._windows[path] = _Window(position, [], sent, ended)
                    return 0
                after = sent.get(position) or before.get(position)
                rows = self.operations.readdir_plus(
                    path.decode(encoding, errors), after, _CHUNK, 0 if after is not None else position - 2
                )
                ended = len(rows) < _CHUNK
            for number, (name, attrs) in enumerate(rows):
                if isinstance(attrs, tuple):
                    _pack_stat(st, attrs)
                    fill = FUSE_FILL_DIR_PLUS
                else:  # libfuse reads only the mode of an entry sent without attributes
                    st.st_mode, fill = attrs, 0
                if filler(buf, name.encode(encoding, errors), st, position + 1, fill) != 0:
                    # The reply is full: the kernel asks again from an offset of this reply.
                    with self._windows_lock:
                        self._windows[path] = _Window(position, rows[number:], sent, ended)
                    return 0
                position += 1
                sent[position] = name
            rows = []


class _Window:
    """The rows of a folder read from the index but not yet taken by the kernel.

    A folder is read from the index a chunk at a time, so a listing of 75,000 entries never
    sits whole in memory; the kernel takes a few dozen entries per request and asks again
    from the offset of the last one it kept. ``sent`` names the entries of the last reply
    by offset, so a listing can go on after any of them.
    """

    def __init__(self, position: int, rows: list[tuple[str, Any]], sent: dict[int, str], ended: bool) -> None:
        self.position, self.rows, self.sent, self.ended = position, rows, sent, ended

    def resuming(self, position: int) -> tuple[list[tuple[str, Any]], dict[int, str], bool]:
        """The rows that follow ``position`` if known, the last reply's names by offset, and whether the folder ends."""
        if position == self.position:
            return self.rows, self.sent, self.ended
        return [], self.sent, False


def _stat_packer() -> tuple[struct.Struct, Callable[[tuple[int, ...]], tuple[int, ...]]]:
    """A packer of the ``c_stat`` fields named in :data:`STAT_FIELDS`, and the reordering it needs.

    mfusepy's ``set_st_attrs`` with a fresh ``c_stat`` costs about eight microseconds per
    entry, a third of a READDIRPLUS listing's cost; one ``pack_into`` costs two. The
    layout is read off mfusepy's ``c_stat`` itself, so it follows each platform's ``struct
    stat``. Values come in :data:`STAT_FIELDS` order, each time as seconds then
    nanoseconds, and are put in the order of the fields' offsets.
    """
    codes = {2: "H", 4: "I", 8: "q"}
    long_size = ctypes.sizeof(ctypes.c_long)
    fields: list[tuple[int, int]] = []  # (offset, size) of each value
    for key in STAT_FIELDS:
        if key.endswith("time"):  # a timespec: seconds, then nanoseconds
            offset = getattr(mfusepy.c_stat, key + "spec").offset
            fields += [(offset, long_size), (offset + long_size, long_size)]
        else:
            field = getattr(mfusepy.c_stat, key)
            fields.append((field.offset, field.size))
    order = sorted(range(len(fields)), key=lambda position: fields[position][0])
    layout, end = "=", 0
    for position in order:
        offset, size = fields[position]
        layout += f"{offset - end}x{codes[size]}"
        end = offset + size
    return struct.Struct(layout), operator.itemgetter(*order)


_STAT_PACKER, _STAT_ORDER = _stat_packer()


def _pack_stat(st: Any, values: tuple[int, ...]) -> None:
    """Fill ``st`` from the values of :data:`STAT_FIELDS`, as mfusepy fills it for ``getattr``.

    The fields ``getattr`` leaves out (device, inode, rdev) are left as they are: zero.
    """
    mode, nlink, uid, gid, size, blksize, blocks, atime, mtime, ctime = values
    seconds = 1_000_000_000
    _STAT_PACKER.pack_into(st, 0, *_STAT_ORDER((
        mode, nlink, uid, gid, size, blksize, blocks, *divmod(atime, seconds), *divmod(mtime, seconds),
        *divmod(ctime, seconds),
    )))


def _in_libfuse_code(address: int | None) -> bool:
    """Whether ``address`` lies in executable code of the loaded libfuse, as a function pointer must."""
    if not address:
        return False
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) < 6 or "x" not in fields[1] or "libfuse3" not in os.path.basename(fields[5]):
                    continue
                start, end = (int(part, 16) for part in fields[0].split("-"))
                if start <= address < end:
                    return True
    except OSError:
        return False
    return False
