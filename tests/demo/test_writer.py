"""The synthetic backup writer: layout, schema, WAL state, plists, speed."""

from __future__ import annotations

import os
import plistlib
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from backupfs.demo.writer import PayloadSpec, default_plists, write_backup
from backupfs.source.manifest.db import read_manifest_db
from backupfs.source.manifest.mbfile import decode_mbfile
from backupfs.source.manifest.records import Kind, file_id

SPECS = [
    PayloadSpec("HomeDomain", "Library/SMS/sms.db", b"SQLite format 3\x00", mtime=1_500_000_000),
    PayloadSpec("HomeDomain", "Library/SMS", kind=Kind.DIR, mode=0o700),
    PayloadSpec("HomeDomain", "Library/link", kind=Kind.SYMLINK, target="SMS/sms.db"),
    PayloadSpec("MediaDomain", "Media/empty", b""),
]
SMS_ID = "3d0d7e5fb2ce288813306e4d4636395e047a3d28"


def test_hashed_layout_payloads(tmp_path: Path) -> None:
    write_backup(tmp_path, SPECS)
    payload = tmp_path / "3d" / SMS_ID
    assert payload.read_bytes() == b"SQLite format 3\x00"
    assert os.stat(payload).st_mtime == 1_500_000_000
    empty = tmp_path / file_id("MediaDomain", "Media/empty")[:2] / file_id("MediaDomain", "Media/empty")
    assert empty.read_bytes() == b""
    payloads = {p.name for p in tmp_path.glob("??/*")}
    assert payloads == {SMS_ID, file_id("MediaDomain", "Media/empty")}  # no payload for dirs or links
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["Manifest.db"]


def test_flat_layout_and_no_index(tmp_path: Path) -> None:
    write_backup(tmp_path, SPECS, layout="flat", index="none")
    assert sorted(os.listdir(tmp_path)) == sorted([SMS_ID, file_id("MediaDomain", "Media/empty")])


def test_manifest_db_schema_is_apples(tmp_path: Path) -> None:
    write_backup(tmp_path, SPECS)
    with sqlite3.connect(f"file:{tmp_path / 'Manifest.db'}?mode=ro&immutable=1", uri=True) as conn:
        schema = {(row[0], row[1]): row[2] for row in conn.execute("SELECT type, name, sql FROM sqlite_master")}
        rows = conn.execute("SELECT fileID, domain, relativePath, flags, file, typeof(relativePath) FROM Files").fetchall()
    conn.close()
    assert schema[("table", "Files")] == (
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB)")
    assert schema[("table", "Properties")] == "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)"
    assert {name for kind, name in schema if kind == "index" and not name.startswith("sqlite_")} == {
        "FilesDomainIdx", "FilesRelativePathIdx", "FilesFlagsIdx"}
    assert len(rows) == 4 and {row[5] for row in rows} == {"text"}
    meta = {row[2]: (row[3], decode_mbfile(row[4])) for row in rows}
    assert meta["Library/SMS"][0] == 2 and meta["Library/SMS"][1].mode == 0o040700
    assert meta["Library/link"][0] == 4 and meta["Library/link"][1].target == "SMS/sms.db"
    assert meta["Library/link"][1].mode == 0o120755
    sms = meta["Library/SMS/sms.db"][1]
    assert (sms.mode, sms.size, sms.mtime, sms.uid, sms.gid) == (0o100644, 16, 1_500_000_000, 501, 501)


@pytest.mark.parametrize("wal", [False, True])
def test_wal_header_and_no_sidecars(tmp_path: Path, wal: bool) -> None:
    write_backup(tmp_path, SPECS, index_wal=wal)
    header = (tmp_path / "Manifest.db").read_bytes()[:20]
    assert header[:16] == b"SQLite format 3\x00"
    assert header[18:20] == (b"\x02\x02" if wal else b"\x01\x01")
    assert not any(name.endswith(("-wal", "-shm", "-journal")) for name in os.listdir(tmp_path))


def test_rewriting_replaces_the_index(tmp_path: Path) -> None:
    write_backup(tmp_path, SPECS)
    write_backup(tmp_path, SPECS[:1])
    assert len(read_manifest_db(tmp_path / "Manifest.db").records) == 1


def test_manifest_size_and_mbdb_index(tmp_path: Path) -> None:
    write_backup(tmp_path, [PayloadSpec("D", "p", b"12", manifest_size=99)], index="mbdb", layout="flat")
    assert sorted(os.listdir(tmp_path)) == sorted(["Manifest.mbdb", file_id("D", "p")])
    assert (tmp_path / "Manifest.mbdb").read_bytes().startswith(b"mbdb\x05\x00")


@pytest.mark.parametrize("fmt, magic", [("binary", b"bplist00"), ("xml", b"<?xml")])
def test_plists_written_only_when_given(tmp_path: Path, fmt: str, magic: bytes) -> None:
    info, manifest, status = default_plists(bundle_ids=["com.example.app"])
    write_backup(tmp_path / "all", [], info=info, manifest_plist=manifest, status=status, plist_format=fmt)
    for name, content in (("Info.plist", info), ("Manifest.plist", manifest), ("Status.plist", status)):
        data = (tmp_path / "all" / name).read_bytes()
        assert data.startswith(magic)
        assert plistlib.loads(data) == content
    write_backup(tmp_path / "some", [], status=status, index="none")
    assert os.listdir(tmp_path / "some") == ["Status.plist"]


def test_default_plists_are_realistic() -> None:
    info, manifest, status = default_plists(device_name="Ann's iPhone", ios="16.4", udid="abc",
                                            bundle_ids=["com.a", "com.b"], encrypted=True,
                                            date=datetime(2024, 1, 2, 3, 4, 5))
    for key in ("Build Version", "Device Name", "Display Name", "GUID", "ICCID", "IMEI", "MEID", "Phone Number",
                "Product Type", "Product Version", "Serial Number", "Target Identifier", "Unique Identifier",
                "Last Backup Date", "iTunes Version", "Installed Applications", "Applications"):
        assert key in info, key
    assert (info["Device Name"], info["Product Version"], info["Unique Identifier"]) == ("Ann's iPhone", "16.4", "abc")
    assert info["Installed Applications"] == ["com.a", "com.b"] and set(info["Applications"]) == {"com.a", "com.b"}
    assert info["Last Backup Date"] == datetime(2024, 1, 2, 3, 4, 5)
    assert manifest["IsEncrypted"] is True and "BackupKeyBag" in manifest and "ManifestKey" in manifest
    assert manifest["Lockdown"]["DeviceName"] == "Ann's iPhone" and set(manifest["Applications"]) == {"com.a", "com.b"}
    assert status["SnapshotState"] == "finished" and {"BackupState", "Date", "IsFullBackup", "Version", "UUID"} <= set(status)
    assert default_plists()[1]["IsEncrypted"] is False and "ManifestKey" not in default_plists()[1]
    for content in default_plists():
        plistlib.dumps(content, fmt=plistlib.FMT_BINARY)


@pytest.mark.parametrize("bad", [{"layout": "tree"}, {"index": "xml"}, {"plist_format": "json"}])
def test_bad_options_raise(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ValueError):
        write_backup(tmp_path, SPECS, **bad)


def test_index_writing_is_fast(tmp_path: Path) -> None:
    """20,000 index rows take about a second here; quadratic behaviour would take minutes."""
    specs = [PayloadSpec("HomeDomain", f"Library/d{i}", kind=Kind.DIR) for i in range(20_000)]
    started = time.monotonic()
    write_backup(tmp_path, specs, index_wal=True)
    assert time.monotonic() - started < 20
    assert len(read_manifest_db(tmp_path / "Manifest.db").records) == 20_000
