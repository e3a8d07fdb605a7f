"""Manifest.mbdb, the index of iOS 5 to 9 backups: read it, and write it for tests.

The format has no record count or checksums, so a file cut short (an interrupted
backup) is only noticed when a record runs past the end; every whole record before
that point is still good and is kept. Text is decoded with surrogateescape because
device paths are not always valid UTF-8, and hashing must see the original bytes.

Of the three u32 times, the first is the modification time; the other two are taken
as status-change time and birth time, the order MBFile uses in later iOS versions
(some write-ups read them as access and change times instead).
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

from backupfs.source.manifest.records import (
    Kind,
    ManifestReadResult,
    ManifestRecord,
    file_id,
)
from backupfs.source.safe_open import open_source

log = logging.getLogger(__name__)

MAGIC = b"mbdb\x05\x00"
NULL_STRING = 0xFFFF
FIXED_FIELDS = struct.Struct(">HQIIIIIQBB")  # mode, inode, uid, gid, 3 times, size, protection, property count
_KINDS = {0xA000: Kind.SYMLINK, 0x4000: Kind.DIR, 0x8000: Kind.FILE}


class _CutShort(Exception):
    """A record runs past the end of the data."""


class _Cursor:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def take(self, length: int) -> bytes:
        end = self.pos + length
        if end > len(self.data):
            raise _CutShort
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def string(self) -> bytes | None:
        (length,) = struct.unpack(">H", self.take(2))
        return None if length == NULL_STRING else self.take(length)


def parse_mbdb(data: bytes) -> ManifestReadResult:
    """Records of an mbdb image; never raises, however damaged ``data`` is."""
    if not data.startswith(MAGIC):
        if not data:
            problem = "Manifest.mbdb is empty (0 bytes)."
        else:
            problem = "Manifest.mbdb does not start with the mbdb header; it is damaged or not an index."
        return ManifestReadResult([], complete=False, problem=problem)
    records: list[ManifestRecord] = []
    cursor = _Cursor(data, len(MAGIC))
    skipped = 0
    while cursor.pos < len(data):
        start = cursor.pos
        try:
            record = _read_record(cursor)
        except _CutShort:
            log.info("Manifest.mbdb cut short at byte %d of %d", start, len(data))
            return ManifestReadResult(
                records,
                complete=False,
                problem=(
                    f"Manifest.mbdb ends in the middle of a record (byte {start} of {len(data)}); "
                    f"the {len(records)} whole records before it were read."
                ),
            )
        if record is None:
            skipped += 1
        else:
            records.append(record)
    if skipped:
        log.info("Manifest.mbdb: skipped %d records without domain, path or known type", skipped)
    return ManifestReadResult(records, complete=True)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


def _read_record(cursor: _Cursor) -> ManifestRecord | None:
    """One record, or None for a whole record that names nothing usable."""
    domain, path, target = (_text(cursor.string()) for _ in range(3))
    cursor.string()  # digest
    key = cursor.string()
    mode, _inode, uid, gid, mtime, ctime, birth, size, _protection, properties = FIXED_FIELDS.unpack(
        cursor.take(FIXED_FIELDS.size)
    )
    for _ in range(2 * properties):
        cursor.string()
    kind = _KINDS.get(mode & 0xF000)
    if domain is None or path is None or kind is None:
        return None
    return ManifestRecord(
        file_id=file_id(domain, path),
        domain=domain,
        relative_path=path,
        kind=kind,
        size=size,
        mode=mode,
        mtime=mtime,
        ctime=ctime,
        birth=birth,
        uid=uid,
        gid=gid,
        target=target if kind is Kind.SYMLINK else None,
        encrypted=bool(key),
        encryption_key=key or None,  # an empty string, like a null one, means no key
    )


def read_manifest_mbdb(path: Path) -> ManifestReadResult:
    """Read an mbdb from the source without changing it; unreadable files give a problem, not an error."""
    try:
        fd = open_source(path)
    except OSError as exc:
        return ManifestReadResult([], complete=False, problem=f"{path.name} could not be opened: {exc.strerror or exc}.")
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError as exc:
        return ManifestReadResult([], complete=False, problem=f"{path.name} could not be read: {exc.strerror or exc}.")
    finally:
        os.close(fd)
    return parse_mbdb(b"".join(chunks))
