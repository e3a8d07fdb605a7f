"""The backup keybag: from the user's password to the key of every file.

A backup's Manifest.plist holds ``BackupKeyBag``, a run of TLV records (a 4-byte tag, a
4-byte big-endian length, the value). The header comes first (VERS, TYPE, UUID, HMCK,
WRAP, SALT, ITER and, from iOS 10.2, DPWT, DPIC, DPSL); then each class key opens with
its own UUID and carries CLAS, WRAP, KTYP and WPKY (the wrapped key).

The password key is PBKDF2-HMAC-SHA1(PBKDF2-HMAC-SHA256(password, DPSL, DPIC), SALT,
ITER, 32) from iOS 10.2, and only the SHA1 step before. Every class whose WRAP has the
passcode bit (2) is AES-key-unwrapped (RFC 3394) with it; the first one failing its
integrity check means the password is wrong. A ManifestKey or a file's EncryptionKey is
a 4-byte little-endian class number and a key wrapped with that class's key.

Secrets stay out of reprs and logs, and the password is not kept once the key is derived.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from backupfs.errors import BackupfsError
from backupfs.source.crypto.cbc import DecryptedReader, plaintext_size
from backupfs.source.sqlite_view import SizedReader

log = logging.getLogger(__name__)

_PASSCODE = 2  # WRAP bit: wrapped with the password key
_WRAPPED_MIN = 24  # RFC 3394: at least two 64-bit blocks and the integrity block
# A crafted keybag must not make unlocking run for hours; iOS uses 10,000 and 10,000,000.
_MAX_ITERATIONS = 100_000_000
_CLASS_TAGS = frozenset({b"CLAS", b"WRAP", b"KTYP", b"WPKY", b"PBKY"})
_INT_TAGS = frozenset({b"VERS", b"TYPE", b"WRAP", b"ITER", b"DPWT", b"DPIC", b"CLAS", b"KTYP"})


class WrongPasswordError(BackupfsError):
    """The password given does not unwrap the backup's class keys."""


class DamagedKeyError(BackupfsError):
    """A keybag or a wrapped key is unreadable: the backup's manifest is damaged."""


def _records(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The TLV records of ``data``, stopping quietly at a truncated one."""
    pos = 0
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "big")
        if pos + 8 + length > len(data):
            log.info("keybag: record %r truncated at offset %d", tag, pos)
            return
        yield tag, data[pos + 8 : pos + 8 + length]
        pos += 8 + length
    if pos != len(data):
        log.info("keybag: %d stray bytes at the end", len(data) - pos)


@dataclass(frozen=True, slots=True)
class WrappedClassKey:
    """One class key of the keybag, still wrapped."""

    clas: int
    wrap: int
    ktyp: int
    wpky: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True, repr=False)
class Keybag:
    """A parsed BackupKeyBag: the KDF parameters and the wrapped class keys, in keybag order."""

    version: int | None
    kind: int | None
    uuid: bytes | None
    salt: bytes
    iterations: int
    dp_salt: bytes | None
    dp_iterations: int | None
    classes: list[WrappedClassKey]

    def __repr__(self) -> str:
        kdf = "sha256+sha1" if self.dp_salt is not None else "sha1"
        return (
            f"Keybag(version={self.version}, kind={self.kind}, kdf={kdf}, "
            f"classes={[c.clas for c in self.classes]})"
        )

    @classmethod
    def parse(cls, data: bytes) -> Keybag:
        """Parse a BackupKeyBag; raise DamagedKeyError when the KDF parameters or class keys are missing."""
        header: dict[bytes, bytes | int] = {}
        blocks: list[dict[bytes, bytes | int]] = []
        for tag, value in _records(bytes(data)):
            parsed: bytes | int = int.from_bytes(value, "big") if tag in _INT_TAGS and 0 < len(value) <= 8 else value
            if tag == b"UUID" and b"UUID" in header:
                blocks.append({})  # a class key begins
            elif blocks and tag in _CLASS_TAGS:
                blocks[-1].setdefault(tag, parsed)
            else:
                header.setdefault(tag, parsed)
        classes = [
            WrappedClassKey(b[b"CLAS"], b.get(b"WRAP", 0), b.get(b"KTYP", 0), b[b"WPKY"])  # type: ignore[arg-type]
            for b in blocks
            if isinstance(b.get(b"CLAS"), int) and isinstance(b.get(b"WPKY"), bytes) and isinstance(b.get(b"WRAP", 0), int)
        ]
        salt, iterations = header.get(b"SALT"), header.get(b"ITER")
        dp_salt, dp_iterations = header.get(b"DPSL"), header.get(b"DPIC")
        if not isinstance(salt, bytes) or not isinstance(iterations, int):
            raise DamagedKeyError(
                "the backup's keybag (BackupKeyBag in Manifest.plist) lacks its salt or iteration count: "
                "it is damaged, so this backup cannot be decrypted"
            )
        if (dp_salt is None) != (dp_iterations is None) or not (
            dp_salt is None or (isinstance(dp_salt, bytes) and isinstance(dp_iterations, int))
        ):
            raise DamagedKeyError(
                "the backup's keybag (BackupKeyBag in Manifest.plist) has half of its iOS 10.2 key parameters: "
                "it is damaged, so this backup cannot be decrypted"
            )
        for count in (iterations, dp_iterations):
            if count is not None and not 1 <= count <= _MAX_ITERATIONS:  # type: ignore[operator]
                raise DamagedKeyError(
                    f"the backup's keybag asks for {count} key derivation rounds, which no iOS uses: "
                    "Manifest.plist is damaged or not from an iOS backup"
                )
        if not any(c.wrap & _PASSCODE for c in classes):
            raise DamagedKeyError(
                "the backup's keybag (BackupKeyBag in Manifest.plist) holds no password-protected class key: "
                "it is damaged, so this backup cannot be decrypted"
            )
        version, type_, uuid = header.get(b"VERS"), header.get(b"TYPE"), header.get(b"UUID")
        return cls(
            version=version if isinstance(version, int) else None,
            kind=type_ if isinstance(type_, int) else None,
            uuid=uuid if isinstance(uuid, bytes) else None,
            salt=salt,
            iterations=iterations,
            dp_salt=dp_salt,  # type: ignore[arg-type]
            dp_iterations=dp_iterations,  # type: ignore[arg-type]
            classes=classes,
        )

    def derive(self, password: bytes | bytearray | str) -> bytes:
        """The 32-byte password key (slow on purpose: iOS 10.2+ asks for ten million SHA256 rounds)."""
        # A bytearray is used as it is, not copied: its owner can wipe it afterwards.
        secret = password.encode("utf-8") if isinstance(password, str) else password
        if self.dp_salt is not None and self.dp_iterations is not None:
            secret = hashlib.pbkdf2_hmac("sha256", secret, self.dp_salt, self.dp_iterations, 32)
        return hashlib.pbkdf2_hmac("sha1", secret, self.salt, self.iterations, 32)

    def derivation_seconds(self) -> float:
        """About how long :meth:`derive` takes on this machine: a short run of the same hashes, scaled.

        For a progress bar: the key derivation itself cannot say how far it is.
        """
        sample = 20_000
        started = time.perf_counter()
        hashlib.pbkdf2_hmac("sha256", b"", b"", sample, 32)
        sha256 = (time.perf_counter() - started) / sample
        started = time.perf_counter()
        hashlib.pbkdf2_hmac("sha1", b"", b"", sample, 32)
        sha1 = (time.perf_counter() - started) / sample
        return sha256 * (self.dp_iterations or 0) + sha1 * self.iterations

    def unlock(self, password: bytes | bytearray | str) -> ClassKeys:
        """Unwrap the class keys with ``password``; WrongPasswordError when it is not this backup's."""
        return self.unlock_with_key(self.derive(password))

    def unlock_with_key(self, password_key: bytes) -> ClassKeys:
        """Unwrap the class keys with an already derived password key (see ``derive``)."""
        keys: dict[int, bytes] = {}
        for index, wrapped in enumerate(c for c in self.classes if c.wrap & _PASSCODE):
            try:
                key = aes_key_unwrap(password_key, wrapped.wpky)
            except (InvalidUnwrap, ValueError):
                if index == 0:
                    raise WrongPasswordError("the password does not open this backup") from None
                log.warning("keybag: the key of protection class %d does not unwrap; its files stay locked", wrapped.clas)
                continue
            keys.setdefault(wrapped.clas, key)
        return ClassKeys(keys)


class ClassKeys:
    """The unwrapped class keys of a backup: what unwraps the ManifestKey and each file's EncryptionKey."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[int, bytes]) -> None:
        self._keys = MappingProxyType(dict(keys))

    def __repr__(self) -> str:
        return f"ClassKeys(classes={sorted(self._keys)})"

    def __contains__(self, clas: object) -> bool:
        return clas in self._keys

    @property
    def classes(self) -> list[int]:
        return sorted(self._keys)

    def items(self) -> list[tuple[int, bytes]]:
        """``(class, key)`` of each unwrapped class key: for an index kept in memory, never on a disk."""
        return sorted(self._keys.items())

    def decrypted(self, payload: SizedReader, wrapped_key: bytes, recorded_size: int | None) -> DecryptedReader:
        """The plaintext of ``payload``, whose EncryptionKey is ``wrapped_key`` and recorded Size ``recorded_size``.

        Raises DamagedKeyError as :meth:`unwrap` does.
        """
        return DecryptedReader(payload, self.unwrap(wrapped_key), plaintext_size(payload.size, recorded_size))

    def unwrap(self, wrapped_with_class: bytes) -> bytes:
        """The key inside a ManifestKey or EncryptionKey (4-byte little-endian class + wrapped key).

        Raises DamagedKeyError when the value is too short, names a class the keybag did
        not unlock, or fails its integrity check.
        """
        data = bytes(wrapped_with_class)
        if len(data) < 4 + _WRAPPED_MIN or (len(data) - 4) % 8:
            raise DamagedKeyError(
                f"a wrapped key of this backup has {len(data)} bytes, not a class and a wrapped key: "
                "the manifest is damaged"
            )
        clas = int.from_bytes(data[:4], "little")
        key = self._keys.get(clas)
        if key is None:
            raise DamagedKeyError(
                f"a key of this backup is wrapped with protection class {clas}, which the keybag does not unlock: "
                "the manifest is damaged"
            )
        try:
            return aes_key_unwrap(key, data[4:])
        except (InvalidUnwrap, ValueError):
            raise DamagedKeyError(
                f"a key of this backup (protection class {clas}) fails its integrity check: the manifest is damaged"
            ) from None
