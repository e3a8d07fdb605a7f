"""Property-based fuzzing of what reads a backup's own bytes and names (issue 5, item 9).

The tests beside each module already feed arbitrary and mutated bytes: to the mbdb
parser (test_manifest_mbdb), the MBFile decoder (test_mbfile), the page salvage
(test_salvage), the plist readers (test_plists) and the path sanitiser over a small
alphabet (test_layout). These add inputs built with the formats' own structure, which
reach past the first length check, and every example runs under a time limit, so a loop
that never ends fails the test instead of hanging it.

The documented outcomes: ``parse_mbdb``, ``salvage_files_rows`` and ``read_manifest_db``
never raise; ``decode_mbfile`` raises only ValueError; ``safe_path`` and
``safe_link_target`` never raise for text decoded with surrogateescape, which is how every
name reaches them.
"""

from __future__ import annotations

import contextlib
import random
import signal
import struct
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backupfs.demo.writer import PayloadSpec, write_backup
from backupfs.index.paths import (
    MAX_PATH_BYTES,
    NAME_MAX,
    OWN_FOLDERS,
    safe_component,
    safe_link_target,
    safe_path,
)
from backupfs.source.manifest.db import read_manifest_db
from backupfs.source.manifest.mbdb import MAGIC, parse_mbdb
from backupfs.source.manifest.mbfile import MBFileMeta, decode_mbfile
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id
from backupfs.source.manifest.salvage import salvage_files_rows

SECONDS = 2.0  # per example; the slowest input here takes milliseconds


class Hang(BaseException):
    """An example ran past its time limit (a BaseException: ``except Exception`` cannot hide it)."""


@contextlib.contextmanager
def time_limit(seconds: float = SECONDS) -> Iterator[None]:
    def expire(_signum: int, _frame: object) -> None:
        raise Hang(f"still running after {seconds} s: a loop that does not end?")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_FAST = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# --- Manifest.mbdb: whole records with arbitrary fields ---------------------------------

_STRING = st.none() | st.binary(max_size=24)
_MBDB_RECORD = st.tuples(
    _STRING, _STRING, _STRING, _STRING, _STRING,  # domain, path, link target, digest, key
    st.integers(0, 0xFFFF),  # mode
    st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),  # inode, uid, gid
    st.integers(0, 2**32 - 1),  # mtime (the other two times are not checked)
    st.integers(0, 2**64 - 1), st.integers(0, 255),  # size, protection class
    st.lists(st.tuples(st.binary(max_size=8), _STRING), max_size=3),  # properties
)


def _mbdb_string(raw: bytes | None) -> bytes:
    return b"\xff\xff" if raw is None else struct.pack(">H", len(raw)) + raw


def _mbdb_record(fields: tuple) -> bytes:
    *strings, mode, inode, uid, gid, mtime, size, protection, properties = fields
    out = b"".join(_mbdb_string(s) for s in strings)
    out += struct.pack(">HQIIIIIQBB", mode, inode, uid, gid, mtime, 7, 8, size, protection, len(properties))
    return out + b"".join(_mbdb_string(name) + _mbdb_string(value) for name, value in properties)


def _expected_record(fields: tuple) -> ManifestRecord | None:
    domain, path, target, _, key, mode, _, uid, gid, mtime, size, _, _ = fields
    kind = {0xA000: Kind.SYMLINK, 0x4000: Kind.DIR, 0x8000: Kind.FILE}.get(mode & 0xF000)
    if domain is None or path is None or kind is None:
        return None
    return ManifestRecord(
        file_id=file_id(_text(domain), _text(path)), domain=_text(domain), relative_path=_text(path), kind=kind,
        size=size, mode=mode, mtime=mtime, ctime=7, birth=8, uid=uid, gid=gid,
        target=None if kind is not Kind.SYMLINK or target is None else _text(target), encrypted=bool(key),
        encryption_key=key or None,
    )


@_FAST
@given(st.lists(_MBDB_RECORD, max_size=6), st.floats(0, 1))
def test_mbdb_reads_every_whole_record_and_stops_cleanly_at_a_cut(records: list[tuple], cut: float) -> None:
    image = MAGIC + b"".join(_mbdb_record(r) for r in records)
    expected = [e for e in map(_expected_record, records) if e is not None]
    with time_limit():
        whole = parse_mbdb(image)
        assert whole.complete and whole.records == expected
        end = len(MAGIC) + int(cut * (len(image) - len(MAGIC)))
        part = parse_mbdb(image[:end])
    assert part.records == expected[: len(part.records)]
    boundaries = {len(MAGIC)}
    for record in records:
        boundaries.add(max(boundaries) + len(_mbdb_record(record)))
    assert part.complete == (end in boundaries)
    assert part.complete or "ends in the middle of a record" in (part.problem or "")


# --- MBFile blobs: binary plists of any object graph, cycles included -------------------

_MBFILE_KEYS = (b"Size", b"Mode", b"LastModified", b"UserID", b"Target", b"EncryptionKey", b"NS.string", b"$class")


def _marker(kind: int, count: int) -> bytes:
    return bytes([kind | count]) if count < 15 else bytes([kind | 0xF, 0x10, count])


def _bplist(objects: list[bytes], top: int) -> bytes:
    """A bplist00 of encoded objects (1-byte references, 2-byte offsets)."""
    out = bytearray(b"bplist00")
    offsets = []
    for obj in objects:
        offsets.append(len(out))
        out += obj
    table = len(out)
    out += b"".join(offset.to_bytes(2, "big") for offset in offsets) + bytes(6) + bytes([2, 1])
    return bytes(out + struct.pack(">QQQ", len(objects), top, table))


def _key(text: bytes) -> bytes:
    return _marker(0x50, len(text)) + text


@st.composite
def _object_graphs(draw: st.DrawFn) -> bytes:
    """A keyed archive's skeleton ($top.root -> a UID into $objects) around objects that refer
    to each other at random: cycles, dangling references, wrong kinds where values belong."""
    extra = draw(st.integers(1, 10))
    first = 6 + len(_MBFILE_KEYS)  # the random objects start here
    count = first + extra
    ref = st.integers(0, count + 1)  # two past the end: references to objects that do not exist
    objects = [
        _marker(0xD0, 2) + bytes([1, 2, 4, 5]),  # 0: {"$top": 4, "$objects": 5}
        _key(b"$top"), _key(b"$objects"), _key(b"root"),  # 1-3
        _marker(0xD0, 1) + bytes([3, draw(st.sampled_from([first, first, first, 0]) | ref)]),  # 4: $top
    ]
    members = draw(st.lists(st.integers(first, count - 1) | ref, min_size=1, max_size=8))
    objects.append(_marker(0xA0, len(members)) + bytes(members))  # 5: $objects
    objects += [_key(k) for k in _MBFILE_KEYS]  # the keys an MBFile root uses
    for number in range(extra):
        kind = draw(st.sampled_from(["uid", "dict", "dict", "array", "int", "float", "data", "text"]))
        if kind == "uid" or number == 0:  # the first one is what $top.root usually names
            objects.append(b"\x80" + bytes([draw(st.integers(0, len(members) + 1))]))
        elif kind == "dict":
            keys = st.integers(6, first - 1) | ref
            pairs = draw(st.lists(st.tuples(keys, ref), max_size=6))
            objects.append(_marker(0xD0, len(pairs)) + bytes(k for k, _ in pairs) + bytes(v for _, v in pairs))
        elif kind == "array":
            items = draw(st.lists(ref, max_size=5))
            objects.append(_marker(0xA0, len(items)) + bytes(items))
        elif kind == "int":
            objects.append(b"\x13" + draw(st.integers(-(2**63), 2**63 - 1)).to_bytes(8, "big", signed=True))
        elif kind == "float":
            objects.append(b"\x23" + struct.pack(">d", draw(st.floats(allow_nan=True, allow_infinity=True))))
        elif kind == "data":
            objects.append(_marker(0x40, 3) + draw(st.binary(min_size=3, max_size=3)))
        else:
            objects.append(_key(draw(st.sampled_from([b"$null", b"x", b"../../etc/passwd"]))))
    return _bplist(objects, 0)


def _decoded_or_value_error(blob: bytes) -> MBFileMeta | None:
    try:
        meta = decode_mbfile(blob)
    except ValueError:
        return None
    assert isinstance(meta, MBFileMeta)
    return meta


@settings(deadline=None, max_examples=300)
@given(_object_graphs())
def test_mbfile_decoder_survives_any_object_graph(blob: bytes) -> None:
    with time_limit():
        first = _decoded_or_value_error(blob)
        assert _decoded_or_value_error(blob) == first  # a shape learned from it changes nothing


def test_mbfile_decoder_ends_on_an_archive_that_contains_itself() -> None:
    """``$objects`` holding itself, and a root dict whose values lead back to it and to ``$objects``."""
    objects = [
        _marker(0xD0, 2) + bytes([1, 2, 6, 7]),  # 0: {"$top": 6, "$objects": 7}
        *(_key(k) for k in (b"$top", b"$objects", b"root", b"Size", b"Target")),  # 1-5
        _marker(0xD0, 1) + bytes([3, 8]),  # 6: $top = {"root": UID 9}
        _marker(0xA0, 10) + bytes(range(10)),  # 7: $objects = every object, itself included
        b"\x80\x09",  # 8: UID 9, the root
        _marker(0xD0, 3) + bytes([4, 5, 3, 8, 7, 9]),  # 9: root {Size: UID 9 (itself), Target: $objects, root: itself}
    ]
    with time_limit():
        assert _decoded_or_value_error(_bplist(objects, 0)) == MBFileMeta()  # nothing usable, and no hang


# --- page salvage: SQLite-shaped files with Files-shaped cells -------------------------


def _varint(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _local_size(payload_size: int, usable: int) -> int:
    """Bytes of a table-leaf cell's payload kept on its page (SQLite's file-format rule)."""
    max_local, min_local = usable - 35, (usable - 12) * 32 // 255 - 23
    if payload_size <= max_local:
        return payload_size
    spill = min_local + (payload_size - min_local) % (usable - 4)
    return spill if spill <= max_local else min_local


@st.composite
def _sqlite_shaped(draw: st.DrawFn) -> bytes:
    """A valid header, then table-leaf pages of Files-shaped cells whose overflow chains go
    anywhere (back to themselves, past the end), among pages of random bytes."""
    page_size = draw(st.sampled_from([512, 1024, 4096]))
    reserved = draw(st.sampled_from([0, 0, 8, 40]))
    usable = page_size - reserved
    pages = draw(st.integers(1, 8))
    rng = random.Random(draw(st.integers(0, 2**32)))
    data = bytearray(rng.randbytes(page_size * pages))
    data[:16] = b"SQLite format 3\x00"
    data[16:18] = page_size.to_bytes(2, "big")
    data[20] = reserved
    data[28:32] = pages.to_bytes(4, "big")
    leaves = draw(st.sets(st.integers(1, pages), min_size=1))
    for page in sorted(leaves):
        start = (page - 1) * page_size
        header = start + (100 if page == 1 else 0)
        cells = draw(st.integers(1, 5))
        data[header] = 0x0D
        data[header + 3 : header + 5] = cells.to_bytes(2, "big")
        pos = header + 8 + 2 * cells
        for i in range(cells):
            domain, path = b"HomeDomain", rng.randbytes(draw(st.integers(0, 60)))
            flags = draw(st.sampled_from([1, 1, 1, 9, 7]))  # 1: an integer 1; 9: the constant 1; 7: a float
            blob = rng.randbytes(draw(st.sampled_from([0, 10, 300, 3000])))
            types = [93, 13 + 2 * len(domain), 13 + 2 * len(path), flags, 12 + 2 * len(blob)]
            head = b"".join(_varint(t) for t in types)
            flag_bytes = {1: b"\x01", 9: b"", 7: rng.randbytes(8)}[flags]
            payload = _varint(len(head) + 1) + head + rng.randbytes(20).hex().encode() + domain + path + flag_bytes + blob
            local = _local_size(len(payload), usable)
            cell = _varint(len(payload)) + _varint(rng.randint(1, 2**40)) + payload[:local]
            if local < len(payload):  # the rest goes down an overflow chain, written page by page
                chain = draw(st.lists(st.integers(0, pages + 2), min_size=1, max_size=4))
                cell += chain[0].to_bytes(4, "big")
                rest = payload[local:]
                for here, after in zip(chain, [*chain[1:], draw(st.integers(0, pages + 2))]):
                    if not 1 <= here <= pages or here in leaves:
                        break
                    at = (here - 1) * page_size
                    chunk = rest[: usable - 4]
                    data[at : at + 4 + len(chunk)] = after.to_bytes(4, "big") + chunk
                    rest = rest[len(chunk) :]
            if pos + len(cell) > start + usable:
                break
            data[header + 8 + 2 * i : header + 10 + 2 * i] = (pos - start).to_bytes(2, "big")
            data[pos : pos + len(cell)] = cell
            pos += len(cell)
    cut = draw(st.integers(0, len(data)) | st.just(len(data)))
    return bytes(data[: max(cut, 100)])


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_sqlite_shaped())
def test_salvage_of_sqlite_shaped_pages_never_raises_or_loops(data: bytes) -> None:
    with time_limit():
        records = salvage_files_rows(data)
    assert all(isinstance(r, ManifestRecord) for r in records)
    assert len({r.file_id for r in records}) == len(records)


_SMALL_DB: list[bytes] = []


def _small_manifest(tmp: Path) -> bytes:
    if not _SMALL_DB:
        specs = [PayloadSpec("HomeDomain", f"Library/f{i}/" + "p" * (i % 7) * 90, b"x") for i in range(120)]
        write_backup(tmp, specs)
        _SMALL_DB.append((tmp / "Manifest.db").read_bytes())
    return _SMALL_DB[0]


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=300)), min_size=1, max_size=6),
       st.floats(0.02, 1))
def test_damaged_manifest_db_is_read_without_raising_or_looping(
    tmp_path: Path, patches: list[tuple[float, bytes]], keep: float
) -> None:
    data = bytearray(_small_manifest(tmp_path / "intact"))
    for where, garbage in patches:
        at = int(where * (len(data) - len(garbage)))
        data[at : at + len(garbage)] = garbage
    damaged = tmp_path / "Manifest.db"
    damaged.write_bytes(bytes(data[: int(len(data) * keep)]))
    with time_limit(10):
        result = read_manifest_db(damaged)
        salvaged = salvage_files_rows(damaged.read_bytes())
    assert result.complete or result.problem
    assert all(isinstance(r, ManifestRecord) for r in result.records + salvaged)


# --- names: the path sanitiser and the symlink target rule -----------------------------

_RAW_TEXT = st.binary(max_size=300).map(_text)  # any bytes an index can hold, as backupfs decodes them
_HOSTILE_PART = st.sampled_from(["", ".", "..", "...", "a", "\x00", "\n", "\x1b[1m", "\x7f", "%2E%2E", "é" * 70,
                                 "x" * 256, "\udcff", "other-data"])
_HOSTILE_PATH = st.lists(_HOSTILE_PART | st.text(max_size=6), max_size=40).map("/".join)


def _valid_component(part: str) -> bool:
    raw = part.encode("utf-8", "surrogateescape")
    return (
        part not in ("", ".", "..") and b"/" not in raw and len(raw) <= NAME_MAX
        and not any(byte < 0x20 or byte == 0x7F for byte in raw)
    )


@settings(deadline=None, max_examples=300)
@given(_RAW_TEXT | _HOSTILE_PART, _RAW_TEXT | _HOSTILE_PATH | st.just("/".join(["d" * 250] * 20)))
def test_safe_path_gives_valid_components_within_path_max(domain: str, relative_path: str) -> None:
    with time_limit():
        parts = safe_path(domain, relative_path)
    assert all(_valid_component(part) for part in parts), parts
    assert len("/".join(parts).encode("utf-8", "surrogateescape")) <= MAX_PATH_BYTES
    assert parts[0] == OWN_FOLDERS.get(domain, safe_component(domain))
    assert safe_path(domain, relative_path) == parts  # the same row is always shown at the same place


def _climbs_above(folder: list[str], target: str) -> bool:
    """Whether the kernel, resolving ``target`` from ``folder`` and taking every name as a
    link to the mount root (the worst a name can be), ever climbs above the mount root."""
    if target.startswith("/"):
        return True
    depth = len(folder)
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth = 0  # a name that is a link to the root: the worst case for what follows
    return False


def _lexical(folder: list[str], target: str) -> list[str]:
    """Where ``target`` leads, lexically, with climbs above the root dropped."""
    location = [] if target.startswith("/") else list(folder)
    for part in target.split("/"):
        if part == "..":
            location = location[:-1]
        elif part not in ("", "."):
            location.append(part)
    return location


_LINK_FOLDER = st.lists(st.sampled_from(["HomeDomain", "Library", "a", "%2E%2E"]), max_size=5)
_TARGET = st.lists(st.sampled_from(["..", "..", ".", "", "a", "b", "etc", "passwd"]), max_size=10).map("/".join)


@settings(deadline=None, max_examples=400)
@given(_LINK_FOLDER, _TARGET | _TARGET.map(lambda t: "/" + t) | _RAW_TEXT)
def test_link_targets_never_climb_out_whatever_the_names_are(folder: list[str], target: str) -> None:
    with time_limit():
        shown = safe_link_target((*folder, "link"), target)
    clean = target.replace("\0", "%00")
    assert not _climbs_above(folder, shown), (folder, target, shown)
    assert _lexical(folder, shown) == _lexical(folder, clean)  # it still means the same place, clamped
    if not _climbs_above(folder, clean):
        assert shown == clean  # harmless targets are kept exactly
