"""MBFile archives: what the writer builds decodes back; hostile bytes give ValueError only."""

from __future__ import annotations

import plistlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupfs.mbfile import MBFileMeta, decode_mbfile, encode_mbfile


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
