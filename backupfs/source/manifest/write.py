"""Write the backup's own index: MBFile archives, Manifest.mbdb, and Manifest.db with Apple's schema.

The product writes manifests since the repaired backup (:mod:`backupfs.export.repaired`)
synthesises one for a backup whose own was lost; the demo, the tests and the benchmarks
write their sample backups with the same encoders. They lay out an MBFile archive (a
Manifest.db row's metadata) and a Manifest.mbdb image as iOS lays them out, so that the
readers beside this module, and other tools, read what a device writes.
"""

from __future__ import annotations

import functools
import sqlite3
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from backupfs.source.manifest.mbdb import FIXED_FIELDS, MAGIC, NULL_STRING
from backupfs.source.manifest.records import Kind, ManifestRecord

MOBILE_UID = 501
"""The owner (user and group) iOS gives the files of a backup: ``mobile``."""

_TYPE_BITS = {Kind.SYMLINK: 0xA000, Kind.DIR: 0x4000, Kind.FILE: 0x8000}
_PLACEHOLDER_KEY = b"\x03\x00\x00\x00" + bytes(40)  # class 3, a wrapped key of zeros: unusable, but well formed


def encode_mbfile(
    *,
    relative_path: str,
    mode: int,
    size: int,
    mtime: int,
    ctime: int | None = None,
    birth: int | None = None,
    uid: int = MOBILE_UID,
    gid: int = MOBILE_UID,
    inode: int = 0,
    flags: int = 0,
    protection_class: int = 3,
    target: str | None = None,
    encryption_key: bytes | None = None,
) -> bytes:
    """Build an MBFile archive laid out as iOS lays it out ($null, MBFile, strings, classes).

    Integers outside the signed 64-bit range raise ValueError.
    """
    template = _template(target is not None, encryption_key is not None)
    out = bytearray(template.prefix)
    values = (
        mtime, size, mtime if birth is None else birth, mtime if ctime is None else ctime,
        mode, uid, gid, inode, flags, protection_class,
    )
    interleaved = [0x13] * (2 * len(values))  # each integer object: marker, then 8 bytes
    interleaved[1::2] = values
    try:
        template.ints.pack_into(out, template.ints_at, *interleaved)
    except struct.error as exc:
        raise ValueError(f"MBFile value out of range: {exc}") from exc
    variable = [_string_object(_plist_safe(relative_path))]
    if target is not None:
        variable.append(_string_object(_plist_safe(target)))
    if encryption_key is not None:
        variable.append(_marker(0x40, len(encryption_key)) + encryption_key)
    offsets = []
    for encoded in variable:
        offsets.append(len(out))
        out += encoded
    table_offset = len(out)
    size_code = 2 if table_offset < 1 << 16 else 4
    for offset in offsets:
        out += offset.to_bytes(size_code, "big")
    out += template.fixed_table[size_code]
    out += struct.pack(">6xBBQQQ", size_code, _REF.size, template.count, template.top, table_offset)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class _Template:
    """The constant part of one archive shape; only ints and the variable strings change."""

    prefix: bytes
    ints: struct.Struct
    ints_at: int
    fixed_table: dict[int, bytes]
    count: int
    top: int


_INT_KEYS = (
    "LastModified", "Size", "Birth", "LastStatusChange", "Mode",
    "UserID", "GroupID", "InodeNumber", "Flags", "ProtectionClass",
)


@functools.cache
def _template(has_target: bool, has_key: bool) -> _Template:
    """Lay out the objects once: variable ones take the first indices but sit last in the file."""
    objects: list[bytes | None] = [None] * (1 + has_target + has_key)  # reserved, filled per call
    strings: dict[str, int] = {}

    def add(encoded: bytes) -> int:
        objects.append(encoded)
        return len(objects) - 1

    def string(value: str) -> int:
        if value not in strings:
            strings[value] = add(_string_object(value))
        return strings[value]

    def refs(indices: list[int]) -> bytes:
        return b"".join(_REF.pack(i) for i in indices)

    def dictionary(items: list[tuple[str, int]]) -> int:
        keys = [string(k) for k, _ in items]
        return add(_marker(0xD0, len(items)) + refs(keys + [v for _, v in items]))

    def array(indices: list[int]) -> int:
        return add(_marker(0xA0, len(indices)) + refs(indices))

    def uid(value: int) -> int:
        return add(bytes([0x80]) + value.to_bytes(1, "big"))

    def class_dict(name: str, chain: list[str]) -> int:
        return dictionary([("$classname", string(name)), ("$classes", array([string(c) for c in chain]))])

    first_int = len(objects)
    for _ in _INT_KEYS:
        add(b"\x13" + bytes(8))
    path_ref, target_ref, key_ref = 0, (1 if has_target else None), (1 + has_target if has_key else None)
    archive: list[int] = [string("$null"), -1, path_ref]  # -1: MBFile, filled below
    items = [(k, first_int + i) for i, k in enumerate(_INT_KEYS)]
    items.append(("RelativePath", uid(2)))
    if target_ref is not None:
        items.append(("Target", uid(len(archive))))
        archive.append(target_ref)
    if key_ref is not None:
        items.append(("EncryptionKey", uid(len(archive))))
        archive.append(dictionary([("NS.data", key_ref), ("$class", uid(len(archive) + 1))]))
        archive.append(class_dict("NSMutableData", ["NSMutableData", "NSData", "NSObject"]))
    items.append(("$class", uid(len(archive))))
    archive.append(class_dict("MBFile", ["MBFile", "NSObject"]))
    archive[1] = dictionary(items)
    top = dictionary(
        [
            ("$version", add(_int_object(100000))),
            ("$archiver", string("NSKeyedArchiver")),
            ("$top", dictionary([("root", uid(1))])),
            ("$objects", array(archive)),
        ]
    )
    prefix = bytearray(b"bplist00")
    fixed_offsets: list[int] = []
    ints_at = 0
    for index, encoded in enumerate(objects):
        if encoded is None:
            continue
        if index == first_int:
            ints_at = len(prefix)
        fixed_offsets.append(len(prefix))
        prefix += encoded
    return _Template(
        prefix=bytes(prefix),
        ints=struct.Struct(">" + "Bq" * len(_INT_KEYS)),
        ints_at=ints_at,
        fixed_table={size: b"".join(o.to_bytes(size, "big") for o in fixed_offsets) for size in (2, 4)},
        count=len(objects),
        top=top,
    )


def _plist_safe(text: str) -> str:
    """Plists hold Unicode only: surrogate-escaped bytes become U+FFFD, as a device would."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_REF = struct.Struct(">H")


def _marker(kind: int, count: int) -> bytes:
    if count < 15:
        return bytes([kind | count])
    return bytes([kind | 0xF]) + _int_object(count)


def _string_object(value: str) -> bytes:
    if value.isascii():
        return _marker(0x50, len(value)) + value.encode("ascii")
    utf16 = value.encode("utf-16-be")
    return _marker(0x60, len(utf16) // 2) + utf16


def _int_object(value: int) -> bytes:
    """Smallest unsigned form; encode_mbfile only needs it for lengths and constants."""
    for power, size in ((0, 1), (1, 2), (2, 4)):
        if value < 1 << (8 * size):
            return bytes([0x10 | power]) + value.to_bytes(size, "big")
    return b"\x13" + value.to_bytes(8, "big", signed=True)


def encode_mbdb(records: Iterable[ManifestRecord]) -> bytes:
    """The mbdb image holding ``records`` (None fields written as 0 or null strings).

    A record's ``encryption_key`` is written as its EncryptionKey string, and its class
    (the key's first byte: classes are below 256) as the protection class; an ``encrypted``
    record without a key gets a placeholder key of class 3.
    """
    out = bytearray(MAGIC)
    for record in records:
        mode = record.mode if record.mode is not None else _TYPE_BITS[record.kind] | 0o644
        mtime = record.mtime or 0
        for text in (record.domain, record.relative_path, record.target if record.kind is Kind.SYMLINK else None):
            _put_string(out, None if text is None else text.encode("utf-8", "surrogateescape"))
        _put_string(out, None)  # digest
        key = record.encryption_key
        if key is None and record.encrypted:
            key = _PLACEHOLDER_KEY
        _put_string(out, key)
        protection = key[0] if key else 3 if record.kind is Kind.FILE else 0
        out += FIXED_FIELDS.pack(
            mode,
            int(record.file_id[:16], 16),  # a stable, plausible inode number
            record.uid or 0,
            record.gid or 0,
            mtime,
            mtime if record.ctime is None else record.ctime,
            mtime if record.birth is None else record.birth,
            record.size or 0,
            protection,
            0,
        )
    return bytes(out)


def _put_string(out: bytearray, raw: bytes | None) -> None:
    if raw is None:
        out += b"\xff\xff"
        return
    if len(raw) >= NULL_STRING:
        raise ValueError("mbdb strings hold at most 65534 bytes")
    out += struct.pack(">H", len(raw)) + raw


_TABLES = """
CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);
"""
# Built after the rows are in: a bulk index build is faster than growing them row by row.
_INDEXES = """
CREATE INDEX FilesDomainIdx ON Files(domain);
CREATE INDEX FilesRelativePathIdx ON Files(relativePath);
CREATE INDEX FilesFlagsIdx ON Files(flags);
"""


def write_manifest_db(
    path: Path, records: list[ManifestRecord], *, wal: bool, keys: Mapping[str, tuple[int, bytes]] | None = None
) -> None:
    """Manifest.db of ``records`` at ``path``; ``keys`` gives, by fileID, an encrypted backup's
    protection class and EncryptionKey field (4-byte class + wrapped key) of each file.

    Without a key, a file's protection class is 3 and any other entry's 0; a record's
    missing times are its mtime, its missing owner :data:`MOBILE_UID`.
    """
    for stale in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        stale.unlink(missing_ok=True)  # a stale -wal would be replayed into the new file
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")  # written whole, once: a crash means writing it again; fsync costs seconds
        conn.execute("PRAGMA cache_size=-262144")  # index builds thrash the default 2 MB cache
        if wal:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_TABLES)
        with conn:
            # CAST(? AS TEXT) stores the raw bytes as TEXT, so paths that are not valid
            # UTF-8 (passed as surrogate escapes) land in the database as a device writes them.
            conn.executemany(
                "INSERT INTO Files VALUES (?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?)",
                (
                    (
                        r.file_id,
                        r.domain.encode("utf-8", "surrogateescape"),
                        r.relative_path.encode("utf-8", "surrogateescape"),
                        int(r.kind),
                        encode_mbfile(
                            relative_path=r.relative_path,
                            mode=r.mode or 0,
                            size=r.size or 0,
                            mtime=r.mtime or 0,
                            ctime=r.ctime,
                            birth=r.birth,
                            uid=MOBILE_UID if r.uid is None else r.uid,
                            gid=MOBILE_UID if r.gid is None else r.gid,
                            inode=int(r.file_id[:12], 16),
                            protection_class=(keys or {}).get(r.file_id, (3 if r.kind is Kind.FILE else 0, None))[0],
                            target=r.target,
                            encryption_key=(keys or {}).get(r.file_id, (0, None))[1],
                        ),
                    )
                    for r in records
                ),
            )
        conn.executescript(_INDEXES)
        if wal:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()  # the last close checkpoints and removes -wal/-shm; the header keeps WAL mode
