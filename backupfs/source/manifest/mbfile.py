"""The ``file`` blob of Manifest.db: an NSKeyedArchiver binary plist of class ``MBFile``.

Decoding is tolerant because blobs from damaged or unusual backups lack keys or carry
odd types; a missing value becomes None rather than losing the whole row. It is also the
hot loop of indexing a large backup, so it is memoised per archive *shape*: the blobs of
one backup differ only in their integers and strings, while the trailer, the ``$top`` and
``$objects`` layout and the key strings sit at the same object indexes. The first blob of
a shape is decoded by plistlib (which always has the last word) and teaches the shape;
later blobs are checked byte for byte against it and only their values are read.
Encoding is hand-rolled (not ``plistlib.dumps``) because the writer builds hundreds of
thousands of these for tests and benchmarks and plistlib's writer is far slower: one
template per archive shape, where only the integers and strings change per call. The
output is an ordinary ``bplist00`` (integers always 8 bytes wide) that plistlib and
Apple's tools read.
"""

from __future__ import annotations

import logging
import plistlib
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MBFileMeta:
    """What an MBFile archive says about one backup entry (Unix seconds for times).

    ``encryption_key`` is the EncryptionKey NSData as stored (4-byte little-endian
    protection class + RFC 3394 wrapped key), kept out of the repr so it never reaches a
    log. ``encrypted`` is true whenever the archive names an EncryptionKey, even one whose
    bytes cannot be read (then ``encryption_key`` is None: encrypted, but no key to open it).
    """

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
    encryption_key: bytes | None = field(default=None, repr=False)


def decode_mbfile(blob: bytes) -> MBFileMeta:
    """Decode one ``file`` blob; raise ValueError when it is not a readable archive.

    A blob whose shape is already known is read directly; anything the shortcut does not
    handle (unknown shape, floats, UIDs where integers belong, odd encodings, damage) is
    decoded by plistlib, so both ways give the same answer.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise ValueError(f"MBFile blob is {type(blob).__name__}, not bytes")
    data = bytes(blob)
    try:
        meta = _decode_known_shape(data)
    except Exception:  # noqa: BLE001 - any surprise means "let plistlib judge it"
        return _decode_plistlib(data)
    if meta is not None:
        return meta
    meta = _decode_plistlib(data)
    try:
        _learn_shape(data, meta)
    except Exception as exc:  # noqa: BLE001 - a shape we cannot describe simply stays unknown
        log.debug("MBFile archive shape not remembered: %r", exc)
    return meta


def _decode_plistlib(data: bytes) -> MBFileMeta:
    """The reference decoder: whatever plistlib reads, followed the way NSKeyedArchiver links it."""
    try:
        archive = plistlib.loads(data)
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
    return _meta(lambda key: _resolve(objects, root.get(key)), lambda value: _resolve(objects, value))


def _meta(value_of: Callable[[str], Any], follow: Callable[[Any], Any]) -> MBFileMeta:
    """Build the result from a lookup that already followed UIDs (None when absent);
    ``follow`` resolves a UID found inside a value."""

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
    key = value_of("EncryptionKey")
    key_bytes = follow(key.get("NS.data")) if isinstance(key, dict) else key  # NS(Mutable)Data as an object
    return MBFileMeta(
        size=number("Size"),
        mode=number("Mode"),
        mtime=number("LastModified"),
        ctime=number("LastStatusChange"),
        birth=number("Birth"),
        uid=number("UserID"),
        gid=number("GroupID"),
        target=target if isinstance(target, str) else None,
        encrypted=key is not None,
        protection_class=number("ProtectionClass"),
        encryption_key=key_bytes if isinstance(key_bytes, bytes) else None,
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


# Order matters: MBFileMeta's positional fields (size .. gid), protection_class last.
_NUMBER_KEYS = ("Size", "Mode", "LastModified", "LastStatusChange", "Birth", "UserID", "GroupID", "ProtectionClass")
_MAGIC = b"bplist00"
_TRAILER = struct.Struct(">6xBBQQQ")
_TAIL = struct.Struct(">18sQ")  # trailer bytes that name the shapes, then the offset table position
_UNSIGNED = {1: "B", 2: "H", 4: "I", 8: "Q"}
# Integer object marker -> reader of the value after it (plistlib: widths 1-4 unsigned, 8-16 signed).
_INTEGERS: dict[int, Callable[[bytes, int], tuple[int, ...]]] = {
    0x10: struct.Struct(">B").unpack_from,
    0x11: struct.Struct(">H").unpack_from,
    0x12: struct.Struct(">I").unpack_from,
    0x13: struct.Struct(">q").unpack_from,
    0x14: lambda data, pos: (int.from_bytes(data[pos : pos + 16], "big", signed=True),),
}
# Marker of a long count -> its reader (plistlib reads counts unsigned).
_COUNTS: dict[int, Callable[[bytes, int], tuple[int, ...]]] = {
    0x10: struct.Struct(">B").unpack_from,
    0x11: struct.Struct(">H").unpack_from,
    0x12: struct.Struct(">I").unpack_from,
    0x13: struct.Struct(">Q").unpack_from,
}
_FIXED_SIZES = {0x00: 1, 0x08: 1, 0x09: 1, 0x0F: 1, 0x22: 5, 0x23: 9, 0x33: 9}
_CLASS_KEY = b"\x56$class"  # the ASCII string object "$class"
_MAX_TRAILERS = 64  # distinct trailers (widths, object count, top index) remembered
_MAX_ROOTS = 4  # root dict positions remembered per trailer (archives of different makeup)
_MAX_SHAPES = 16  # root dicts remembered per root position: dedup variants (equal integers share an object)
_MAX_ALIKE = 4  # shapes remembered per root dict (they differ elsewhere, e.g. a path equal to "$null")

# (blob, offset table position, object offsets) -> the blob's values, or None if not this shape.
_Reader = Callable[[bytes, int, tuple[int, ...]], "MBFileMeta | None"]


# Root dict position (object index, byte size) -> readers by the root dict's bytes.
_Dispatch = tuple[int, int, dict[bytes, tuple[_Reader, ...]]]


@dataclass(frozen=True, slots=True)
class _TrailerShapes:
    """The shapes known for one trailer, told apart by the bytes of their root dict.

    Replaced as a whole when a shape is learned, never changed in place, so readers in
    other threads see either the old or the new one.
    """

    offsets: Callable[[bytes, int], tuple[int, ...]]  # reads the offset table
    roots: tuple[_Dispatch, ...]


_known_trailers: dict[bytes, _TrailerShapes] = {}  # trailer bytes -> the shapes known for it
_learning = threading.Lock()


def _decode_known_shape(data: bytes) -> MBFileMeta | None:
    """Read a blob of a known shape; None when no known shape matches; raises on odd values."""
    if len(data) < 40:
        return None
    trailer, table = _TAIL.unpack_from(data, len(data) - 26)
    shapes = _known_trailers.get(trailer)
    if shapes is None:
        return None
    offsets = shapes.offsets(data, table)
    for root, size, readers in shapes.roots:
        start = offsets[root]
        for read in readers.get(data[start : start + size], ()):
            meta = read(data, table, offsets)
            if meta is not None:
                return meta
    return None


def _learn_shape(data: bytes, expected: MBFileMeta) -> None:
    """Describe the shape of a blob plistlib has decoded; keep it if it gives the same answer.

    The proof that a later blob has this shape: the exact bytes of every object the key ->
    value mapping was derived from ($top chain, $objects, the root dict and its key
    strings, the Target and EncryptionKey UIDs, the key object and its key strings), each
    at the offset the blob's table gives. Everything in front of the first
    variable-sized value sits at the same place in every blob of the shape, so the quick
    proof compares those table entries and the bytes between the value objects in a few
    long runs, and checks one by one only the objects behind variable data. When the quick
    proof fails, the full one-by-one proof still decides.

    Raises (anything) when the blob's structure is too unusual to describe.
    """
    offset_size, ref_size, count, top, table = _TRAILER.unpack_from(data, len(data) - 32)
    if not data.startswith(_MAGIC) or count * offset_size > len(data):
        raise ValueError("not a describable bplist00")
    offsets_reader = struct.Struct(f">{count}{_UNSIGNED[offset_size]}").unpack_from
    offsets = offsets_reader(data, table)
    ref_format = _UNSIGNED[ref_size]
    checks: dict[int, bytes] = {}

    def refs(index: int) -> tuple[int, ...]:
        kind, length, body = _header(data, offsets[index])
        if kind not in (0xA, 0xD):
            raise ValueError("not a container")
        return struct.unpack_from(f">{length * (2 if kind == 0xD else 1)}{ref_format}", data, body)

    def checked(index: int) -> int:
        """Record the object as part of the proof; returns where it ends."""
        end = _object_end(data, offsets[index], ref_size)
        checks[index] = data[offsets[index] : end]
        return end

    def dictionary(index: int) -> dict[str, int]:
        if data[offsets[index]] >> 4 != 0xD:
            raise ValueError("not a dict")
        checked(index)
        found = refs(index)
        half = len(found) // 2
        keys = []
        for key in found[:half]:
            keys.append(_string(data, offsets[key])[0])
            checked(key)
        return dict(zip(keys, found[half:]))

    def uid(index: int) -> int:
        pos = offsets[index]
        if data[pos] >> 4 != 0x8:
            raise ValueError("not a UID")
        return int.from_bytes(data[pos + 1 : _object_end(data, pos, ref_size)], "big")

    archive = dictionary(top)
    objects_index = archive["$objects"]
    if data[offsets[objects_index]] >> 4 != 0xA:
        raise ValueError("$objects is not an array")
    checked(objects_index)
    objects = refs(objects_index)
    root_uid = dictionary(archive["$top"])["root"]
    checked(root_uid)
    root_index = objects[uid(root_uid)]
    root = dictionary(root_index)

    def linked(name: str) -> int | None:
        """The object a plain UID field names (-1: dangling), its UID made part of the proof."""
        ref = root.get(name)
        if ref is None or data[offsets[ref]] >> 4 != 0x8 or data[offsets[ref]] & 0xF > 7:
            return None
        checked(ref)
        number = uid(ref)
        return objects[number] if number < len(objects) else -1

    # Target: read the linked string, or let the general code follow the field.
    target_field: tuple[str, int] | None = None
    if "Target" in root:
        text = linked("Target")
        target_field = ("field", root["Target"]) if text is None else ("text", text)
    # EncryptionKey: whether it names an object is fixed by the shape when the object is;
    # the wrapped key itself is the NS.data of an archived NSData, read from each blob.
    key_field: tuple[str, int] = ("const", False)
    if "EncryptionKey" in root:
        named = linked("EncryptionKey")
        if named is None or (named >= 0 and data[offsets[named]] >> 4 not in (0x0, 0x5, 0x6, 0xA, 0xD)):
            key_field = ("field", root["EncryptionKey"])
        elif named >= 0 and data[offsets[named]] >> 4 == 0xD:
            members = dictionary(named)  # its key strings join the proof: NS.data is found by name
            data_ref = members.get("NS.data")
            if data_ref is not None and data[offsets[data_ref]] >> 4 != 0x4:
                raise ValueError("NS.data is not a data object")
            key_field = ("const", True) if data_ref is None else ("data", data_ref)
        else:
            if named >= 0:
                checked(named)
            key_field = ("const", expected.encrypted)
    proof = {root_index: checks.pop(root_index), **checks}  # the root tells dedup variants apart first

    values: set[int] = set()  # objects whose content may differ from blob to blob
    for name, ref in root.items():
        if name != "$class":
            values.add(ref)
            if data[offsets[ref]] >> 4 == 0x8 and uid(ref) < len(objects):
                values.update(_members(data, offsets, objects[uid(ref)], refs))
    values -= proof.keys()
    varying = [i for i in values if data[offsets[i]] >> 4 in (0x1, 0x2, 0x3, 0x4, 0x5, 0x6)]
    resizing = [offsets[i] for i in varying if data[offsets[i]] not in (0x13, 0x22, 0x23, 0x33)]
    fixed_end = min([*resizing, table, len(data) - 32])
    regions = _regions(data, fixed_end, [(offsets[i], _object_end(data, offsets[i], ref_size)) for i in varying])
    if not (regions and regions[0][0] == 0 and len(regions[0][1]) >= len(_MAGIC)):
        regions.insert(0, (0, _MAGIC))
    floating = [
        (index, raw)
        for index, raw in proof.items()
        if not any(at <= offsets[index] and offsets[index] + len(raw) <= at + len(block) for at, block in regions)
    ]
    anchored = [i for i in range(count) if offsets[i] < fixed_end]
    table_runs = [
        (first * offset_size, data[table + first * offset_size : table + (last + 1) * offset_size])
        for first, last in _runs(anchored)
    ]
    read = _compile(
        quick=(table_runs, regions, floating),
        full=list(proof.items()),
        numbers=[root.get(name) for name in _NUMBER_KEYS],
        target=target_field,
        key=key_field,
        objects=objects,
    )
    if read(data, table, offsets) != expected:
        return
    _remember(data[-26:-8], offsets_reader, root_index, proof[root_index], read)


def _remember(
    trailer: bytes, offsets: Callable[[bytes, int], tuple[int, ...]], root: int, root_bytes: bytes, read: _Reader
) -> None:
    """Add a shape, dropping the oldest ones beyond the bounds."""
    with _learning:
        old = _known_trailers.pop(trailer, None)
        roots = list(old.roots) if old is not None else []
        readers: dict[bytes, tuple[_Reader, ...]] = {}
        for position, (index, size, known) in enumerate(roots):
            if (index, size) == (root, len(root_bytes)):
                readers = dict(list(known.items())[-(_MAX_SHAPES - 1) :])
                del roots[position]
                break
        readers[root_bytes] = (read, *readers.pop(root_bytes, ())[: _MAX_ALIKE - 1])
        roots = [(root, len(root_bytes), readers), *roots[: _MAX_ROOTS - 1]]
        while len(_known_trailers) >= _MAX_TRAILERS:
            del _known_trailers[next(iter(_known_trailers))]
        _known_trailers[trailer] = _TrailerShapes(offsets, tuple(roots))


def _compile(
    quick: tuple[list[tuple[int, bytes]], list[tuple[int, bytes]], list[tuple[int, bytes]]],
    full: list[tuple[int, bytes]],
    numbers: list[int | None],
    target: tuple[str, int] | None,
    key: tuple[str, int],
    objects: tuple[int, ...],
) -> _Reader:
    """Turn a shape into straight-line code: one blob takes a few microseconds, not a loop.

    Generic loops over the checks and fields cost several times the work itself in CPython,
    which is what this module exists to avoid. The generated source holds only integers
    and names; the proof bytes are passed in as constants, never spelled into it.
    ``key`` is ("const", encrypted) with no key bytes, ("data", object) for the data
    object holding the key, or ("field", object) for an EncryptionKey read blob by blob.
    """
    constants: dict[str, Any] = {
        "Meta": MBFileMeta, "INTEGERS": _INTEGERS, "OBJECTS": objects, "text_at": _text,
        "target_at": _target, "key_at": _key_field, "data_at": _data,
    }

    def at(raw: bytes, where: str) -> str:
        name = f"c{len(constants)}"
        constants[name] = raw
        return f"data.startswith({name}, {where})"

    table_runs, regions, floating = quick
    quick_proof = [at(raw, f"table + {start}") for start, raw in table_runs]
    quick_proof += [at(raw, str(position)) for position, raw in regions]
    quick_proof += [at(raw, f"offsets[{index}]") for index, raw in floating]
    full_proof = [at(_MAGIC, "0")] + [at(raw, f"offsets[{index}]") for index, raw in full]
    lines = [
        "def read(data, table, offsets):",
        f"    if not ({' and '.join(quick_proof) or 'True'}):",
        f"        if not ({' and '.join(full_proof)}):",
        "            return None",
    ]
    for index in sorted({i for i in numbers if i is not None}):
        lines += [f"    p = offsets[{index}]", f"    v{index} = INTEGERS[data[p]](data, p + 1)[0]"]
    fields = [f"v{i}" if i is not None else "None" for i in numbers]
    if target is None or target == ("text", -1):
        target_code = "None"
    elif target[0] == "text":
        target_code = f"text_at(data, offsets[{target[1]}])"
    else:
        target_code = f"target_at(OBJECTS, data, offsets, {target[1]})"
    if key[0] == "const":
        encrypted_code, key_code = str(bool(key[1])), "None"
    elif key[0] == "data":
        encrypted_code, key_code = "True", f"data_at(data, offsets[{key[1]}])"
    else:
        lines.append(f"    encrypted, key = key_at(OBJECTS, data, offsets, {key[1]})")
        encrypted_code, key_code = "encrypted", "key"
    fields[7:7] = [target_code, encrypted_code]
    fields.append(key_code)
    lines.append(f"    return Meta({', '.join(fields)})")
    exec("\n".join(lines), constants)  # noqa: S102 - source built above from integers only
    return constants["read"]


def _text(data: bytes, pos: int) -> str | None:
    """A string reached through a UID, as _resolve sees it ("$null" is no string)."""
    if data[pos] == 0x5F and data[pos + 1] == 0x10 and pos + 3 + data[pos + 2] <= len(data):
        text = data[pos + 3 : pos + 3 + data[pos + 2]].decode("ascii")  # the usual: ASCII, 15-255 long
    else:
        text = _string(data, pos)[0]
    return None if text == "$null" else text


def _target(objects: tuple[int, ...], data: bytes, offsets: tuple[int, ...], index: int) -> str | None:
    """Target as plistlib + _resolve see it; raises (-> plistlib) unless it is a plain string."""
    pos = offsets[index]
    if data[pos] >> 4 != 0x8:
        return _string(data, pos)[0]
    linked = _linked(objects, data, pos)
    if linked is None:
        return None
    text = _string(data, offsets[linked])[0]
    return None if text == "$null" else text


def _key_field(
    objects: tuple[int, ...], data: bytes, offsets: tuple[int, ...], index: int
) -> tuple[bool, bytes | None]:
    """(whether EncryptionKey names an object, its bytes when it is a data object).

    ``$null`` and dangling UIDs mean no key; an archived NSData (a dict) is left to
    plistlib, as it only reaches here when the learned blob held something else.
    """
    pos = offsets[index]
    if data[pos] >> 4 != 0x8:
        raise ValueError("inline EncryptionKey left to plistlib")
    linked = _linked(objects, data, pos)
    if linked is None:
        return False, None
    pos = offsets[linked]
    marker = data[pos]
    kind = marker >> 4
    if marker == 0x00:  # plistlib's None
        return False, None
    if kind == 0x4:
        return True, _data(data, pos)
    if kind == 0xD:
        raise ValueError("archived NSData left to plistlib")
    return kind not in (0x5, 0x6) or _string(data, pos)[0] != "$null", None


def _data(data: bytes, pos: int) -> bytes:
    """The bytes of the data object at ``pos``; raises on anything else, or when cut short."""
    if data[pos] == 0x4F and data[pos + 1] == 0x10:  # the usual: 15-255 bytes (a wrapped key is 44)
        body, end = pos + 3, pos + 3 + data[pos + 2]
    else:
        kind, count, body = _header(data, pos)
        if kind != 0x4:
            raise ValueError("not a data object")
        end = body + count
    if end > len(data):
        raise ValueError("data object cut short")
    return data[body:end]


def _linked(objects: tuple[int, ...], data: bytes, pos: int) -> int | None:
    """The object index the UID object at ``pos`` names; None when past the end of $objects."""
    width = (data[pos] & 0xF) + 1
    if width > 8:
        raise ValueError("UID too wide for plistlib")
    number = int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
    return objects[number] if number < len(objects) else None


def _string(data: bytes, pos: int) -> tuple[str, int]:
    """The string object at ``pos`` and where it ends; raises on anything plistlib might read differently."""
    kind, count, pos = _header(data, pos)
    if kind == 0x6:
        count *= 2
    elif kind != 0x5:
        raise ValueError("not a string")
    raw = data[pos : pos + count]
    if len(raw) != count:
        raise ValueError("string cut short")
    return raw.decode("ascii" if kind == 0x5 else "utf-16-be"), pos + count


def _header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(kind nibble, count, body position) of a string, data, array or dict object."""
    marker = data[pos]
    count = marker & 0xF
    if count == 0xF:
        count = _COUNTS[data[pos + 1]](data, pos + 2)[0]
        return marker >> 4, count, pos + 2 + (1 << (data[pos + 1] & 0x3))
    return marker >> 4, count, pos + 1


def _object_end(data: bytes, pos: int, ref_size: int) -> int:
    """Where the object at ``pos`` ends; raises for kinds MBFile archives do not use."""
    marker = data[pos]
    if marker in _FIXED_SIZES:
        return pos + _FIXED_SIZES[marker]
    if marker >> 4 == 0x1:
        return pos + 1 + (1 << (marker & 0xF))
    if marker >> 4 == 0x8:
        return pos + 2 + (marker & 0xF)
    kind, count, body = _header(data, pos)
    unit = {0x4: 1, 0x5: 1, 0x6: 2, 0xA: ref_size, 0xD: 2 * ref_size}[kind]
    return body + count * unit


def _members(
    data: bytes, offsets: tuple[int, ...], index: int, refs: Callable[[int], tuple[int, ...]]
) -> list[int]:
    """An object a root value links to, and its members (an NSData's bytes, an NSString's text).

    Dict keys and ``$class`` links are left out: they are the same in every blob of a shape.
    """
    kind = data[offsets[index]] >> 4
    if kind == 0xA:
        return [index, *refs(index)]
    if kind != 0xD:
        return [index]
    found = refs(index)
    half = len(found) // 2
    return [index, *(value for key, value in zip(found[:half], found[half:])
                     if not data.startswith(_CLASS_KEY, offsets[key]))]


def _regions(data: bytes, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, bytes]]:
    """The bytes of ``data[:end]`` outside the holes, as (position, bytes) pieces."""
    pieces = []
    at = 0
    for start, stop in sorted(holes):
        if start > at:
            pieces.append((at, data[at : min(start, end)]))
        at = max(at, stop)
        if at >= end:
            break
    if at < end:
        pieces.append((at, data[at:end]))
    return [(position, raw) for position, raw in pieces if raw]


def _runs(indexes: list[int]) -> list[tuple[int, int]]:
    """Sorted indexes grouped into (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for index in indexes:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs
