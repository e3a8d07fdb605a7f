"""Encrypted sample backups, checked by an independent reader (iphone_backup_decrypt)."""

from __future__ import annotations

import hashlib
import plistlib
import sqlite3
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from iphone_backup_decrypt import EncryptedBackup
from iphone_backup_decrypt.exceptions import IncorrectPassphraseError

from backupfs.demo.encrypted import (
    FILE_CLASS,
    IOS9_UDID,
    MANIFEST_CLASS,
    write_encrypted_backup,
)
from backupfs.demo.writer import PayloadSpec
from backupfs.source.crypto.cbc import DecryptedReader, decrypt_whole
from backupfs.source.crypto.keybag import Keybag, WrongPasswordError
from backupfs.source.manifest.mbdb import FIXED_FIELDS, MAGIC, read_manifest_mbdb
from backupfs.source.manifest.mbfile import decode_mbfile
from backupfs.source.manifest.records import Kind, file_id
from backupfs.source.safe_open import SourceFile

PASSWORD = "correct horse battery staple"
MARKER = b"PLAINTEXT-MARKER-7f3a"


def _sqlite_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "scratch.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE message (ROWID INTEGER PRIMARY KEY, text TEXT)")
        conn.executemany("INSERT INTO message (text) VALUES (?)",
                         [(f"{MARKER.decode()} message {i}",) for i in range(50)])
    conn.close()
    return path.read_bytes()


def _specs(tmp_path: Path) -> list[PayloadSpec]:
    plist = plistlib.dumps({"Marker": MARKER.decode(), "Count": 3}, fmt=plistlib.FMT_BINARY)
    specs = [
        PayloadSpec("HomeDomain", "Library/SMS/sms.db", _sqlite_bytes(tmp_path)),
        PayloadSpec("HomeDomain", "Library/Preferences/com.apple.demo.plist", plist),
        PayloadSpec("HomeDomain", "Library/SMS", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library/link", kind=Kind.SYMLINK, target="SMS/sms.db"),
    ]
    for length in (0, 1, 15, 16, 17, 4096 + 3):
        body = (MARKER * (length // len(MARKER) + 1))[:length]
        specs.append(PayloadSpec("MediaDomain", f"Media/len-{length}.bin", body))
    return specs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PayloadSpec], object]:
    base = tmp_path_factory.mktemp("encrypted")
    root = base / "00008030-001A2B3C4D5E6F70"
    specs = _specs(base)
    keys = write_encrypted_backup(root, specs, PASSWORD, iterations=3, dpic=2, seed=7)
    return root, specs, keys


def test_independent_reader_decrypts_every_file(built) -> None:
    root, specs, _ = built
    backup = EncryptedBackup(backup_directory=str(root), passphrase=PASSWORD)
    backup.test_decryption()
    files = [s for s in specs if s.kind is Kind.FILE]
    for spec in files:
        got = backup.extract_file_as_bytes(spec.relative_path, domain_like=spec.domain)
        assert got == spec.content, spec.relative_path
    with backup.manifest_db_cursor() as cur:
        cur.execute("SELECT fileID, domain, relativePath, flags, file FROM Files")
        fetched = cur.fetchall()
    rows = {(d, p): (fid, flags) for fid, d, p, flags, _ in fetched}
    assert rows == {(s.domain, s.relative_path): (file_id(s.domain, s.relative_path), int(s.kind)) for s in specs}
    # backupfs's own MBFile decoder reads the same rows: encrypted files, plaintext sizes.
    metas = {p: decode_mbfile(blob) for _, _, p, _, blob in fetched}
    for spec in specs:
        meta = metas[spec.relative_path]
        assert meta.encrypted is (spec.kind is Kind.FILE)
        if spec.kind is Kind.FILE:
            assert (meta.size, meta.protection_class) == (len(spec.content), FILE_CLASS)


def test_decrypted_sqlite_and_plist_are_usable(built, tmp_path: Path) -> None:
    root, _, _ = built
    backup = EncryptedBackup(backup_directory=str(root), passphrase=PASSWORD)
    out = tmp_path / "sms.db"
    backup.extract_file(relative_path="Library/SMS/sms.db", domain_like="HomeDomain", output_filename=str(out))
    with sqlite3.connect(f"file:{out}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM message").fetchone() == (50,)
    conn.close()
    plist = backup.extract_file_as_bytes("Library/Preferences/com.apple.demo.plist")
    assert plistlib.loads(plist) == {"Marker": MARKER.decode(), "Count": 3}


def test_wrong_password_is_refused(built) -> None:
    root, _, _ = built
    backup = EncryptedBackup(backup_directory=str(root), passphrase="not the password")
    with pytest.raises(IncorrectPassphraseError):
        backup.test_decryption()


def test_nothing_on_disk_is_plaintext(built) -> None:
    root, specs, _ = built
    everything = [p for p in root.rglob("*") if p.is_file()]
    assert len(everything) == 4 + 8  # three plists and Manifest.db; eight payloads (no dirs, no links)
    for path in everything:
        data = path.read_bytes()
        assert MARKER not in data, path
        assert b"SQLite format 3" not in data, path
    for spec in specs:
        if spec.kind is not Kind.FILE:
            continue
        fid = file_id(spec.domain, spec.relative_path)
        payload = (root / fid[:2] / fid).read_bytes()
        assert len(payload) == (len(spec.content) // 16 + 1) * 16  # PKCS7 always adds 1-16 bytes
        assert payload != spec.content


def test_keys_and_fields_are_laid_out_as_ios_does(built) -> None:
    root, specs, keys = built
    manifest = plistlib.loads((root / "Manifest.plist").read_bytes())
    assert manifest["IsEncrypted"] is True
    bag = manifest["BackupKeyBag"]
    tags = []
    at = 0
    while at < len(bag):
        tag, length = bag[at:at + 4], struct.unpack(">I", bag[at + 4:at + 8])[0]
        tags.append(tag)
        at += 8 + length
    assert at == len(bag)
    header = [b"VERS", b"TYPE", b"UUID", b"HMCK", b"WRAP", b"SALT", b"ITER", b"DPWT", b"DPIC", b"DPSL"]
    assert tags[:10] == header
    per_class = tags[10:]
    assert len(per_class) % 5 == 0 and per_class[:5] == [b"UUID", b"CLAS", b"WRAP", b"KTYP", b"WPKY"]
    assert set(keys.class_keys) >= {FILE_CLASS, MANIFEST_CLASS}
    manifest_key = manifest["ManifestKey"]
    assert struct.unpack("<I", manifest_key[:4])[0] == MANIFEST_CLASS and len(manifest_key) == 44
    assert aes_key_unwrap(keys.class_keys[MANIFEST_CLASS], manifest_key[4:]) == keys.manifest_key
    # Random access: block i of a payload decrypts with ciphertext block i-1 as its IV.
    big = next(s for s in specs if s.relative_path == "Media/len-4099.bin")
    fid = file_id(big.domain, big.relative_path)
    cipher = (root / fid[:2] / fid).read_bytes()
    decryptor = Cipher(algorithms.AES(keys.file_keys[fid]), modes.CBC(cipher[1024 - 16:1024])).decryptor()
    assert decryptor.update(cipher[1024:1040]) + decryptor.finalize() == big.content[1024:1040]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    specs = [PayloadSpec("HomeDomain", "a.txt", b"alpha"), PayloadSpec("HomeDomain", "b.txt", b"beta" * 9)]
    trees = []
    for name, seed in (("one", 1), ("two", 1), ("three", 2)):
        write_encrypted_backup(tmp_path / name, specs, PASSWORD, seed=seed)
        trees.append({p.relative_to(tmp_path / name): p.read_bytes()
                      for p in sorted((tmp_path / name).rglob("*")) if p.is_file()})
    assert trees[0] == trees[1]
    assert trees[0].keys() == trees[2].keys() and trees[0] != trees[2]


def test_damaged_manifest_db(tmp_path: Path) -> None:
    specs = [PayloadSpec("HomeDomain", f"f{i}.bin", bytes([i]) * 3000) for i in range(40)]
    whole = write_encrypted_backup(tmp_path / "whole", specs, PASSWORD, seed=3)
    full = (tmp_path / "whole" / "Manifest.db").read_bytes()
    assert len(full) % 16 == 0

    write_encrypted_backup(tmp_path / "gone", specs, PASSWORD, seed=3, manifest_db=False)
    assert not (tmp_path / "gone" / "Manifest.db").exists()
    assert len(list((tmp_path / "gone").glob("??/*"))) == 40  # payloads are still there
    assert (tmp_path / "gone" / "Manifest.plist").exists()

    cut = write_encrypted_backup(tmp_path / "cut", specs, PASSWORD, seed=3, manifest_db_size=4096)
    short = (tmp_path / "cut" / "Manifest.db").read_bytes()
    assert short == full[:4096] and cut.manifest_key == whole.manifest_key
    # The first page still decrypts to the start of an SQLite file, as a recovery would read it.
    decryptor = Cipher(algorithms.AES(cut.manifest_key), modes.CBC(bytes(16))).decryptor()
    assert (decryptor.update(short) + decryptor.finalize()).startswith(b"SQLite format 3\x00")
    backup = EncryptedBackup(backup_directory=str(tmp_path / "cut"), passphrase=PASSWORD)
    with pytest.raises(ValueError):  # the independent reader cannot open it either
        backup.test_decryption()

    write_encrypted_backup(tmp_path / "empty", specs, PASSWORD, seed=3, manifest_db_size=0)
    assert (tmp_path / "empty" / "Manifest.db").read_bytes() == b""


def test_password_key_matches_the_readers_derivation(built) -> None:
    root, _, keys = built
    backup = EncryptedBackup(backup_directory=str(root), passphrase=PASSWORD)
    backup.test_decryption()
    assert backup.keybag.passphrase_key == keys.password_key
    attrs = backup.keybag.attrs
    assert (attrs[b"ITER"], attrs[b"DPIC"]) == (3, 2)
    first = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), attrs[b"DPSL"], 2, 32)
    assert hashlib.pbkdf2_hmac("sha1", first, attrs[b"SALT"], 3, 32) == keys.password_key


def test_backupfs_own_keybag_and_cbc_reader_decrypt_what_the_independent_reader_does(built, tmp_path: Path) -> None:
    """The fixture and backupfs.source.crypto agree with each other and with iphone_backup_decrypt."""
    root, specs, _ = built
    manifest = plistlib.loads((root / "Manifest.plist").read_bytes())
    with pytest.raises(WrongPasswordError, match="the password does not open this backup"):
        Keybag.parse(manifest["BackupKeyBag"]).unlock("wrong")
    class_keys = Keybag.parse(manifest["BackupKeyBag"]).unlock(PASSWORD)
    database = tmp_path / "Manifest.db"
    database.write_bytes(decrypt_whole((root / "Manifest.db").read_bytes(), class_keys.unwrap(manifest["ManifestKey"])))
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT fileID, relativePath, file FROM Files WHERE flags=1").fetchall()
    conn.close()
    reader = EncryptedBackup(backup_directory=str(root), passphrase=PASSWORD)
    plaintexts = {s.relative_path: s.content for s in specs if s.kind is Kind.FILE}
    assert sorted(path for _, path, _ in rows) == sorted(plaintexts)
    for fid, path, blob in rows:
        archive = plistlib.loads(blob)
        objects = archive["$objects"]
        top = objects[archive["$top"]["root"].data]
        wrapped = objects[top["EncryptionKey"].data]["NS.data"]
        payload = SourceFile(root / fid[:2] / fid)
        plain = DecryptedReader(payload, class_keys.unwrap(wrapped), top["Size"])
        assert plain.read(plain.size, 0) == plaintexts[path] == reader.extract_file_as_bytes(path)


# iOS 5-9: flat layout, a plain Manifest.mbdb holding each file's wrapped key, a SHA1-only keybag.

OTHER_CLASS = 2  # one file in another protection class: each key is unwrapped by its own class key


@pytest.fixture(scope="module")
def built_mbdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PayloadSpec], object]:
    base = tmp_path_factory.mktemp("encrypted-mbdb")
    root = base / IOS9_UDID
    specs = _specs(base)
    keys = write_encrypted_backup(
        root, specs, PASSWORD, generation="mbdb", iterations=3, seed=7,
        file_classes={("HomeDomain", "Library/SMS/sms.db"): OTHER_CLASS})
    return root, specs, keys


def _tags(bag: bytes) -> list[bytes]:
    tags, at = [], 0
    while at < len(bag):
        tags.append(bag[at:at + 4])
        at += 8 + struct.unpack(">I", bag[at + 4:at + 8])[0]
    assert at == len(bag)
    return tags


def test_mbdb_backup_is_flat_with_a_plain_index_and_ios9_plists(built_mbdb) -> None:
    root, specs, keys = built_mbdb
    files = {file_id(s.domain, s.relative_path) for s in specs if s.kind is Kind.FILE}
    assert all(p.is_file() for p in root.iterdir())  # no 00-ff folders
    assert {p.name for p in root.iterdir()} == files | {"Info.plist", "Manifest.plist", "Status.plist", "Manifest.mbdb"}
    assert (root / "Manifest.mbdb").read_bytes().startswith(MAGIC)  # never encrypted before iOS 10.2
    info = plistlib.loads((root / "Info.plist").read_bytes())
    manifest = plistlib.loads((root / "Manifest.plist").read_bytes())
    status = plistlib.loads((root / "Status.plist").read_bytes())
    assert (info["Product Version"], info["Unique Identifier"], manifest["Version"]) == ("9.3.5", IOS9_UDID, "9.1")
    assert manifest["Lockdown"]["ProductVersion"] == "9.3.5" and status["SnapshotState"] == "finished"
    assert manifest["IsEncrypted"] is True and manifest["BackupKeyBag"] == keys.keybag
    assert "ManifestKey" not in manifest and keys.manifest_key is None
    for spec in specs:
        if spec.kind is Kind.FILE:
            payload = (root / file_id(spec.domain, spec.relative_path)).read_bytes()
            assert len(payload) == (len(spec.content) // 16 + 1) * 16 and MARKER not in payload
            assert b"SQLite format 3" not in payload


def test_mbdb_keybag_derives_with_sha1_only_and_unlocks(built_mbdb) -> None:
    root, _, keys = built_mbdb
    bag = plistlib.loads((root / "Manifest.plist").read_bytes())["BackupKeyBag"]
    tags = _tags(bag)
    assert tags[:7] == [b"VERS", b"TYPE", b"UUID", b"HMCK", b"WRAP", b"SALT", b"ITER"]
    assert not {b"DPWT", b"DPIC", b"DPSL"} & set(tags)
    assert tags[7:12] == [b"UUID", b"CLAS", b"WRAP", b"KTYP", b"WPKY"] and len(tags[7:]) % 5 == 0
    keybag = Keybag.parse(bag)
    assert (keybag.version, keybag.dp_salt, keybag.dp_iterations, keybag.iterations) == (3, None, None, 3)
    assert keybag.derive(PASSWORD) == hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), keybag.salt, 3, 32)
    assert keybag.derive(PASSWORD) == keys.password_key
    assert dict(keybag.unlock(PASSWORD).items()) == keys.class_keys
    with pytest.raises(WrongPasswordError, match="the password does not open this backup"):
        keybag.unlock("wrong")


def test_every_mbdb_key_unwraps_and_decrypts_its_payload(built_mbdb) -> None:
    root, specs, keys = built_mbdb
    manifest = plistlib.loads((root / "Manifest.plist").read_bytes())
    class_keys = Keybag.parse(manifest["BackupKeyBag"]).unlock(PASSWORD)
    result = read_manifest_mbdb(root / "Manifest.mbdb")
    assert result.complete and result.problem is None
    by_path = {r.relative_path: r for r in result.records}
    assert sorted(by_path) == sorted(s.relative_path for s in specs)
    for spec in specs:
        record = by_path[spec.relative_path]
        assert (record.domain, record.kind, record.file_id) == (
            spec.domain, spec.kind, file_id(spec.domain, spec.relative_path))
        if spec.kind is not Kind.FILE:
            assert record.encryption_key is None and not record.encrypted
            continue
        wanted_class = OTHER_CLASS if spec.relative_path == "Library/SMS/sms.db" else FILE_CLASS
        assert len(record.encryption_key) == 44 and record.encrypted
        assert struct.unpack("<I", record.encryption_key[:4])[0] == wanted_class
        file_key = class_keys.unwrap(record.encryption_key)
        assert file_key == keys.file_keys[record.file_id]
        assert record.size == len(spec.content)  # the plaintext size, not the padded one
        ciphertext = root / record.file_id
        assert decrypt_whole(ciphertext.read_bytes(), file_key) == spec.content
        plain = DecryptedReader(SourceFile(ciphertext), file_key, record.size)
        assert plain.read(plain.size, 0) == spec.content, spec.relative_path


def test_mbdb_records_carry_the_protection_class_of_their_key(built_mbdb) -> None:
    """The record's protection byte agrees with its key, as a device writes it."""
    root, specs, _ = built_mbdb
    data = (root / "Manifest.mbdb").read_bytes()
    at, classes = len(MAGIC), {}
    while at < len(data):
        strings = []
        for _ in range(5):
            (length,) = struct.unpack(">H", data[at:at + 2])
            at += 2
            strings.append(None if length == 0xFFFF else data[at:at + length])
            at += 0 if length == 0xFFFF else length
        protection = FIXED_FIELDS.unpack(data[at:at + FIXED_FIELDS.size])[8]
        at += FIXED_FIELDS.size
        classes[strings[1].decode()] = (protection, strings[4])
    for spec in specs:
        protection, key = classes[spec.relative_path]
        if spec.kind is Kind.FILE:
            assert protection == struct.unpack("<I", key[:4])[0]
        else:
            assert (protection, key) == (0, None)


def test_mbdb_same_seed_same_bytes_and_bad_options(tmp_path: Path) -> None:
    specs = [PayloadSpec("HomeDomain", "a.txt", b"alpha"), PayloadSpec("HomeDomain", "b.txt", b"beta" * 9)]
    trees = []
    for name, seed in (("one", 1), ("two", 1), ("three", 2)):
        write_encrypted_backup(tmp_path / name, specs, PASSWORD, generation="mbdb", seed=seed)
        trees.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert trees[0] == trees[1]
    assert trees[0].keys() == trees[2].keys() and trees[0] != trees[2]
    with pytest.raises(ValueError, match="Manifest.db"):
        write_encrypted_backup(tmp_path / "wal", specs, PASSWORD, generation="mbdb", index_wal=True)
    with pytest.raises(ValueError, match="unknown generation"):
        write_encrypted_backup(tmp_path / "odd", specs, PASSWORD, generation="plist")
