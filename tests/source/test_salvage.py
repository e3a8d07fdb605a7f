"""Salvage: Files rows read from a real Manifest.db's pages, intact and damaged."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backupfs.demo.encode import encode_mbfile
from backupfs.demo.writer import PayloadSpec, write_backup
from backupfs.source.manifest.db import read_manifest_db
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id
from backupfs.source.manifest.salvage import salvage_files_rows
from tests.backups import BAD_NAME

PAGE = 4096
LEAF, INTERIOR = 0x0D, 0x05


def _specs(count: int) -> list[PayloadSpec]:
    """Mostly small rows; every 97th has a path long enough to overflow; every 89th a
    symlink whose long target makes only the blob overflow (names stay on the leaf)."""
    rng = random.Random(count)
    specs = [PayloadSpec("CameraRollDomain", BAD_NAME, b"\xff\xd8\xff")]
    for i in range(count):
        if i % 97 == 0:
            specs.append(PayloadSpec("HomeDomain", f"Library/{i}/" + "p" * rng.randint(2000, 9000), kind=Kind.DIR))
        elif i % 89 == 0:
            specs.append(PayloadSpec("MediaDomain", f"link{i}", kind=Kind.SYMLINK, target="t" * rng.randint(9000, 20000)))
        elif i % 3 == 0:
            specs.append(PayloadSpec(f"AppDomain-com.example.app{i % 7}", f"Documents/file{i}.dat", b"x"))
        else:
            specs.append(PayloadSpec("HomeDomain", f"Library/dir{i % 50}/entry{i}", kind=Kind.DIR))
    return specs


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backup")
    write_backup(root, _specs(3000))
    return root / "Manifest.db"


@pytest.fixture(scope="module")
def original(manifest: Path) -> set[ManifestRecord]:
    result = read_manifest_db(manifest)
    assert result.complete and len(result.records) == 3001
    return set(result.records)


def _pages_of_type(data: bytes, page_type: int, page_size: int = PAGE) -> list[int]:
    return [n for n in range(2, len(data) // page_size + 1) if data[(n - 1) * page_size] == page_type]


def _damaged(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "Manifest.db"
    path.write_bytes(data)
    return path


def test_intact_file_matches_sqlite(manifest: Path, original: set[ManifestRecord]) -> None:
    salvaged = salvage_files_rows(manifest.read_bytes())
    assert len(salvaged) == len(original) and set(salvaged) == original
    assert any(r.kind is Kind.SYMLINK and len(r.target or "") > 9000 for r in salvaged)  # overflow chains followed
    assert any(r.relative_path.encode("utf-8", "surrogateescape") == b"Media/caf\xe9-\xff.jpg" for r in salvaged)


def test_damaged_interior_page(tmp_path: Path, manifest: Path, original: set[ManifestRecord]) -> None:
    data = bytearray(manifest.read_bytes())
    interior = _pages_of_type(data, INTERIOR)
    assert interior, "the Files table should be deep enough to have an interior page"
    start = (interior[0] - 1) * PAGE
    data[start : start + PAGE] = random.Random(1).randbytes(PAGE)
    read = read_manifest_db(_damaged(tmp_path, bytes(data))).records
    salvaged = salvage_files_rows(bytes(data))
    assert len(salvaged) > len(read)
    assert set(salvaged) == original  # an interior page holds no rows: every leaf is still whole


@pytest.mark.parametrize("keep", [0.4, 0.8])
def test_truncated_file(tmp_path: Path, manifest: Path, original: set[ManifestRecord], keep: float) -> None:
    """SQLite appends leaf pages in insertion order, so the rows on whole pages before
    the cut are the first rows written: salvage must return exactly such a prefix."""
    full = manifest.read_bytes()
    cut = full[: int(len(full) * keep) + 1234]
    read = read_manifest_db(_damaged(tmp_path, cut)).records
    salvaged = salvage_files_rows(cut)
    written = [file_id(spec.domain, spec.relative_path) for spec in _specs(3000)]
    assert {r.file_id for r in salvaged} == set(written[: len(salvaged)])
    assert len(original) > len(salvaged) > len(read) and len(salvaged) >= keep * 0.8 * len(original)
    by_id = {r.file_id: r for r in original}
    for record in salvaged:  # exactly the original row, or its names when the blob's overflow pages are cut off
        expected = by_id[record.file_id]
        assert record == expected or record == ManifestRecord(
            expected.file_id, expected.domain, expected.relative_path, expected.kind
        )


@pytest.mark.parametrize("page_size", [1024, 4096, 65536])
def test_destroyed_header_page(tmp_path: Path, manifest: Path, original: set[ManifestRecord], page_size: int) -> None:
    path = tmp_path / "Manifest.db"
    shutil.copyfile(manifest, path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA page_size={page_size}")
        conn.execute("VACUUM")
    conn.close()
    data = bytearray(path.read_bytes())
    assert int.from_bytes(data[16:18], "big") in (page_size, 1)
    data[:page_size] = random.Random(2).randbytes(page_size)  # page 1: header and schema only
    assert read_manifest_db(_damaged(tmp_path, bytes(data))).records == []
    assert set(salvage_files_rows(bytes(data))) == original


def test_cyclic_overflow_chains_end(manifest: Path, original: set[ManifestRecord]) -> None:
    """Every overflow page points to itself: chains of two or more pages are broken."""
    data = bytearray(manifest.read_bytes())
    for page in range(2, len(data) // PAGE + 1):
        start = (page - 1) * PAGE
        if data[start] == 0:  # not a b-tree page: an overflow page (its next pointer is < 2**24)
            data[start : start + 4] = page.to_bytes(4, "big")
    salvaged = {r.file_id: r for r in salvage_files_rows(bytes(data))}
    long_links = [r for r in original if r.kind is Kind.SYMLINK and len(r.target or "") > 9000]
    assert long_links and all(salvaged[r.file_id] == ManifestRecord(r.file_id, r.domain, r.relative_path, r.kind)
                              for r in long_links)
    small = [r for r in original if len(r.relative_path) < 100 and r.kind is not Kind.SYMLINK]
    assert all(salvaged[r.file_id] == r for r in small)


def _varint(value: int) -> bytes:
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def test_shared_overflow_chain_is_followed_once() -> None:
    """Hand-built file: 21 cells whose overflow pointers all lead into the same chain.

    Only the first may claim it; the others keep their names without metadata. Reading
    the chain for every cell would both give them all metadata and cost cells x chain.
    """
    blob = encode_mbfile(relative_path="l", mode=0o120755, size=0, mtime=5, target="t" * 20000)
    def payload(i: int) -> bytes:
        texts = [f"{i:040x}".encode(), b"MediaDomain", f"link{i:04d}".encode()]
        types = [13 + 2 * len(t) for t in texts] + [4, 12 + 2 * len(blob)]
        header = b"".join(_varint(t) for t in types)
        return _varint(len(header) + 1) + header + b"".join(texts) + (4).to_bytes(4, "big") + blob
    size = len(payload(0))
    min_local = (PAGE - 12) * 32 // 255 - 23
    local = min_local + (size - min_local) % (PAGE - 4)
    local = local if local <= PAGE - 35 else min_local
    tail = payload(0)[local:]
    chain_pages = -(-len(tail) // (PAGE - 4))
    leaves, per_leaf = 3, 7
    first_chain = 2 + leaves
    pages = [bytearray(PAGE) for _ in range(1 + leaves + chain_pages)]
    pages[0][:100] = b"SQLite format 3\x00" + PAGE.to_bytes(2, "big") + bytes(82)
    for leaf in range(leaves):
        page, end = pages[1 + leaf], PAGE
        page[0], page[3:5] = LEAF, per_leaf.to_bytes(2, "big")
        for slot in range(per_leaf):
            body = payload(leaf * per_leaf + slot)
            cell = _varint(size) + _varint(slot + 1) + body[:local] + first_chain.to_bytes(4, "big")
            end -= len(cell)
            page[end : end + len(cell)] = cell
            page[8 + 2 * slot : 10 + 2 * slot] = end.to_bytes(2, "big")
    for n in range(chain_pages):
        page = pages[first_chain - 1 + n]
        page[:4] = (first_chain + n + 1 if n + 1 < chain_pages else 0).to_bytes(4, "big")
        chunk = tail[n * (PAGE - 4) : (n + 1) * (PAGE - 4)]
        page[4 : 4 + len(chunk)] = chunk
    salvaged = salvage_files_rows(b"".join(pages))
    assert [r.relative_path for r in salvaged] == [f"link{i:04d}" for i in range(leaves * per_leaf)]
    assert salvaged[0].target == "t" * 20000 and salvaged[0].mode == 0o120755
    assert all(r.mode is None and r.target is None for r in salvaged[1:])


def test_empty_and_tiny_inputs() -> None:
    assert salvage_files_rows(b"") == []
    assert salvage_files_rows(b"SQLite format 3\x00" + bytes(84)) == []
    assert salvage_files_rows(bytes(PAGE * 3)) == []


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3 * PAGE))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert isinstance(salvage_files_rows(data), list)


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("small")
    write_backup(root, _specs(300))
    return (root / "Manifest.db").read_bytes()


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=64)), max_size=20),
    st.floats(0.05, 1),
)
def test_corrupted_real_file_never_raises(
    small_manifest: bytes, patches: list[tuple[float, bytes]], keep: float
) -> None:
    data = bytearray(small_manifest)
    for where, garbage in patches:
        at = int(where * (len(data) - len(garbage)))
        data[at : at + len(garbage)] = garbage
    salvaged = salvage_files_rows(bytes(data[: int(len(data) * keep)]))
    assert isinstance(salvaged, list) and all(isinstance(r, ManifestRecord) for r in salvaged)
    assert len({r.file_id for r in salvaged}) == len(salvaged)
