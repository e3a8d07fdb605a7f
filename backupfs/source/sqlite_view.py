"""A read-only-openable view of an SQLite database and its ``-wal`` sibling.

iOS keeps its databases in WAL mode. A client that finds a WAL-mode database on
read-only media needs to create a ``-shm`` file, cannot, and reports "unable to open
database file"; and the committed transactions still sitting in the ``-wal`` file would
be invisible to it anyway. So we present a virtual database: the main file's pages,
each replaced by its last *committed* version from the WAL, with the header switched
to rollback-journal mode (bytes 18/19 = 1). Any client then opens it read-only, and sees
what SQLite itself would see after recovering the WAL.

WAL frames are accepted exactly as SQLite's own recovery accepts them: salts equal to
the WAL header's and an unbroken cumulative checksum chain, stopping at the first frame
that fails, and keeping only frames up to the last commit frame. That means reading the
whole WAL once at open time, which is the price of never serving a torn or stale frame.
"""

from __future__ import annotations

import errno
import logging
import struct
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol

log = logging.getLogger(__name__)

ReadAt = Callable[[int, int], bytes]


class Reader(Protocol):
    """What serves a file's bytes: a payload, a view, a text."""

    def read(self, size: int, offset: int) -> bytes: ...


class SizedReader(Reader, Protocol):
    """A reader that knows its size: a file of the source, decrypted or not."""

    size: int


class BytesReader:
    """Serves bytes held in memory (a text, a rendered page, a decrypted file)."""

    __slots__ = ("data", "size")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def read(self, size: int, offset: int) -> bytes:
        return self.data[offset : offset + size]

_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
_WAL_HEADER_SIZE = 32
_FRAME_HEADER_SIZE = 24
_WAL_MAGIC_LE = 0x377F0682
_WAL_MAGIC_BE = 0x377F0683
_WAL_VERSION = 3007000
_ROLLBACK = 1
_WAL_MODE = 2
_MASK = 0xFFFFFFFF
# Frames are validated in batches so a WAL of a few MB costs a handful of reads.
_WAL_CHUNK = 1 << 20


def needs_view(head: bytes) -> bool:
    """True when ``head`` starts an SQLite database in WAL mode.

    Either version byte set to 2 is enough: SQLite enters WAL mode on the read version
    (byte 19) and refuses writes on the write version (byte 18), and patching both to 1
    is harmless.
    """
    return len(head) >= 20 and head.startswith(_MAGIC) and _WAL_MODE in (head[18], head[19])


def _page_size(header: bytes) -> int | None:
    """The page size from a database header, or None when it is not one SQLite allows."""
    value = int.from_bytes(header[16:18], "big")
    size = 65536 if value == 1 else value
    if size < 512 or size > 65536 or size & (size - 1):
        return None
    return size


def _read_exact(read: ReadAt, size: int, offset: int) -> bytes:
    """Read ``size`` bytes, tolerating short reads; fewer bytes only at end of file."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = read(size - got, offset + got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _checksum(data: bytes | memoryview, big_endian: bool, s0: int, s1: int) -> tuple[int, int]:
    """SQLite's WAL checksum over ``data`` (a multiple of 8 bytes), continuing from (s0, s1)."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    it = iter(words)
    for x0, x1 in zip(it, it):
        s0 = (s0 + x0 + s1) & _MASK
        s1 = (s1 + x1 + s0) & _MASK
    return s0, s1


class _WalIndex:
    """What a WAL contributes: page -> WAL offset of its data, and the committed page count."""

    def __init__(self, pages: dict[int, int], db_pages: int) -> None:
        self.pages = pages
        self.db_pages = db_pages


def _index_wal(read_wal: ReadAt, wal_size: int, page_size: int) -> _WalIndex | None:
    """Scan the WAL like SQLite's recovery does; None when it contributes nothing."""
    header = _read_exact(read_wal, _WAL_HEADER_SIZE, 0) if wal_size >= _WAL_HEADER_SIZE else b""
    if len(header) < _WAL_HEADER_SIZE:
        return None
    magic, version, wal_page_size, _seq, salt1, salt2, ck1, ck2 = struct.unpack(">8I", header)
    if magic not in (_WAL_MAGIC_LE, _WAL_MAGIC_BE):
        log.info("ignoring -wal: bad magic %#x", magic)
        return None
    big_endian = magic == _WAL_MAGIC_BE
    if version != _WAL_VERSION:
        log.info("ignoring -wal: unknown version %d", version)
        return None
    if wal_page_size != page_size:
        log.info("ignoring -wal: page size %d differs from the database's %d", wal_page_size, page_size)
        return None
    s0, s1 = _checksum(header[:24], big_endian, 0, 0)
    if (s0, s1) != (ck1, ck2):
        log.info("ignoring -wal: header checksum mismatch")
        return None

    frame_size = _FRAME_HEADER_SIZE + page_size
    frames_per_chunk = max(1, _WAL_CHUNK // frame_size)
    n_frames = (wal_size - _WAL_HEADER_SIZE) // frame_size
    committed: dict[int, int] = {}
    pending: dict[int, int] = {}
    db_pages = 0
    frame = 0
    while frame < n_frames:
        count = min(frames_per_chunk, n_frames - frame)
        base = _WAL_HEADER_SIZE + frame * frame_size
        chunk = memoryview(_read_exact(read_wal, count * frame_size, base))
        for i in range(len(chunk) // frame_size):
            start = i * frame_size
            fh = chunk[start : start + _FRAME_HEADER_SIZE]
            pgno, commit, f_salt1, f_salt2, f_ck1, f_ck2 = struct.unpack(">6I", fh)
            if pgno == 0 or (f_salt1, f_salt2) != (salt1, salt2):
                return _finish(committed, db_pages)
            c0, c1 = _checksum(fh[:8], big_endian, s0, s1)
            c0, c1 = _checksum(chunk[start + _FRAME_HEADER_SIZE : start + frame_size], big_endian, c0, c1)
            if (c0, c1) != (f_ck1, f_ck2):
                return _finish(committed, db_pages)
            s0, s1 = c0, c1
            pending[pgno] = base + start + _FRAME_HEADER_SIZE
            if commit:
                committed.update(pending)
                pending.clear()
                db_pages = commit
        if len(chunk) < count * frame_size:
            break
        frame += count
    return _finish(committed, db_pages)


def _finish(committed: dict[int, int], db_pages: int) -> _WalIndex | None:
    return _WalIndex(committed, db_pages) if db_pages else None


class SqliteView:
    """The virtual database's bytes; immutable after construction, so safe across threads."""

    def __init__(
        self,
        read_db: ReadAt,
        db_size: int,
        page_size: int,
        header: bytes,
        read_wal: ReadAt | None,
        wal_pages: Mapping[int, int],
        size: int,
    ) -> None:
        self._read_db = read_db
        self._db_size = db_size
        self._page_size = page_size
        self._header = header
        self._read_wal = read_wal
        self._wal_pages = wal_pages
        self.size = size

    def read(self, size: int, offset: int) -> bytes:
        """Bytes [offset, offset+size) of the virtual database; b"" past its end."""
        if offset < 0 or size < 0:
            raise OSError(errno.EINVAL, "negative read size or offset")
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        parts: list[bytes] = []
        pos = offset
        ps = self._page_size
        while pos < end:
            pgno = pos // ps + 1
            wal_offset = self._wal_pages.get(pgno)
            stop = min(end, pgno * ps)
            if wal_offset is not None:
                parts.append(self._read_wal_part(wal_offset + pos % ps, stop - pos))
            else:
                # Coalesce a run of consecutive pages that come from the main file.
                while stop < end and (stop // ps + 1) not in self._wal_pages:
                    stop = min(end, stop + ps)
                parts.append(self._read_db_part(pos, stop - pos))
            pos = stop
        data = b"".join(parts)
        if offset < _HEADER_SIZE:
            patch = self._header[offset : min(end, _HEADER_SIZE)]
            data = patch + data[len(patch) :]
        return data

    def _read_db_part(self, offset: int, size: int) -> bytes:
        """Main-file bytes; past its end, zeros, which is what SQLite reads there too."""
        available = max(0, min(size, self._db_size - offset))
        data = _read_exact(self._read_db, available, offset) if available else b""
        if len(data) < available:
            raise OSError(errno.EIO, "database file shorter than expected")
        return data + bytes(size - len(data))

    def _read_wal_part(self, offset: int, size: int) -> bytes:
        assert self._read_wal is not None
        data = _read_exact(self._read_wal, size, offset)
        if len(data) < size:
            raise OSError(errno.EIO, "-wal file shorter than expected")
        return data


def open_view(
    read_db: ReadAt, db_size: int, read_wal: ReadAt | None = None, wal_size: int = 0
) -> SqliteView | None:
    """A view of the database with the WAL's committed pages merged in.

    None when the main file is not an SQLite database or its header is unusable. The WAL
    is only consulted when the main header says WAL mode: a rollback-journal database
    never reads a ``-wal``, so a stale one beside it must not change what we show.
    """
    if db_size < _HEADER_SIZE:
        return None
    header = _read_exact(read_db, _HEADER_SIZE, 0)
    if len(header) < _HEADER_SIZE or not header.startswith(_MAGIC):
        return None
    page_size = _page_size(header)
    if page_size is None:
        log.info("not presenting database: unusable page size field %r", header[16:18])
        return None

    index = None
    if read_wal is not None and wal_size and needs_view(header):
        index = _index_wal(read_wal, wal_size, page_size)
    else:
        read_wal = None

    size = db_size
    wal_pages: Mapping[int, int] = MappingProxyType({})
    if index is not None and read_wal is not None:
        size = index.db_pages * page_size
        wal_pages = MappingProxyType(index.pages)
        if 1 in index.pages:
            # The committed page 1 was read whole while validating, so this read is complete.
            header = _read_exact(read_wal, _HEADER_SIZE, index.pages[1])

    patched = bytearray(header)
    for i in (18, 19):
        if patched[i] == _WAL_MODE:
            patched[i] = _ROLLBACK
    if index is not None and patched[24:28] == patched[92:96]:
        in_header = int.from_bytes(patched[28:32], "big")
        if in_header and in_header != index.db_pages:
            patched[28:32] = index.db_pages.to_bytes(4, "big")
    return SqliteView(read_db, db_size, page_size, bytes(patched), read_wal, wal_pages, size)


def merged_view(
    open_payload: Callable[[str], SizedReader], source: str, wal_source: str | None
) -> SqliteView | None:
    """The database at ``source`` with its ``-wal`` merged in (None: not an SQLite database).

    ``open_payload`` opens a payload of the backup by its path in the backup's folder (as
    it is, or decrypted). Raises OSError when the database cannot be read, or its ``-wal``
    has gone since the index was built; a ``-wal`` that cannot be read is left out.
    """
    database = open_payload(source)
    try:
        wal = open_payload(wal_source) if wal_source else None
    except FileNotFoundError:
        raise  # listed when indexed, gone now: fail the read rather than show older content
    except OSError:  # unreadable, or not a regular file: the database alone is what can be shown
        wal = None
    if wal is None:
        return open_view(database.read, database.size)
    return open_view(database.read, database.size, wal.read, wal.size)
