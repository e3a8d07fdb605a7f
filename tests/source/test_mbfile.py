"""MBFile archives: what the writer builds decodes back; hostile bytes give ValueError only.

The shape cache must give exactly what plistlib gives (``_decode_plistlib``, the reference
the module falls back to) for every well-formed archive, never another blob's values.
"""

from __future__ import annotations

import itertools
import plistlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupfs.demo.encode import encode_mbfile
from backupfs.source.manifest import mbfile
from backupfs.source.manifest.mbfile import MBFileMeta, decode_mbfile


def _archive(root: dict, *extra: object, fmt: int = plistlib.FMT_BINARY) -> bytes:
    """An archive built by plistlib, the way a device's would look to us."""
    objects = ["$null", root, *extra]
    return plistlib.dumps(
        {"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)}, "$objects": objects},
        fmt=fmt,
    )


def test_round_trip_of_a_file() -> None:
    blob = encode_mbfile(relative_path="Library/SMS/sms.db", mode=0o100644, size=1234, mtime=1_700_000_000,
                         ctime=1_700_000_100, birth=1_600_000_000, uid=501, gid=20, inode=99)
    assert decode_mbfile(blob) == MBFileMeta(size=1234, mode=0o100644, mtime=1_700_000_000, ctime=1_700_000_100,
                                             birth=1_600_000_000, uid=501, gid=20, target=None, encrypted=False,
                                             protection_class=3)


def test_round_trip_of_a_link_with_key_and_unicode() -> None:
    blob = encode_mbfile(relative_path="Media/Ünïcødé/" + "x" * 300, mode=0o120755, size=0, mtime=5,
                         target="../tärget", encryption_key=b"\x03\x00\x00\x00" + bytes(range(40)))
    meta = decode_mbfile(blob)
    assert (meta.target, meta.encrypted, meta.mode, meta.mtime, meta.ctime, meta.birth) == (
        "../tärget", True, 0o120755, 5, 5, 5)
    assert meta.encryption_key == b"\x03\x00\x00\x00" + bytes(range(40))


def test_encoded_archive_has_the_keyed_archiver_shape() -> None:
    blob = encode_mbfile(relative_path="a/b", mode=0o100600, size=1, mtime=1, target=None,
                         encryption_key=b"\x01\x00\x00\x00" + bytes(40))
    assert blob.startswith(b"bplist00")
    archive = plistlib.loads(blob)
    assert archive["$archiver"] == "NSKeyedArchiver"
    assert archive["$version"] == 100000
    assert archive["$top"] == {"root": plistlib.UID(1)}
    objects = archive["$objects"]
    assert objects[0] == "$null"
    root = objects[1]
    assert objects[root["RelativePath"].data] == "a/b"
    assert objects[root["$class"].data] == {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}
    key = objects[root["EncryptionKey"].data]
    assert key["NS.data"] == b"\x01\x00\x00\x00" + bytes(40)
    assert objects[key["$class"].data]["$classname"] == "NSMutableData"
    assert {"Birth", "LastModified", "LastStatusChange", "Mode", "Size", "UserID", "GroupID", "InodeNumber",
            "Flags", "ProtectionClass"} <= set(root)


def test_surrogate_escaped_path_is_stored_as_replacement_text() -> None:
    blob = encode_mbfile(relative_path=b"bad\xffname".decode("utf-8", "surrogateescape"), mode=0o100644, size=0, mtime=0)
    archive = plistlib.loads(blob)
    assert archive["$objects"][2] == "bad\ufffdname"


def test_archive_written_by_plistlib_with_missing_keys() -> None:
    blob = _archive({"Mode": 0o100644, "Size": 7, "RelativePath": plistlib.UID(2), "$class": plistlib.UID(3)},
                    "x", {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]})
    meta = decode_mbfile(blob)
    assert (meta.size, meta.mode, meta.mtime, meta.uid, meta.target, meta.encrypted) == (7, 0o100644, None, None,
                                                                                          None, False)


def test_target_as_nsstring_object_and_null_key() -> None:
    blob = _archive({"Mode": 0o120644, "Target": plistlib.UID(2), "EncryptionKey": plistlib.UID(0)},
                    {"NS.string": "dest", "$class": plistlib.UID(0)})
    meta = decode_mbfile(blob)
    assert meta.target == "dest"
    assert meta.encrypted is False


def test_values_only_plistlib_handles() -> None:
    """Floats and booleans take the plistlib path and still give the same answers."""
    blob = _archive({"LastModified": 1_700_000_000.75, "Size": True, "Mode": 0o100644, "UserID": float("inf")})
    meta = decode_mbfile(blob)
    assert (meta.mtime, meta.size, meta.mode, meta.uid) == (1_700_000_000, None, 0o100644, None)


def test_xml_archive_with_cf_uid_references() -> None:
    archive = {
        "$version": 100000,
        "$archiver": "NSKeyedArchiver",
        "$top": {"root": {"CF$UID": 1}},
        "$objects": ["$null", {"Mode": 0o120755, "Size": 0, "Target": {"CF$UID": 2}}, "there"],
    }
    meta = decode_mbfile(plistlib.dumps(archive, fmt=plistlib.FMT_XML))
    assert (meta.mode, meta.size, meta.target) == (0o120755, 0, "there")


@pytest.mark.parametrize(
    "blob",
    [b"", b"bplist00", b"not a plist at all", b"\x00" * 64, plistlib.dumps([1, 2, 3]), plistlib.dumps({"a": 1}),
     plistlib.dumps({"$objects": ["$null"], "$top": {"root": plistlib.UID(5)}}, fmt=plistlib.FMT_BINARY)],
)
def test_undecodable_blobs_raise_value_error(blob: bytes) -> None:
    with pytest.raises(ValueError):
        decode_mbfile(blob)


@pytest.mark.parametrize("value", [None, 42, "text"])
def test_non_bytes_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        decode_mbfile(value)  # type: ignore[arg-type]


def test_out_of_range_integer_is_value_error() -> None:
    with pytest.raises(ValueError):
        encode_mbfile(relative_path="a", mode=0, size=1 << 64, mtime=0)


def _decode_or_value_error(blob: bytes) -> None:
    try:
        assert isinstance(decode_mbfile(blob), MBFileMeta)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes(blob: bytes) -> None:
    _decode_or_value_error(blob)
    _decode_or_value_error(b"bplist00" + blob)


_VALID = encode_mbfile(relative_path="Library/x", mode=0o120644, size=3, mtime=9, target="t",
                       encryption_key=b"\x02\x00\x00\x00" + bytes(40))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=6),
       st.integers(0, len(_VALID)))
def test_fuzz_damaged_valid_archive(changes: list[tuple[int, int]], cut: int) -> None:
    blob = bytearray(_VALID)
    for position, value in changes:
        blob[position] = value
    _decode_or_value_error(bytes(blob))
    _decode_or_value_error(bytes(blob[:cut]))


# --- the shape cache: same answers as plistlib, fast path really taken -------------------

_INT64 = st.integers(-(2**63), 2**63 - 1)
# Small values collide often, so plistlib shares integer objects (other root dict bytes);
# values up to 2**64 - 1 make plistlib write 16-byte integers.
_PLIST_INT = st.one_of(st.integers(0, 3), st.integers(0, 2**64 - 1), _INT64)
_TEXT = st.one_of(st.sampled_from(["$null", "", "a", "x" * 14, "y" * 15, "z" * 300, "../tärget", "日本"]),
                  st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
_NUMBER_FIELDS = ("LastModified", "Birth", "LastStatusChange", "Size", "Mode", "UserID", "GroupID", "InodeNumber",
                  "Flags", "ProtectionClass")


def _reference(blob: bytes) -> MBFileMeta:
    return mbfile._decode_plistlib(blob)


def _device_archive(numbers: dict[str, int], path: str, target: str | None, key: bytes | None,
                    sort_keys: bool = True, direct_key: bool = False) -> bytes:
    """An MBFile archive as plistlib writes it: minimal-width integers, shared equal values.

    The key is an archived NSMutableData (a dict with NS.data), as iOS writes it, or with
    ``direct_key`` a plain data object the UID names.
    """
    root: dict[str, object] = dict(numbers)
    objects: list[object] = ["$null", root, path]
    root["RelativePath"] = plistlib.UID(2)
    if target is not None:
        root["Target"] = plistlib.UID(len(objects))
        objects.append(target)
    if key is not None and direct_key:
        root["EncryptionKey"] = plistlib.UID(len(objects))
        objects.append(key)
    elif key is not None:
        root["EncryptionKey"] = plistlib.UID(len(objects))
        objects.append({"NS.data": key, "$class": plistlib.UID(len(objects) + 1)})
        objects.append({"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]})
    root["$class"] = plistlib.UID(len(objects))
    objects.append({"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]})
    return plistlib.dumps({"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)},
                           "$objects": objects}, fmt=plistlib.FMT_BINARY, sort_keys=sort_keys)


def _assert_fast_and_equal(blobs: list[bytes]) -> None:
    """Each blob decodes as plistlib reads it, and a second look is served by its learned shape."""
    for blob in blobs:
        assert decode_mbfile(blob) == _reference(blob)
    for blob in reversed(blobs):
        assert mbfile._decode_known_shape(blob) == _reference(blob)


_device_archives = st.builds(
    _device_archive,
    numbers=st.dictionaries(st.sampled_from(_NUMBER_FIELDS), _PLIST_INT, min_size=0, max_size=len(_NUMBER_FIELDS)),
    path=_TEXT,
    target=st.none() | _TEXT,
    key=st.none() | st.binary(min_size=0, max_size=300),
    sort_keys=st.booleans(),
    direct_key=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_device_archives, min_size=1, max_size=4))
def test_device_style_archives_decode_as_plistlib_does(blobs: list[bytes]) -> None:
    _assert_fast_and_equal(blobs)


@st.composite
def _encoded(draw: st.DrawFn) -> bytes:
    return encode_mbfile(
        relative_path=draw(_TEXT), mode=draw(_INT64), size=draw(_INT64), mtime=draw(_INT64),
        ctime=draw(st.none() | _INT64), birth=draw(st.none() | _INT64), uid=draw(_INT64), gid=draw(_INT64),
        inode=draw(_INT64), flags=draw(_INT64), protection_class=draw(_INT64), target=draw(st.none() | _TEXT),
        encryption_key=draw(st.none() | st.binary(max_size=44)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_encoded(), min_size=1, max_size=4))
def test_encoded_archives_decode_as_plistlib_does(blobs: list[bytes]) -> None:
    _assert_fast_and_equal(blobs)


def _mixed_blobs() -> list[bytes]:
    blobs = []
    for i in range(6):
        values = {"LastModified": 1_600_000_000 + i, "Birth": 1_600_000_000 + (i % 2), "LastStatusChange": 7,
                  "Size": i * 70_000, "Mode": 0o100644 if i % 3 else 0o120755, "UserID": 501, "GroupID": 20 + i,
                  "ProtectionClass": i % 4}
        blobs.append(_device_archive(values, f"p/{i}", "t" * i if i % 3 == 0 else None,
                                     bytes([i]) * 44 if i % 2 else None, sort_keys=i % 4 != 1))
        blobs.append(encode_mbfile(relative_path=f"q/{i}", mode=0o100600 + i, size=i, mtime=i * 1000,
                                   ctime=-i, birth=None, target="ü" * i if i % 2 else None,
                                   encryption_key=bytes(40 + i) if i % 3 else None))
    return blobs


def test_mixed_shapes_through_one_process_never_mix_values() -> None:
    blobs = _mixed_blobs()
    expected = [_reference(blob) for blob in blobs]
    assert len(set(expected)) == len(blobs)
    for _ in range(3):
        assert [decode_mbfile(blob) for blob in blobs] == expected
        assert [decode_mbfile(blob) for blob in reversed(blobs)] == expected[::-1]


def test_one_shape_gives_each_blob_its_own_values() -> None:
    first = encode_mbfile(relative_path="a", mode=0o100644, size=1, mtime=10, target="x")
    second = encode_mbfile(relative_path="bbbbbbbb", mode=0o100600, size=2, mtime=20, target="yyyyy")
    assert decode_mbfile(first).size == 1
    assert mbfile._decode_known_shape(second) == MBFileMeta(size=2, mode=0o100600, mtime=20, ctime=20, birth=20,
                                                            uid=501, gid=501, target="yyyyy", protection_class=3)


def test_other_key_names_behind_the_same_structure_are_not_confused() -> None:
    """Same trailer, root dict and offsets, other key strings: the learned shape must not apply."""
    learned = _device_archive({"Mode": 1, "Size": 2, "UserID": 3}, "p", None, None)
    assert learned.count(b"TMode") == learned.count(b"TSize") == 1
    assert decode_mbfile(learned) == MBFileMeta(size=2, mode=1, uid=3)
    swapped = learned.replace(b"TMode", b"TTEMP").replace(b"TSize", b"TMode").replace(b"TTEMP", b"TSize")
    renamed = learned.replace(b"TSize", b"TSizz")
    assert decode_mbfile(swapped) == _reference(swapped) == MBFileMeta(size=1, mode=2, uid=3)
    assert decode_mbfile(renamed) == _reference(renamed) == MBFileMeta(mode=1, uid=3)
    assert decode_mbfile(learned) == MBFileMeta(size=2, mode=1, uid=3)


_LEARNED = _device_archive({"LastModified": 1_700_000_000, "Size": 300, "Mode": 0o120755, "UserID": 501,
                            "GroupID": 501, "ProtectionClass": 4}, "Library/x", "../somewhere/else/entirely",
                           b"\x04\x00\x00\x00" + bytes(40))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_LEARNED) - 1), st.integers(0, 255)), min_size=1, max_size=4),
       st.integers(0, len(_LEARNED)))
def test_damaged_blob_of_a_known_shape_never_differs_from_plistlib(changes: list[tuple[int, int]], cut: int) -> None:
    """Whatever plistlib can still read must come out the same; the rest is ValueError or a result."""
    decode_mbfile(_LEARNED)
    blob = bytearray(_LEARNED)
    for position, value in changes:
        blob[position] = value
    for damaged in (bytes(blob), bytes(blob[:cut]), _LEARNED[:cut] + _LEARNED[cut + 1 :]):
        try:
            expected = _reference(damaged)
        except ValueError:
            _decode_or_value_error(damaged)
        else:
            assert decode_mbfile(damaged) == expected


def test_truncated_and_garbage_blobs_of_known_shapes_raise_value_error() -> None:
    for blob in _mixed_blobs():
        decode_mbfile(blob)
        for cut in range(len(blob)):
            with pytest.raises(ValueError):
                decode_mbfile(blob[:cut])
        with pytest.raises(ValueError):
            decode_mbfile(bytes(len(blob) - 32) + blob[-32:])  # a known trailer on zeros


def test_cache_stays_bounded() -> None:
    for filler in range(mbfile._MAX_TRAILERS + 10):  # each filler count is another trailer
        blob = plistlib.dumps({"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)},
                               "$objects": ["$null", {"Size": filler, "Mode": 1}, *[f"f{i}" for i in range(filler)]]},
                              fmt=plistlib.FMT_BINARY)
        assert decode_mbfile(blob).size == filler
    for first, second in itertools.combinations(range(9), 2):  # which two values are equal: same trailer,
        values = [1000 + i for i in range(9)]                     # other root dict bytes
        values[second] = values[first]
        decode_mbfile(_device_archive(dict(zip(_NUMBER_FIELDS, values)), "p", None, None))
    assert len(mbfile._known_trailers) <= mbfile._MAX_TRAILERS
    for layout in mbfile._known_trailers.values():
        assert len(layout.roots) <= mbfile._MAX_ROOTS
        for _, _, readers in layout.roots:
            assert len(readers) <= mbfile._MAX_SHAPES
            assert all(len(alike) <= mbfile._MAX_ALIKE for alike in readers.values())
    assert max(len(readers) for layout in mbfile._known_trailers.values() for _, _, readers in layout.roots) == (
        mbfile._MAX_SHAPES)


# --- EncryptionKey: the wrapped key's bytes, the same on both paths ----------------------

_KEY = b"\x03\x00\x00\x00" + bytes(range(100, 140))  # class 3 + a 40-byte wrapped key
_NSDATA_CLASS = {"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]}


def _keyed(key_object: object, *extra: object, size: int = 1) -> bytes:
    """An archive whose EncryptionKey is UID(2) -> ``key_object``, then ``extra`` objects."""
    return _archive({"Size": size, "Mode": 0o100644, "EncryptionKey": plistlib.UID(2)}, key_object, *extra)


@pytest.mark.parametrize(
    ("form", "blobs", "expected"),
    [
        ("NSMutableData as iOS archives it", [_keyed({"NS.data": _KEY, "$class": plistlib.UID(3)}, _NSDATA_CLASS,
                                                      size=s) for s in (1, 2)], (True, _KEY)),
        ("plain NSData", [_keyed(_KEY, size=s) for s in (1, 2)], (True, _KEY)),
        ("NS.data behind a UID", [_keyed({"NS.data": plistlib.UID(3), "$class": plistlib.UID(4)}, _KEY,
                                         _NSDATA_CLASS, size=s) for s in (1, 2)], (True, _KEY)),
        ("empty NSData", [_keyed({"NS.data": b"", "$class": plistlib.UID(3)}, _NSDATA_CLASS, size=s)
                          for s in (1, 2)], (True, b"")),
        ("dict without NS.data", [_keyed({"NS.bytes": _KEY, "$class": plistlib.UID(3)}, _NSDATA_CLASS, size=s)
                                  for s in (1, 2)], (True, None)),
        ("text instead of data", [_keyed("not a key", size=s) for s in (1, 2)], (True, None)),
        ("$null", [_archive({"Size": s, "EncryptionKey": plistlib.UID(0)}) for s in (1, 2)], (False, None)),
        ("dangling UID", [_archive({"Size": s, "EncryptionKey": plistlib.UID(9)}) for s in (1, 2)], (False, None)),
    ],
)
def test_encryption_key_forms(form: str, blobs: list[bytes], expected: tuple[bool, bytes | None]) -> None:
    """Each form gives the same (encrypted, key) the first time (plistlib) and again (the learned shape)."""
    for blob in blobs * 2:
        meta = decode_mbfile(blob)
        assert (meta.encrypted, meta.encryption_key) == expected, form
        assert meta == _reference(blob)


@pytest.mark.parametrize("direct", [False, True])
def test_keyed_blobs_are_served_by_the_learned_shape(direct: bool) -> None:
    blobs = [_device_archive({"Size": 10 + i, "Mode": 0o100644, "ProtectionClass": 3}, f"p/{i}", None,
                             bytes([3, 0, 0, 0]) + bytes([i]) * 40, direct_key=direct) for i in range(5)]
    decode_mbfile(blobs[0])
    for i, blob in enumerate(blobs):
        meta = mbfile._decode_known_shape(blob)
        assert meta is not None and meta.encryption_key == bytes([3, 0, 0, 0]) + bytes([i]) * 40
        assert meta == _reference(blob)


def test_key_of_a_renamed_ns_data_is_not_read_from_a_learned_shape() -> None:
    """Same structure, other key string in the NSData dict: the learned position must not apply."""
    learned = _device_archive({"Size": 1, "Mode": 0o100644}, "p", None, _KEY)
    renamed = learned.replace(b"WNS.data", b"WNS.datb")
    assert renamed != learned
    assert decode_mbfile(learned).encryption_key == _KEY
    assert decode_mbfile(renamed) == _reference(renamed)
    assert decode_mbfile(renamed).encryption_key is None and decode_mbfile(renamed).encrypted


def test_key_is_kept_out_of_the_repr() -> None:
    meta = decode_mbfile(encode_mbfile(relative_path="a", mode=0o100644, size=1, mtime=1, encryption_key=_KEY))
    assert meta.encryption_key == _KEY
    assert "encryption_key" not in repr(meta) and _KEY.hex() not in repr(meta) and repr(_KEY) not in repr(meta)
