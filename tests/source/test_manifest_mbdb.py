"""Manifest.mbdb: round trips through the writer, truncation keeps whole records, fuzzing never raises."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupfs.demo.encode import encode_mbdb
from backupfs.demo.writer import write_backup
from backupfs.source.manifest.mbdb import MAGIC, parse_mbdb, read_manifest_mbdb
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id
from tests.backups import BAD_NAME, roundtrip_specs


def test_round_trip_through_writer(tmp_path: Path) -> None:
    write_backup(tmp_path, roundtrip_specs(), layout="flat", index="mbdb")
    result = read_manifest_mbdb(tmp_path / "Manifest.mbdb")
    assert result.complete and result.problem is None
    by_path = {r.relative_path: r for r in result.records}
    assert len(result.records) == 5
    sms = by_path["Library/SMS/sms.db"]
    assert sms == ManifestRecord(file_id="3d0d7e5fb2ce288813306e4d4636395e047a3d28", domain="HomeDomain",
                                 relative_path="Library/SMS/sms.db", kind=Kind.FILE, size=116, mode=0o100644,
                                 mtime=1_600_000_000, ctime=1_600_000_000, birth=1_600_000_000, uid=501, gid=501)
    bad = by_path[BAD_NAME]
    assert bad.relative_path.encode("utf-8", "surrogateescape") == b"Media/caf\xe9-\xff.jpg"
    assert bad.file_id == file_id("CameraRollDomain", BAD_NAME)
    assert (tmp_path / bad.file_id).read_bytes() == b"\xff\xd8\xff\xe0jpeg"
    assert bad.mode == 0o100600
    assert by_path["Library/SMS"].kind is Kind.DIR and by_path["Library/SMS"].mode == 0o040755
    link = by_path["Library/link"]
    assert (link.kind, link.target, link.mode) == (Kind.SYMLINK, "../SMS/sms.db", 0o120755)
    assert by_path["Documents/short.bin"].size == 10


def test_encode_parse_identity() -> None:
    placeholder = b"\x03\x00\x00\x00" + bytes(40)  # the EncryptionKey the encoder writes for an encrypted record
    records = [
        ManifestRecord(file_id("D", p), "D", p, k, size=s, mode=m, mtime=1, ctime=2, birth=3, uid=4, gid=5,
                       target=t, encrypted=e, encryption_key=placeholder if e else None)
        for p, k, s, m, t, e in [("a", Kind.FILE, 9, 0o100640, None, True), ("b", Kind.SYMLINK, 0, 0o120777, "x", False),
                                 (BAD_NAME, Kind.DIR, 0, 0o040700, None, False)]
    ]
    assert parse_mbdb(encode_mbdb(records)).records == records


def _whole_record_ends(data: bytes) -> list[int]:
    """Byte offsets where each record of ``data`` ends, walked independently of the parser."""
    ends, pos = [], len(MAGIC)
    while pos < len(data):
        for _ in range(5):
            (length,) = struct.unpack_from(">H", data, pos)
            pos += 2 + (0 if length == 0xFFFF else length)
        pos += 2 + 8 + 4 * 5 + 8 + 1
        count = data[pos]
        pos += 1
        for _ in range(2 * count):
            (length,) = struct.unpack_from(">H", data, pos)
            pos += 2 + (0 if length == 0xFFFF else length)
        ends.append(pos)
    return ends


def test_every_truncation_keeps_whole_records(tmp_path: Path) -> None:
    write_backup(tmp_path, roundtrip_specs(), index="mbdb")
    data = (tmp_path / "Manifest.mbdb").read_bytes()
    full = parse_mbdb(data).records
    ends = _whole_record_ends(data)
    assert ends[-1] == len(data) and len(ends) == len(full)
    for cut in range(len(MAGIC), len(data)):
        result = parse_mbdb(data[:cut])
        whole = sum(1 for end in ends if end <= cut)
        assert result.records == full[:whole], cut
        if cut in ends or cut == len(MAGIC):
            assert result.complete
        else:
            assert not result.complete and "middle of a record" in (result.problem or "")


@pytest.mark.parametrize("data", [b"", b"mbdb", b"mbdx\x05\x00" + bytes(100), os.urandom(300), b"SQLite format 3\x00"])
def test_bad_header_gives_empty_result_with_problem(data: bytes) -> None:
    result = parse_mbdb(data)
    assert result.records == [] and not result.complete and result.problem


def test_records_without_domain_or_type_are_skipped() -> None:
    good = ManifestRecord(file_id("D", "p"), "D", "p", Kind.FILE, size=1, mode=0o100644, mtime=1, uid=0, gid=0)
    image = bytearray(encode_mbdb([good]))
    nameless = b"\xff\xff" + b"\x00\x01q" + b"\xff\xff" * 3 + struct.pack(">HQIIIIIQBB", 0o100644, 1, 0, 0, 0, 0, 0, 0, 0, 0)
    socket = b"\x00\x01D\x00\x01s" + b"\xff\xff" * 3 + struct.pack(">HQIIIIIQBB", 0o140644, 1, 0, 0, 0, 0, 0, 0, 0, 1)
    socket += b"\x00\x01k\x00\x01v"  # one property pair
    result = parse_mbdb(bytes(image) + nameless + socket + image[len(MAGIC):])
    assert result.complete
    assert [r.relative_path for r in result.records] == ["p", "p"]


def test_missing_file_is_a_problem_not_an_error(tmp_path: Path) -> None:
    result = read_manifest_mbdb(tmp_path / "Manifest.mbdb")
    assert result.records == [] and not result.complete and "could not be opened" in (result.problem or "")


def test_reading_leaves_source_unchanged(tmp_path: Path) -> None:
    write_backup(tmp_path, roundtrip_specs(), index="mbdb")
    path = tmp_path / "Manifest.mbdb"
    os.utime(path, (1_000_000_000, 1_100_000_000))
    before = (sorted(os.listdir(tmp_path)), path.read_bytes(), os.stat(path).st_mtime_ns)
    atime = os.stat(path).st_atime_ns
    assert len(read_manifest_mbdb(path).records) == 5
    assert (sorted(os.listdir(tmp_path)), path.read_bytes(), os.stat(path).st_mtime_ns) == before
    # read_bytes above may touch atime on this filesystem; only our own read is judged.
    os.utime(path, ns=(atime, os.stat(path).st_mtime_ns))
    read_manifest_mbdb(path)
    assert os.stat(path).st_atime_ns == atime


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes_never_raise(data: bytes) -> None:
    for image in (data, MAGIC + data):
        result = parse_mbdb(image)
        assert result.complete or result.problem


_SAMPLE = encode_mbdb(
    [ManifestRecord(file_id("HomeDomain", f"f{i}"), "HomeDomain", f"f{i}", Kind.FILE, size=i, mode=0o100644)
     for i in range(20)]
)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(_SAMPLE)), st.lists(st.tuples(st.integers(0, len(_SAMPLE) - 1), st.integers(0, 255)),
                                              max_size=8))
def test_fuzz_damaged_sample_never_raises(cut: int, changes: list[tuple[int, int]]) -> None:
    image = bytearray(_SAMPLE[:cut])
    for position, value in changes:
        if position < len(image):
            image[position] = value
    result = parse_mbdb(bytes(image))
    assert len(result.records) * 61 <= len(image)  # a record takes at least 61 bytes
