"""Write encrypted sample backups (iOS 10.2+), laid out and keyed as a device writes them.

The layout is the one of :func:`backupfs.demo.writer.write_backup` (hashed payloads, Apple's
Manifest.db schema, MBFile blobs); on top of it, as iOS does when the user set a backup
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
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

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
_KEYBAG_VERSION = 4
_KEYBAG_TYPE_BACKUP = 1
_ZERO_IV = bytes(16)


@dataclass(frozen=True)
class EncryptionKeys:
    """Every key of a written backup, for tests that check a decryption step by step."""

    password_key: bytes  # the key derived from the password, that unwraps the class keys
    class_keys: dict[int, bytes]  # protection class -> class key
    manifest_key: bytes  # the (unwrapped) AES key of Manifest.db
    file_keys: dict[str, bytes]  # fileID -> the (unwrapped) AES key of that payload
    keybag: bytes  # the BackupKeyBag written in Manifest.plist


def password_key(password: str | bytes, *, salt: bytes, iterations: int, dpsl: bytes, dpic: int) -> bytes:
    """The iOS 10.2+ backup password key: PBKDF2-SHA1(PBKDF2-SHA256(password, DPSL, DPIC), SALT, ITER)."""
    raw = password.encode("utf-8") if isinstance(password, str) else password
    first = hashlib.pbkdf2_hmac("sha256", raw, dpsl, dpic, 32)
    return hashlib.pbkdf2_hmac("sha1", first, salt, iterations, 32)


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
    rng: random.Random, key: bytes, *, iterations: int, dpic: int, salt: bytes, dpsl: bytes,
    classes: Iterable[int] = PROTECTION_CLASSES,
) -> tuple[bytes, dict[int, bytes]]:
    """(BackupKeyBag bytes, class -> class key), the class keys random and wrapped with ``key``."""
    out = bytearray()
    out += _tlv(b"VERS", _u32(_KEYBAG_VERSION))
    out += _tlv(b"TYPE", _u32(_KEYBAG_TYPE_BACKUP))
    out += _tlv(b"UUID", rng.randbytes(16))
    out += _tlv(b"HMCK", rng.randbytes(40))
    out += _tlv(b"WRAP", _u32(0))
    out += _tlv(b"SALT", salt)
    out += _tlv(b"ITER", _u32(iterations))
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
    """Write an encrypted iOS 10.2+ backup of ``specs`` into ``root``, locked by ``password``.

    ``iterations`` and ``dpic`` are the ITER (SHA1) and DPIC (SHA256) rounds of the key
    derivation. Files get protection class ``file_class`` unless ``file_classes`` maps their
    (domain, relativePath) to another one. Plists default to :func:`default_plists`; the keys
    of encryption are always set in Manifest.plist.

    Damage: ``manifest_db=False`` leaves Manifest.db out; ``manifest_db_size`` keeps only the
    first that many bytes of the encrypted Manifest.db (0: an empty file).
    """
    root = Path(root)
    specs = list(specs)
    rng = random.Random(seed)
    salt, dpsl = rng.randbytes(20), rng.randbytes(20)
    key = password_key(password, salt=salt, iterations=iterations, dpsl=dpsl, dpic=dpic)
    keybag, class_keys = build_keybag(rng, key, iterations=iterations, dpic=dpic, salt=salt, dpsl=dpsl)
    classes = {file_class, manifest_class, *(file_classes or {}).values()}
    missing = sorted(c for c in classes if c not in class_keys)
    if missing:
        raise ValueError(f"protection classes {missing} are not in the keybag")

    records: list[ManifestRecord] = []
    sealed: list[PayloadSpec] = []
    file_keys: dict[str, bytes] = {}
    key_fields: dict[str, tuple[int, bytes]] = {}
    for spec in specs:
        record = manifest_record(spec)
        records.append(record)
        if spec.kind is not Kind.FILE:
            sealed.append(spec)
            continue
        protection_class = (file_classes or {}).get((spec.domain, spec.relative_path), file_class)
        file_key = rng.randbytes(32)
        file_keys[record.file_id] = file_key
        key_fields[record.file_id] = (
            protection_class, wrapped_key_field(protection_class, class_keys[protection_class], file_key))
        plaintext = spec.content or b""
        sealed.append(dataclasses.replace(
            spec, content=encrypt_cbc(file_key, plaintext),
            manifest_size=len(plaintext) if spec.manifest_size is None else spec.manifest_size))

    manifest_key = rng.randbytes(32)
    default_info, default_manifest, default_status = default_plists(encrypted=True)
    manifest = dict(default_manifest if manifest_plist is None else manifest_plist)
    manifest.update(
        IsEncrypted=True,
        BackupKeyBag=keybag,
        ManifestKey=wrapped_key_field(manifest_class, class_keys[manifest_class], manifest_key),
    )
    write_backup(
        root, sealed, index="none",
        info=default_info if info is None else info,
        manifest_plist=manifest,
        status=default_status if status is None else status,
    )
    if manifest_db:
        plain_db = _manifest_db_bytes(records, key_fields, wal=index_wal)
        encrypted_db = encrypt_cbc(manifest_key, plain_db)
        if manifest_db_size is not None:
            encrypted_db = encrypted_db[:manifest_db_size]
        (root / "Manifest.db").write_bytes(encrypted_db)
    return EncryptionKeys(
        password_key=key, class_keys=class_keys, manifest_key=manifest_key, file_keys=file_keys, keybag=keybag)


def _manifest_db_bytes(
    records: list[ManifestRecord], key_fields: Mapping[str, tuple[int, bytes]], *, wal: bool
) -> bytes:
    """The plaintext Manifest.db: the writer's, with EncryptionKey and ProtectionClass per file."""
    with tempfile.TemporaryDirectory(prefix="backupfs-manifest-") as scratch:
        path = Path(scratch) / "Manifest.db"
        write_manifest_db(path, records, wal=wal, keys=key_fields)
        return path.read_bytes()


def _tlv(tag: bytes, value: bytes) -> bytes:
    return tag + struct.pack(">I", len(value)) + value


def _u32(value: int) -> bytes:
    return struct.pack(">I", value)
