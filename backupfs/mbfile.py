"""The ``file`` blob of Manifest.db: an NSKeyedArchiver binary plist of class ``MBFile``.

Decoding is tolerant because blobs from damaged or unusual backups lack keys or carry
odd types; a missing value becomes None rather than losing the whole row. Encoding is
hand-rolled (not ``plistlib.dumps``) because the writer builds hundreds of thousands of
these for tests and benchmarks and plistlib's writer is far slower: one template per
archive shape, where only the integers and strings change per call. The output is an
ordinary ``bplist00`` (integers always 8 bytes wide) that plistlib and Apple's tools read.
"""

from __future__ import annotations

import functools
import plistlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MBFileMeta:
    """What an MBFile archive says about one backup entry (Unix seconds for times)."""

    size: int | None = None
    mode: int | None = None
    mtime: int | None = None
    ctime: int | None = None
    birth: int | None = None
    uid: int | None = None
    gid: int | None = None
    target: str | None = None
    encrypted: bool = False
    protection_class: int | None = None


def decode_mbfile(blob: bytes) -> MBFileMeta:
    """Decode one ``file`` blob; raise ValueError when it is not a readable archive.

    A lazy reader that touches only the objects MBFile needs runs first, because full
    plist parsing dominates the time to index a large backup; anything it does not
    understand falls back to plistlib, which then has the last word.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise ValueError(f"MBFile blob is {type(blob).__name__}, not bytes")
    blob = bytes(blob)
    try:
        return _decode_lazy(blob)
    except Exception:  # noqa: BLE001 - any surprise means "let plistlib judge it"
        pass
    try:
        archive = plistlib.loads(blob)
    except Exception as exc:  # plistlib raises many types on hostile bytes; all mean "undecodable"
        raise ValueError(f"MBFile blob is not a property list: {exc}") from exc
    if not isinstance(archive, dict):
        raise ValueError("MBFile blob is not a keyed archive")
    objects = archive.get("$objects")
    top = archive.get("$top")
    if not isinstance(objects, list) or not isinstance(top, dict):
        raise ValueError("MBFile blob lacks $objects or $top")
    root = _resolve(objects, top.get("root"))
    if not isinstance(root, dict):
        raise ValueError("MBFile archive has no root object")
    return _meta(lambda key: _resolve(objects, root.get(key)))


def _meta(value_of: Callable[[str], Any]) -> MBFileMeta:
    """Build the result from a lookup that already followed UIDs (None when absent)."""

    def number(key: str) -> int | None:
        value = value_of(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        try:
            return int(value)
        except (OverflowError, ValueError):  # inf / nan
            return None

    target = value_of("Target")
    if isinstance(target, dict):  # an NSString archived as an object rather than inline
        target = target.get("NS.string")
    return MBFileMeta(
        size=number("Size"),
        mode=number("Mode"),
        mtime=number("LastModified"),
        ctime=number("LastStatusChange"),
        birth=number("Birth"),
        uid=number("UserID"),
        gid=number("GroupID"),
        target=target if isinstance(target, str) else None,
        encrypted=value_of("EncryptionKey") is not None,
        protection_class=number("ProtectionClass"),
    )


def _resolve(objects: list[Any], value: Any) -> Any:
    """Follow a UID into ``$objects``; anything else is already the value.

    XML archives spell a UID as ``{"CF$UID": n}``, binary ones as a UID object.
    """
    if isinstance(value, dict) and len(value) == 1 and type(value.get("CF$UID")) is int:
        value = plistlib.UID(value["CF$UID"]) if value["CF$UID"] >= 0 else None
    if isinstance(value, plistlib.UID):
        if 0 <= value.data < len(objects):
            found = objects[value.data]
            return None if found == "$null" else found
        return None
    return value


_TRAILER = struct.Struct(">6xBBQQQ")
_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _decode_lazy(data: bytes) -> MBFileMeta:
    """Read only the objects MBFile needs; raises (anything) on what it does not handle.

    Dicts come back as ("d", key refs, value refs) and arrays as ("a", refs) so that
    nothing is parsed unless asked for; this is about twice as fast as plistlib.loads.
    """
    offset_size, ref_size, count, top, table = _TRAILER.unpack_from(data, len(data) - 32)
    if not data.startswith(b"bplist00") or table + count * offset_size > len(data) - 32:
        raise ValueError("not a bplist00")
    offsets = struct.unpack_from(f">{count}{_UNSIGNED[offset_size]}", data, table)
    ref_format = _UNSIGNED[ref_size]

    def read(index: int) -> Any:
        pos = offsets[index]
        marker = data[pos]
        high, low = marker >> 4, marker & 0xF
        if high == 0x1:
            width = 1 << low
            if pos + 1 + width > len(data):
                raise ValueError("integer cut short")
            return int.from_bytes(data[pos + 1 : pos + 1 + width], "big", signed=low >= 3)
        if high == 0x8:
            return plistlib.UID(int.from_bytes(data[pos + 1 : pos + 2 + low], "big"))
        pos += 1
        if low == 0xF:
            size_marker = data[pos]
            if size_marker >> 4 != 0x1:
                raise ValueError("bad length")
            width = 1 << (size_marker & 0xF)
            low = int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
            pos += 1 + width
        if high == 0x5:
            return data[pos : pos + low].decode("ascii")
        if high == 0x6:
            return data[pos : pos + 2 * low].decode("utf-16-be")
        if high == 0x4:
            return data[pos : pos + low]
        if high == 0xD:
            refs = struct.unpack_from(f">{2 * low}{ref_format}", data, pos)
            return ("d", refs[:low], refs[low:])
        if high == 0xA:
            return ("a", struct.unpack_from(f">{low}{ref_format}", data, pos))
        raise ValueError("object type left to plistlib")

    def as_dict(value: Any) -> dict[Any, int]:
        if type(value) is not tuple or value[0] != "d":
            raise ValueError("not a dict")
        return {read(key): ref for key, ref in zip(value[1], value[2])}

    archive = as_dict(read(top))
    objects = read(archive["$objects"])
    if type(objects) is not tuple or objects[0] != "a":
        raise ValueError("$objects is not an array")
    object_refs = objects[1]
    root_uid = read(as_dict(read(archive["$top"]))["root"])
    root = as_dict(read(object_refs[root_uid.data]))

    def value_of(key: str) -> Any:
        if key not in root:
            return None
        value = read(root[key])
        if type(value) is plistlib.UID:
            if value.data >= len(object_refs):
                return None
            value = read(object_refs[value.data])
            if value == "$null":
                return None
        if type(value) is tuple:  # a container: only Target's NSString dict is looked into
            return {k: read(v) for k, v in as_dict(value).items()} if key == "Target" and value[0] == "d" else value
        return value

    return _meta(value_of)


def encode_mbfile(
    *,
    relative_path: str,
    mode: int,
    size: int,
    mtime: int,
    ctime: int | None = None,
    birth: int | None = None,
    uid: int = 501,
    gid: int = 501,
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
