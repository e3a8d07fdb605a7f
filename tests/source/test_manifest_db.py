"""Manifest.db: round trips, damaged databases read as far as they go, the source never changes."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from backupfs.demo.encode import encode_mbfile
from backupfs.demo.writer import PayloadSpec, write_backup
from backupfs.source.manifest.db import read_manifest_db
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id
from tests.backups import BAD_NAME, roundtrip_specs


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {name: ((folder / name).read_bytes(), os.stat(folder / name).st_mtime_ns) for name in sorted(os.listdir(folder))
            if (folder / name).is_file()} | {"": (str(sorted(os.listdir(folder))).encode(), 0)}


@pytest.mark.parametrize("wal", [False, True])
def test_round_trip_through_writer(tmp_path: Path, wal: bool) -> None:
    write_backup(tmp_path, roundtrip_specs(), index_wal=wal)
    result = read_manifest_db(tmp_path / "Manifest.db")
    assert result.complete and result.problem is None
    by_path = {r.relative_path: r for r in result.records}
    assert len(result.records) == 5
    assert by_path["Library/SMS/sms.db"] == ManifestRecord(
        file_id="3d0d7e5fb2ce288813306e4d4636395e047a3d28", domain="HomeDomain", relative_path="Library/SMS/sms.db",
        kind=Kind.FILE, size=116, mode=0o100644, mtime=1_600_000_000, ctime=1_600_000_000, birth=1_600_000_000,
        uid=501, gid=501)
    bad = by_path[BAD_NAME]
    assert bad.relative_path.encode("utf-8", "surrogateescape") == b"Media/caf\xe9-\xff.jpg"
    assert bad.file_id == file_id("CameraRollDomain", BAD_NAME) and bad.mode == 0o100600
    assert (by_path["Library/SMS"].kind, by_path["Library/SMS"].mode) == (Kind.DIR, 0o040755)
    link = by_path["Library/link"]
    assert (link.kind, link.target, link.mode) == (Kind.SYMLINK, "../SMS/sms.db", 0o120755)
    assert by_path["Documents/short.bin"].size == 10


def test_odd_rows(tmp_path: Path) -> None:
    """Flags 16 and NULL names are skipped; a bad blob keeps its row; a missing fileID is computed."""
    write_backup(tmp_path, roundtrip_specs()[:1])
    db = tmp_path / "Manifest.db"
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", [
            ("a" * 40, "HomeDomain", "weird", 16, None),
            ("b" * 40, None, "nodomain", 1, None),
            ("c" * 40, "HomeDomain", None, 1, None),
            ("D" * 40, "HomeDomain", "badblob", 1, b"garbage"),
            (None, "HomeDomain", "noid", 2, encode_mbfile(relative_path="noid", mode=0o40755, size=0, mtime=3)),
            ("e" * 40, "HomeDomain", "textblob", 4, "not a blob"),
        ])
    conn.close()
    result = read_manifest_db(db)
    assert result.complete
    by_path = {r.relative_path: r for r in result.records}
    assert set(by_path) == {"Library/SMS/sms.db", "badblob", "noid", "textblob"}
    assert by_path["badblob"] == ManifestRecord("d" * 40, "HomeDomain", "badblob", Kind.FILE)
    assert by_path["noid"].file_id == file_id("HomeDomain", "noid") and by_path["noid"].mtime == 3
    assert by_path["textblob"].kind is Kind.SYMLINK and by_path["textblob"].size is None


@pytest.mark.parametrize("content", [b"", os.urandom(8192), b"SQLite format 3\x00" + os.urandom(4080)])
def test_unreadable_files_give_empty_result_with_problem(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "Manifest.db"
    db.write_bytes(content)
    result = read_manifest_db(db)
    assert result.records == [] and not result.complete and result.problem
    assert os.listdir(tmp_path) == ["Manifest.db"]


def test_missing_table_and_missing_file(tmp_path: Path) -> None:
    db = tmp_path / "Manifest.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE Other (x)")
    conn.close()
    assert "no Files table" in (read_manifest_db(db).problem or "")
    missing = read_manifest_db(tmp_path / "nothing.db")
    assert missing.records == [] and not missing.complete and missing.problem
    assert not (tmp_path / "nothing.db").exists()


def _big_backup(tmp_path: Path, count: int = 3000) -> tuple[Path, list[ManifestRecord]]:
    specs = [PayloadSpec("HomeDomain", f"Library/row{i:05d}/data", kind=Kind.DIR) for i in range(count)]
    write_backup(tmp_path, specs)
    db = tmp_path / "Manifest.db"
    full = read_manifest_db(db)
    assert full.complete and len(full.records) == count
    return db, full.records


def test_truncated_database_keeps_what_it_can(tmp_path: Path) -> None:
    db, full = _big_backup(tmp_path)
    data = db.read_bytes()
    by_id = {record.file_id: record for record in full}
    kept = []
    for fraction in (0.1, 0.5, 0.9, 0.99):
        db.write_bytes(data[: int(len(data) * fraction)])
        result = read_manifest_db(db)
        for record in result.records:
            # A row whose blob lay past the cut keeps its name and kind, without metadata.
            original = by_id[record.file_id]
            assert record == original or (record.file_id, record.domain, record.relative_path, record.size) == (
                original.file_id, original.domain, original.relative_path, None
            )
        assert not result.complete and result.problem
        kept.append(len(result.records))
    assert kept == sorted(kept) and kept[-1] > len(full) // 2, kept


def test_garbage_page_costs_only_its_rows(tmp_path: Path) -> None:
    db, full = _big_backup(tmp_path)
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    # The Files leaf page holding row 1500's path: the autoindex and the relativePath index hold it too,
    # so take the occurrence whose page also holds the blob's class name (only table pages do).
    needle = b"Library/row01500/data"
    page = next(
        offset // page_size
        for offset in range(len(data))
        if data.startswith(needle, offset)
        and b"MBFile" in data[offset // page_size * page_size : (offset // page_size + 1) * page_size]
    )
    data[page * page_size : (page + 1) * page_size] = os.urandom(page_size)
    db.write_bytes(bytes(data))
    result = read_manifest_db(db)
    assert not result.complete and "damaged" in (result.problem or "")
    assert set(result.records) <= set(full)
    read_paths = {r.relative_path for r in result.records}
    assert "Library/row01500/data" not in read_paths
    assert "Library/row02999/data" in read_paths  # reading resumed past the bad page
    assert len(result.records) > len(full) - 100


@pytest.mark.parametrize("wal", [False, True])
def test_reading_leaves_source_unchanged(tmp_path: Path, wal: bool) -> None:
    folder = tmp_path / "odd ?#% name"
    write_backup(folder, roundtrip_specs(), index_wal=wal)
    db = folder / "Manifest.db"
    assert db.read_bytes()[18:20] == (b"\x02\x02" if wal else b"\x01\x01")
    before = _snapshot(folder)
    for _ in range(2):
        assert len(read_manifest_db(db).records) == 5
    assert _snapshot(folder) == before
    assert not (folder / "Manifest.db-wal").exists() and not (folder / "Manifest.db-shm").exists()



@pytest.mark.parametrize("seed", range(12))
def test_random_damage_never_raises(tmp_path: Path, seed: int) -> None:
    """Garbage stretches over random pages (page 1 too) and a cut, by seed: a result, never an exception."""
    rng = random.Random(seed)
    db, full = _big_backup(tmp_path, count=800)
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    pages = len(data) // page_size
    for _ in range(rng.randint(1, 4)):
        page = rng.randrange(1 if seed % 3 else 0, pages)
        start = page * page_size + rng.randrange(page_size)
        length = min(rng.randint(1, page_size), len(data) - start)
        data[start : start + length] = rng.randbytes(length)
    if seed % 2:
        del data[rng.randrange(len(data)) :]
    db.write_bytes(bytes(data))
    result = read_manifest_db(db)
    assert result.complete or result.problem
    assert all(isinstance(r, ManifestRecord) for r in result.records)
