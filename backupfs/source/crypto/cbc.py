"""AES-256-CBC decryption of a backup's files, lazy and random-access.

Each payload of an encrypted backup is AES-256-CBC under its own key with a zero IV and
PKCS7 padding; the plaintext is cut to the Size the manifest records. In CBC the IV of
block i is ciphertext block i-1, so any range decrypts from the blocks it covers and at
most one block before it: a read never decrypts the file from the start.

Damage is tolerated, never raised: a ciphertext shorter than expected yields what its
whole blocks decrypt to, and a length that is not a multiple of 16 loses only its last
partial block.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backupfs.errors import BackupfsError
from backupfs.source.sqlite_view import Reader

BLOCK = 16
_ZERO_IV = bytes(BLOCK)
_KEY_SIZE = 32


def _check_key(key: bytes) -> bytes:
    key = bytes(key)
    if len(key) != _KEY_SIZE:
        raise BackupfsError(
            f"a file key of this backup has {len(key)} bytes, not the 32 of AES-256: the manifest is damaged"
        )
    return key


def _decrypt(key: bytes, iv: bytes, blocks: bytes | memoryview) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(blocks) + decryptor.finalize()


def _read_exact(reader: Reader, size: int, offset: int) -> bytes:
    """Read ``size`` bytes, tolerating short reads; fewer bytes only at the end of the data."""
    data = reader.read(size, offset)
    if len(data) == size or not data:  # nearly always: one read, no copy
        return data
    parts = [data]
    got = len(data)
    while got < size:
        chunk = reader.read(size - got, offset + got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class DecryptedReader:
    """The plaintext of an encrypted payload, decrypted a range at a time.

    ``size`` is the plaintext Size recorded in the manifest; reads stop there, so the
    padding is never returned. A truncated ciphertext gives shorter reads, never an error.
    """

    __slots__ = ("_ciphertext", "_key", "size")

    def __init__(self, ciphertext: Reader, key: bytes, size: int) -> None:
        self._ciphertext = ciphertext
        self._key = _check_key(key)
        self.size = max(0, size)

    def __repr__(self) -> str:
        return f"DecryptedReader(size={self.size})"

    def read(self, size: int, offset: int) -> bytes:
        end = min(offset + size, self.size)
        if size <= 0 or offset < 0 or offset >= end:
            return b""
        first, last = offset // BLOCK, (end - 1) // BLOCK
        start = (first - 1) * BLOCK if first else 0
        data = memoryview(_read_exact(self._ciphertext, (last + 1) * BLOCK - start, start))  # slices copy nothing
        if first:
            iv, data = bytes(data[:BLOCK]), data[BLOCK:]
            if len(iv) < BLOCK:
                return b""
        else:
            iv = _ZERO_IV
        whole = len(data) - len(data) % BLOCK
        if not whole:
            return b""
        plain = _decrypt(self._key, iv, data[:whole])
        base = first * BLOCK
        return plain[offset - base : end - base]


def plaintext_size(ciphertext_size: int, recorded_size: int | None) -> int:
    """How much plaintext an encrypted payload gives: the Size its manifest records, less
    when the payload was cut short (only whole blocks decrypt); its whole blocks when no
    Size is recorded."""
    whole = max(0, ciphertext_size - ciphertext_size % BLOCK)
    return whole if recorded_size is None else max(0, min(recorded_size, whole))


def decrypt_whole(ciphertext: bytes, key: bytes) -> bytes:
    """Decrypt a whole file held in memory (Manifest.db), tolerating truncation.

    Decrypts every whole block there is; the PKCS7 padding is removed only when the last
    block is complete and its padding valid (a truncated file keeps all it decrypts to).
    """
    key = _check_key(key)
    whole = len(ciphertext) - len(ciphertext) % BLOCK
    if not whole:
        return b""
    plain = _decrypt(key, _ZERO_IV, bytes(ciphertext[:whole]))
    if whole == len(ciphertext):
        pad = plain[-1]
        if 1 <= pad <= BLOCK and plain[-pad:] == bytes([pad]) * pad:
            return plain[:-pad]
    return plain
