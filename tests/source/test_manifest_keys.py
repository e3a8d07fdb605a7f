"""The keys of an encrypted backup, as the manifest readers hand them on (issue 14).

A real encrypted backup (keybag, ManifestKey, per-file keys) is written by
``backupfs.demo.encrypted``; the tests open it the way the index will: the keybag and
ManifestKey from ``read_backup_info``, Manifest.db decrypted with them, then each record's
EncryptionKey unwrapped and used to decrypt its payload back to the bytes written.
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from backupfs.demo.encrypted import FILE_CLASS, EncryptionKeys, write_encrypted_backup
from backupfs.demo.writer import PayloadSpec
from backupfs.source.crypto import ClassKeys, DecryptedReader, Keybag, decrypt_whole
from backupfs.source.manifest.db import read_manifest_db
from backupfs.source.manifest.mbdb import read_manifest_mbdb
from backupfs.source.manifest.mbfile import decode_mbfile
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id
from backupfs.source.manifest.salvage import salvage_files_rows
from backupfs.source.plists import BackupInfo, read_backup_info
from backupfs.source.safe_open import SourceFile

PASSWORD = "tr0ub4dor&3"
OTHER_CLASS = 1  # NSFileProtectionComplete: a few files use it, so the class prefix of a key matters


@dataclass(frozen=True)
class Encrypted:
    """A written encrypted backup, its decrypted Manifest.db, and what was put in it."""

    root: Path
    specs: list[PayloadSpec]
    keys: EncryptionKeys
    info: BackupInfo
    class_keys: ClassKeys
    manifest_db: Path  # the plaintext, written beside the backup for the test only


def _specs() -> list[PayloadSpec]:
    """Enough small rows to fill many leaf pages (none overflows), plus folders and a link."""
    specs = [
        PayloadSpec("HomeDomain", "Library", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library/link", kind=Kind.SYMLINK, target="Preferences/a.plist"),
    ]
    for i in range(400):
        body = bytes((i * 7 + n) % 251 for n in range(i % 37 * 13))  # 0 to 468 bytes, block edges included
        specs.append(PayloadSpec(f"AppDomain-com.example.app{i % 5}", f"Documents/file-{i:04d}.bin", body))
    return specs


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> Encrypted:
    base = tmp_path_factory.mktemp("encrypted")
    root = base / "backup"
    specs = _specs()
    other = {(s.domain, s.relative_path): OTHER_CLASS for s in specs[2::9]}
    keys = write_encrypted_backup(root, specs, PASSWORD, seed=14, file_classes=other)
    info = read_backup_info(root)
    class_keys = Keybag.parse(info.keybag).unlock(PASSWORD)
    plain = decrypt_whole((root / "Manifest.db").read_bytes(), class_keys.unwrap(info.manifest_key))
    manifest_db = base / "Manifest-plain.db"
    manifest_db.write_bytes(plain)
    return Encrypted(root, specs, keys, info, class_keys, manifest_db)


def _assert_key_opens_payload(backup: Encrypted, record: ManifestRecord) -> None:
    """The record's key unwraps to the file's key, which decrypts its payload to the bytes written."""
    assert record.encrypted and record.encryption_key is not None, record.relative_path
    assert len(record.encryption_key) == 44
    file_key = backup.class_keys.unwrap(record.encryption_key)
    assert file_key == backup.keys.file_keys[record.file_id]
    payload = SourceFile(backup.root / record.file_id[:2] / record.file_id)
    plain = DecryptedReader(payload, file_key, record.size or 0)
    content = {file_id(s.domain, s.relative_path): s.content for s in backup.specs}[record.file_id]
    assert plain.read(plain.size + 16, 0) == content, record.relative_path


def test_backup_info_carries_the_keybag_and_manifest_key(encrypted: Encrypted) -> None:
    info = encrypted.info
    assert info.encrypted is True and info.notes == ()
    assert info.keybag == encrypted.keys.keybag
    assert info.manifest_key is not None and len(info.manifest_key) == 44
    assert encrypted.class_keys.unwrap(info.manifest_key) == encrypted.keys.manifest_key
    assert encrypted.manifest_db.read_bytes().startswith(b"SQLite format 3\x00")


def test_every_record_of_the_decrypted_manifest_opens_its_payload(encrypted: Encrypted) -> None:
    result = read_manifest_db(encrypted.manifest_db)
    assert result.complete and len(result.records) == len(encrypted.specs)
    files = [r for r in result.records if r.kind is Kind.FILE]
    assert len(files) == 400
    for record in files:
        _assert_key_opens_payload(encrypted, record)
    classes = {struct.unpack("<I", r.encryption_key[:4])[0] for r in files if r.encryption_key}
    assert classes == {FILE_CLASS, OTHER_CLASS}
    for record in result.records:
        if record.kind is not Kind.FILE:
            assert (record.encrypted, record.encryption_key) == (False, None), record.relative_path


def _rows_on_whole_pages(database: Path, cut: int) -> set[str]:
    """fileIDs of the Files rows whose leaf page lies wholly before ``cut``, as SQLite's dbstat places them."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        try:
            pages = conn.execute(
                "SELECT pageno, pagetype, ncell FROM dbstat WHERE name = 'Files' ORDER BY path").fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to place rows on pages")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        ids = [fid for (fid,) in conn.execute("SELECT fileID FROM Files ORDER BY rowid")]
    conn.close()
    assert all(kind != "overflow" for _, kind, _ in pages)  # every row lies whole on its leaf page
    leaves = [(number, cells) for number, kind, cells in pages if kind == "leaf"]
    assert sum(cells for _, cells in leaves) == len(ids)
    kept: set[str] = set()
    first = 0
    for number, cells in leaves:  # in key order, so the rows of each leaf follow those of the one before
        if number * page_size <= cut:
            kept.update(ids[first : first + cells])
        first += cells
    return kept


def test_rows_salvaged_from_a_cut_manifest_keep_their_keys(encrypted: Encrypted) -> None:
    full = {r.file_id: r for r in read_manifest_db(encrypted.manifest_db).records}
    data = encrypted.manifest_db.read_bytes()
    cut = int(len(data) * 0.6)
    salvaged = salvage_files_rows(data[:cut])
    expected = _rows_on_whole_pages(encrypted.manifest_db, cut)
    assert 0 < len(expected) < len(full)
    assert {r.file_id for r in salvaged} == expected
    for record in salvaged:
        assert record == full[record.file_id]  # the key included
        if record.kind is Kind.FILE:
            _assert_key_opens_payload(encrypted, record)


def test_no_key_bytes_in_reprs(encrypted: Encrypted) -> None:
    records = read_manifest_db(encrypted.manifest_db).records
    with sqlite3.connect(f"file:{encrypted.manifest_db}?mode=ro", uri=True) as conn:
        blob = conn.execute("SELECT file FROM Files WHERE flags = 1 LIMIT 1").fetchone()[0]
    conn.close()
    meta = decode_mbfile(blob)
    secrets = [r.encryption_key for r in records if r.encryption_key]
    secrets += [meta.encryption_key, encrypted.info.keybag, encrypted.info.manifest_key]
    shown = [repr(meta), repr(encrypted.info), *map(repr, records)]
    assert all(secret is not None for secret in secrets)
    for text in shown:
        assert "encryption_key" not in text and "keybag" not in text and "manifest_key" not in text
    everything = "\n".join(shown)
    for secret in secrets:
        assert secret.hex() not in everything and repr(secret)[2:-1] not in everything


def _mbdb_string(raw: bytes | None) -> bytes:
    return b"\xff\xff" if raw is None else struct.pack(">H", len(raw)) + raw


def _mbdb(records: list[tuple[ManifestRecord, bytes | None]]) -> bytes:
    """An mbdb image (iOS 5-9 layout) whose EncryptionKey strings are the given raw bytes."""
    out = bytearray(b"mbdb\x05\x00")
    for record, key in records:
        target = record.target.encode() if record.target else None
        for text in (record.domain.encode(), record.relative_path.encode(), target, None, key):
            out += _mbdb_string(text)
        out += struct.pack(">HQIIIIIQBB", record.mode or 0, 7, 501, 501, record.mtime or 0, 0, 0,
                           record.size or 0, 3, 0)
    return bytes(out)


def test_mbdb_records_carry_their_keys(encrypted: Encrypted, tmp_path: Path) -> None:
    """The same files and keys in an mbdb: each key comes back and opens its payload;
    an empty or null EncryptionKey string means no key."""
    records = sorted(read_manifest_db(encrypted.manifest_db).records, key=lambda r: r.relative_path)
    files = [r for r in records if r.kind is Kind.FILE]
    others = [r for r in records if r.kind is not Kind.FILE]
    entries = [(r, r.encryption_key) for r in files] + [(others[0], b""), (others[1], None)]
    (tmp_path / "Manifest.mbdb").write_bytes(_mbdb(entries))
    result = read_manifest_mbdb(tmp_path / "Manifest.mbdb")
    assert result.complete and len(result.records) == len(entries)
    by_id = {r.file_id: r for r in result.records}
    for record in files:
        read = by_id[record.file_id]
        assert read.encryption_key == record.encryption_key
        _assert_key_opens_payload(encrypted, read)
    for record in others:
        assert (by_id[record.file_id].encrypted, by_id[record.file_id].encryption_key) == (False, None)
    assert all(record.encryption_key.hex() not in repr(result) for record in files if record.encryption_key)
