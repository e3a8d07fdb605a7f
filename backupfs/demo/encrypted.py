"""Write encrypted sample backups (iOS 10.2+, and iOS 5-9), laid out and keyed as a device writes them.

The layout is the one of :func:`backupfs.demo.writer.write_backup` (hashed payloads, Apple's
Manifest.db schema, MBFile blobs); on top of it, as iOS 10.2+ does when the user set a backup
password:

- Manifest.plist: ``IsEncrypted`` true, a ``BackupKeyBag`` and a ``ManifestKey``;
- the keybag (TLV: 4-byte tag, 4-byte big-endian length, value) holds, after its header
  (VERS, TYPE, UUID, HMCK, WRAP, SALT, ITER, DPWT, DPIC, DPSL), one block per protection
  class (UUID, CLAS, WRAP, KTYP, WPKY) whose WPKY is a random 32-byte class key wrapped
  (RFC 3394) with the password key
  ``PBKDF2-SHA1(PBKDF2-SHA256(password, DPSL, DPIC), SALT, ITER)``;
- Manifest.db is AES-256-CBC, zero IV, PKCS7, under the key of ``ManifestKey``
  (4-byte little-endian class + the key wrapped by that class key);
- each file has its own random 32-byte key; its MBFile ``EncryptionKey`` is the 4-byte
  little-endian class + that key wrapped by the class key, its payload is AES-256-CBC,
  zero IV, PKCS7 (so an empty file is one 16-byte block) and ``Size`` is the plaintext length.

The iOS 5-9 generation (``generation="mbdb"``) differs where those devices differ: payloads
lie flat in the backup folder, the index is Manifest.mbdb (never encrypted) whose record
``EncryptionKey`` string holds the same 44-byte class + wrapped key, the keybag (VERS 3) has
no DPWT, DPIC or DPSL so the password key is only ``PBKDF2-SHA1(password, SALT, ITER)``, and
Manifest.plist has no ManifestKey. Payloads are encrypted as above.

Every random byte comes from ``random.Random(seed)``: the same arguments write the same
bytes. The iteration counts are parameters; the defaults are tiny so tests stay fast
(a device uses :data:`DEVICE_ITER` and :data:`DEVICE_DPIC`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from backupfs.demo.encode import encode_mbdb
from backupfs.demo.writer import (
    PayloadSpec,
    default_plists,
    manifest_record,
    write_backup,
    write_manifest_db,
)
from backupfs.source.manifest.records import Kind, ManifestRecord

DEVICE_ITER = 10_000  # SHA1 rounds a device writes in ITER
DEVICE_DPIC = 10_000_000  # SHA256 rounds a device writes in DPIC
PROTECTION_CLASSES = tuple(range(1, 12))  # 1-4 file classes, 5-11 the other data-protection / keychain classes
FILE_CLASS = 3  # NSFileProtectionCompleteUntilFirstUserAuthentication, most files of a backup
MANIFEST_CLASS = 4  # the class of ManifestKey
WRAP_DEVICE, WRAP_PASSCODE = 1, 2
# Classes whose WRAP also carries the device bit: a backup keybag reader must ignore that bit.
_DEVICE_BIT_CLASSES = frozenset({9, 10, 11})
_KEYBAG_VERSION = 4  # iOS 10.2+, with the DP* records
_KEYBAG_VERSION_SHA1 = 3  # iOS 5 to 10.1: SALT and ITER only
_KEYBAG_TYPE_BACKUP = 1
_ZERO_IV = bytes(16)
GENERATIONS = ("db", "mbdb")  # iOS 10.2+ (Manifest.db, encrypted) and iOS 5-9 (Manifest.mbdb, plain)
IOS9_UDID = "3f2a9c41d07b65e8a1c4f09e2b7d36a58c0e91f4"  # 40 hex digits, as devices before 2018 have
_IOS9_DEVICE = {"ProductType": "iPhone8,1", "BuildVersion": "13G36", "ProductVersion": "9.3.5"}


@dataclass(frozen=True)
class EncryptionKeys:
    """Every key of a written backup, for tests that check a decryption step by step."""

    password_key: bytes  # the key derived from the password, that unwraps the class keys
    class_keys: dict[int, bytes]  # protection class -> class key
    manifest_key: bytes | None  # the (unwrapped) AES key of Manifest.db; None for iOS 5-9 (no ManifestKey)
    file_keys: dict[str, bytes]  # fileID -> the (unwrapped) AES key of that payload
    keybag: bytes  # the BackupKeyBag written in Manifest.plist


def password_key(
    password: str | bytes, *, salt: bytes, iterations: int, dpsl: bytes | None = None, dpic: int | None = None
) -> bytes:
    """The backup password key: PBKDF2-SHA1(PBKDF2-SHA256(password, DPSL, DPIC), SALT, ITER) from
    iOS 10.2, PBKDF2-SHA1(password, SALT, ITER) before (``dpsl`` None)."""
    raw = password.encode("utf-8") if isinstance(password, str) else password
    if dpsl is not None:
        if dpic is None:
            raise ValueError("a DPSL needs its DPIC round count")
        raw = hashlib.pbkdf2_hmac("sha256", raw, dpsl, dpic, 32)
    return hashlib.pbkdf2_hmac("sha1", raw, salt, iterations, 32)


def encrypt_cbc(key: bytes, plaintext: bytes) -> bytes:
    """AES-256-CBC, zero IV, PKCS7 padding: how a backup stores payloads and Manifest.db."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def wrapped_key_field(protection_class: int, kek: bytes, key: bytes) -> bytes:
    """4-byte little-endian class + ``key`` wrapped (RFC 3394) by ``kek``: ManifestKey and EncryptionKey."""
    return struct.pack("<I", protection_class) + aes_key_wrap(kek, key)


def build_keybag(
    rng: random.Random, key: bytes, *, iterations: int, salt: bytes, dpic: int | None = None,
    dpsl: bytes | None = None, classes: Iterable[int] = PROTECTION_CLASSES,
) -> tuple[bytes, dict[int, bytes]]:
    """(BackupKeyBag bytes, class -> class key), the class keys random and wrapped with ``key``.

    Without ``dpsl`` the keybag is an iOS 5-9 one: VERS 3 and no DPWT, DPIC or DPSL.
    """
    out = bytearray()
    out += _tlv(b"VERS", _u32(_KEYBAG_VERSION if dpsl is not None else _KEYBAG_VERSION_SHA1))
    out += _tlv(b"TYPE", _u32(_KEYBAG_TYPE_BACKUP))
    out += _tlv(b"UUID", rng.randbytes(16))
    out += _tlv(b"HMCK", rng.randbytes(40))
    out += _tlv(b"WRAP", _u32(0))
    out += _tlv(b"SALT", salt)
    out += _tlv(b"ITER", _u32(iterations))
    if dpsl is not None:
        if dpic is None:
            raise ValueError("a DPSL needs its DPIC round count")
        out += _tlv(b"DPWT", _u32(1))
        out += _tlv(b"DPIC", _u32(dpic))
        out += _tlv(b"DPSL", dpsl)
    class_keys: dict[int, bytes] = {}
    for protection_class in classes:
        class_key = rng.randbytes(32)
        class_keys[protection_class] = class_key
        wrap = WRAP_PASSCODE | (WRAP_DEVICE if protection_class in _DEVICE_BIT_CLASSES else 0)
        out += _tlv(b"UUID", rng.randbytes(16))
        out += _tlv(b"CLAS", _u32(protection_class))
        out += _tlv(b"WRAP", _u32(wrap))
        out += _tlv(b"KTYP", _u32(0))
        out += _tlv(b"WPKY", aes_key_wrap(key, class_key))
    return bytes(out), class_keys


def write_encrypted_backup(
    root: Path,
    specs: Iterable[PayloadSpec],
    password: str | bytes,
    *,
    generation: str = "db",
    iterations: int = 1,
    dpic: int = 1,
    seed: int = 0,
    file_class: int = FILE_CLASS,
    manifest_class: int = MANIFEST_CLASS,
    file_classes: Mapping[tuple[str, str], int] | None = None,
    manifest_db: bool = True,
    manifest_db_size: int | None = None,
    index_wal: bool = False,
    info: dict | None = None,
    manifest_plist: dict | None = None,
    status: dict | None = None,
) -> EncryptionKeys:
    """Write an encrypted backup of ``specs`` into ``root``, locked by ``password``.

    ``generation`` is "db" (iOS 10.2+: hashed folders, encrypted Manifest.db) or "mbdb"
    (iOS 5-9: flat, plain Manifest.mbdb, SHA1-only keybag; ``dpic`` and ``manifest_class``
    are unused). ``iterations`` and ``dpic`` are the ITER (SHA1) and DPIC (SHA256) rounds of
    the key derivation. Files get protection class ``file_class`` unless ``file_classes``
    maps their (domain, relativePath) to another one. Plists default to
    :func:`default_plists` (for "mbdb", :func:`ios9_plists`); the keys of encryption are
    always set in Manifest.plist.

    Damage (Manifest.db only): ``manifest_db=False`` leaves Manifest.db out;
    ``manifest_db_size`` keeps only the first that many bytes of the encrypted Manifest.db
    (0: an empty file).
    """
    if generation not in GENERATIONS:
        raise ValueError(f"unknown generation {generation!r}, not one of {GENERATIONS}")
    modern = generation == "db"
    if not modern and (index_wal or not manifest_db or manifest_db_size is not None):
        raise ValueError("index_wal, manifest_db and manifest_db_size shape a Manifest.db, which iOS 5-9 has not")
    root = Path(root)
    specs = list(specs)
    rng = random.Random(seed)
    salt = rng.randbytes(20)
    dpsl, rounds = (rng.randbytes(20), dpic) if modern else (None, None)
    key = password_key(password, salt=salt, iterations=iterations, dpsl=dpsl, dpic=rounds)
    keybag, class_keys = build_keybag(rng, key, iterations=iterations, dpic=rounds, salt=salt, dpsl=dpsl)
    classes = {file_class, *(file_classes or {}).values(), *((manifest_class,) if modern else ())}
    missing = sorted(c for c in classes if c not in class_keys)
    if missing:
        raise ValueError(f"protection classes {missing} are not in the keybag")

    records, sealed, file_keys = _seal(rng, specs, class_keys, file_class, file_classes or {})
    default_info, default_manifest, default_status = default_plists(encrypted=True) if modern else ios9_plists()
    manifest = dict(default_manifest if manifest_plist is None else manifest_plist)
    manifest.update(IsEncrypted=True, BackupKeyBag=keybag)
    manifest.pop("ManifestKey", None)
    manifest_key = rng.randbytes(32) if modern else None
    if manifest_key is not None:
        manifest["ManifestKey"] = wrapped_key_field(manifest_class, class_keys[manifest_class], manifest_key)
    write_backup(
        root, sealed, layout="hashed" if modern else "flat", index="none",
        info=default_info if info is None else info,
        manifest_plist=manifest,
        status=default_status if status is None else status,
    )
    if manifest_key is None:
        (root / "Manifest.mbdb").write_bytes(encode_mbdb(records))
    elif manifest_db:
        plain_db = _manifest_db_bytes(records, wal=index_wal)
        encrypted_db = encrypt_cbc(manifest_key, plain_db)
        if manifest_db_size is not None:
            encrypted_db = encrypted_db[:manifest_db_size]
        (root / "Manifest.db").write_bytes(encrypted_db)
    return EncryptionKeys(
        password_key=key, class_keys=class_keys, manifest_key=manifest_key, file_keys=file_keys, keybag=keybag)


def ios9_plists() -> tuple[dict, dict, dict]:
    """(Info.plist, Manifest.plist, Status.plist) as an iPhone 6s on iOS 9.3.5 and iTunes 12.5 write them."""
    device = _IOS9_DEVICE
    info, manifest, status = default_plists(
        "Test iPhone", ios=device["ProductVersion"], udid=IOS9_UDID, encrypted=True,
        date=datetime(2016, 11, 14, 22, 13, 20, tzinfo=timezone.utc))
    info.update({"Product Type": device["ProductType"], "Product Name": "iPhone 6s",
                 "Build Version": device["BuildVersion"], "iTunes Version": "12.5.1.21"})
    manifest.update(Version="9.1", SystemDomainsVersion="22.0")
    manifest["Lockdown"].update(ProductType=device["ProductType"], BuildVersion=device["BuildVersion"])
    del manifest["ManifestKey"]  # iOS 10.2 introduced it, with the encrypted Manifest.db
    status["Version"] = "2.4"
    return info, manifest, status


def _seal(
    rng: random.Random, specs: list[PayloadSpec], class_keys: Mapping[int, bytes], file_class: int,
    file_classes: Mapping[tuple[str, str], int],
) -> tuple[list[ManifestRecord], list[PayloadSpec], dict[str, bytes]]:
    """(index records with each file's EncryptionKey, specs holding the ciphertexts, fileID -> file key).

    The records describe the plaintext (its Size); the specs are what lies on the disk.
    """
    records: list[ManifestRecord] = []
    sealed: list[PayloadSpec] = []
    file_keys: dict[str, bytes] = {}
    for spec in specs:
        record = manifest_record(spec)
        if spec.kind is not Kind.FILE:
            records.append(record)
            sealed.append(spec)
            continue
        protection_class = file_classes.get((spec.domain, spec.relative_path), file_class)
        file_key = rng.randbytes(32)
        file_keys[record.file_id] = file_key
        records.append(dataclasses.replace(
            record, encrypted=True,
            encryption_key=wrapped_key_field(protection_class, class_keys[protection_class], file_key)))
        plaintext = spec.content or b""
        sealed.append(dataclasses.replace(
            spec, content=encrypt_cbc(file_key, plaintext),
            manifest_size=len(plaintext) if spec.manifest_size is None else spec.manifest_size))
    return records, sealed, file_keys


def _manifest_db_bytes(records: list[ManifestRecord], *, wal: bool) -> bytes:
    """The plaintext Manifest.db: the writer's, with EncryptionKey and ProtectionClass per file."""
    keys = {
        r.file_id: (int.from_bytes(r.encryption_key[:4], "little"), r.encryption_key)
        for r in records if r.encryption_key is not None
    }
    with tempfile.TemporaryDirectory(prefix="backupfs-manifest-") as scratch:
        path = Path(scratch) / "Manifest.db"
        write_manifest_db(path, records, wal=wal, keys=keys)
        return path.read_bytes()


def _tlv(tag: bytes, value: bytes) -> bytes:
    return tag + struct.pack(">I", len(value)) + value


def _u32(value: int) -> bytes:
    return struct.pack(">I", value)
