"""The decryption primitives against real cryptography: keybags and ciphertext built here as iOS builds them.

The keybags are TLV records written from the format (header, then one block per class
key), their class keys wrapped with ``cryptography``'s RFC 3394 key wrap under a password
key derived with hashlib; the payloads are AES-256-CBC with a zero IV and PKCS7 padding.
The iteration counts are small so the tests run fast; the derivation is the same.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from backupfs.errors import BackupfsError
from backupfs.source.crypto import (
    ClassKeys,
    DamagedKeyError,
    DecryptedReader,
    Keybag,
    WrongPasswordError,
    decrypt_whole,
)

PASSWORD = b"correct horse battery staple"
SALT = bytes(range(20))
DP_SALT = bytes(range(100, 120))
ITER = 7
DP_ITER = 11


def tlv(tag: bytes, value: bytes | int) -> bytes:
    if isinstance(value, int):
        value = value.to_bytes(4, "big")
    return tag + len(value).to_bytes(4, "big") + value


def password_key(password: bytes, modern: bool) -> bytes:
    secret = hashlib.pbkdf2_hmac("sha256", password, DP_SALT, DP_ITER, 32) if modern else password
    return hashlib.pbkdf2_hmac("sha1", secret, SALT, ITER, 32)


def class_key(clas: int) -> bytes:
    return hashlib.sha256(b"class key %d" % clas).digest()


def keybag_bytes(
    modern: bool = True,
    classes: tuple[tuple[int, int], ...] = ((1, 3), (2, 2), (3, 3), (4, 2), (11, 2)),
    password: bytes = PASSWORD,
    header: dict[bytes, bytes | int] | None = None,
) -> bytes:
    """A BackupKeyBag: ``classes`` are (class, WRAP) pairs; WRAP without bit 2 gets a device-wrapped dummy."""
    key = password_key(password, modern)
    fields: dict[bytes, bytes | int] = {
        b"VERS": 4 if modern else 3, b"TYPE": 1, b"UUID": os.urandom(16), b"HMCK": os.urandom(40), b"WRAP": 2,
        b"SALT": SALT, b"ITER": ITER,
    }
    if modern:
        fields |= {b"DPWT": 1, b"DPIC": DP_ITER, b"DPSL": DP_SALT}
    fields |= header or {}
    out = b"".join(tlv(tag, value) for tag, value in fields.items() if value is not None)
    for clas, wrap in classes:
        wpky = aes_key_wrap(key, class_key(clas)) if wrap & 2 else os.urandom(40)
        out += tlv(b"UUID", os.urandom(16)) + tlv(b"CLAS", clas) + tlv(b"WRAP", wrap) + tlv(b"KTYP", 0) + tlv(b"WPKY", wpky)
    return out


def wrapped_with_class(clas: int, key: bytes) -> bytes:
    return clas.to_bytes(4, "little") + aes_key_wrap(class_key(clas), key)


def encrypt(plain: bytes, key: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


class Bytes:
    """A ciphertext reader over bytes that counts what it serves and may serve short reads."""

    def __init__(self, data: bytes, chunk: int | None = None) -> None:
        self.data = data
        self.size = len(data)
        self.chunk = chunk
        self.served = 0
        self.calls: list[tuple[int, int]] = []

    def read(self, size: int, offset: int) -> bytes:
        if self.chunk is not None:
            size = min(size, self.chunk)
        out = self.data[offset : offset + size]
        self.served += len(out)
        self.calls.append((offset, len(out)))
        return out


FILE_KEY = hashlib.sha256(b"file key").digest()


def plaintext(length: int) -> bytes:
    return random.Random(length).randbytes(length)


# --- keybag ---------------------------------------------------------------------------


@pytest.mark.parametrize("modern", [True, False], ids=["ios10.2+", "before-10.2"])
def test_the_right_password_unwraps_every_passcode_class(modern: bool) -> None:
    bag = Keybag.parse(keybag_bytes(modern))
    assert (bag.dp_salt is not None) is modern
    assert [c.clas for c in bag.classes] == [1, 2, 3, 4, 11]
    keys = bag.unlock(PASSWORD)
    assert keys.classes == [1, 2, 3, 4, 11]
    for clas in keys.classes:
        assert keys.unwrap(wrapped_with_class(clas, FILE_KEY)) == FILE_KEY


@pytest.mark.parametrize("modern", [True, False], ids=["ios10.2+", "before-10.2"])
def test_a_wrong_password_says_so(modern: bool) -> None:
    bag = Keybag.parse(keybag_bytes(modern))
    with pytest.raises(WrongPasswordError) as caught:
        bag.unlock(b"correct horse battery stapler")
    assert isinstance(caught.value, BackupfsError)
    assert str(caught.value) == "the password does not open this backup"
    assert b"stapler" not in repr(caught.value).encode()


@pytest.mark.parametrize("modern", [True, False], ids=["ios10.2+", "before-10.2"])
def test_the_derivation_is_the_one_of_its_generation(modern: bool) -> None:
    bag = Keybag.parse(keybag_bytes(modern))
    assert bag.derive(PASSWORD) == password_key(PASSWORD, modern)
    assert bag.derive(PASSWORD) != password_key(PASSWORD, not modern)
    # The other generation's key does not open it: the SHA256 step is used exactly when DPSL/DPIC are there.
    with pytest.raises(WrongPasswordError):
        bag.unlock_with_key(password_key(PASSWORD, not modern))


def test_a_text_password_is_its_utf8_bytes() -> None:
    word = "pässwörd"
    bag = Keybag.parse(keybag_bytes(password=word.encode()))
    assert bag.unlock(word).classes == bag.unlock(word.encode()).classes


def test_only_classes_with_the_passcode_bit_are_unwrapped() -> None:
    bag = Keybag.parse(keybag_bytes(classes=((1, 2), (5, 1), (6, 0), (3, 3))))
    keys = bag.unlock(PASSWORD)
    assert keys.classes == [1, 3]
    assert 5 not in keys and 3 in keys


def test_a_damaged_later_class_key_leaves_the_others_usable() -> None:
    data = keybag_bytes(classes=((1, 2), (2, 2), (3, 2)))
    last_wpky = data.rindex(b"WPKY") + 8
    damaged = data[:last_wpky] + bytes([data[last_wpky] ^ 1]) + data[last_wpky + 1 :]
    keys = Keybag.parse(damaged).unlock(PASSWORD)
    assert keys.classes == [1, 2]
    with pytest.raises(DamagedKeyError, match="class 3"):
        keys.unwrap(wrapped_with_class(3, FILE_KEY))


def test_a_truncated_keybag_keeps_its_whole_records() -> None:
    data = keybag_bytes(classes=((1, 2), (2, 2)))
    bag = Keybag.parse(data[:-5])
    assert [c.clas for c in bag.classes] == [1]
    assert bag.unlock(PASSWORD).classes == [1]


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ({b"SALT": None}, "salt"),
        ({b"ITER": None}, "iteration"),
        ({b"DPSL": None}, "half"),
        ({b"ITER": 0}, "rounds"),
        ({b"DPIC": 0xFFFFFFFF}, "rounds"),
    ],
)
def test_a_keybag_without_its_parameters_is_refused_in_words(header: dict, words: str) -> None:
    with pytest.raises(DamagedKeyError, match=words):
        Keybag.parse(keybag_bytes(header=header))


def test_a_keybag_without_password_class_keys_is_refused() -> None:
    with pytest.raises(DamagedKeyError, match="no password-protected"):
        Keybag.parse(keybag_bytes(classes=((1, 1),)))
    with pytest.raises(DamagedKeyError):
        Keybag.parse(b"")


def test_wrapped_keys_that_do_not_unwrap_are_damage() -> None:
    keys = Keybag.parse(keybag_bytes()).unlock(PASSWORD)
    good = wrapped_with_class(3, FILE_KEY)
    assert len(good) == 44
    with pytest.raises(DamagedKeyError, match="integrity"):
        keys.unwrap(good[:10] + bytes([good[10] ^ 0x80]) + good[11:])
    with pytest.raises(DamagedKeyError, match="class 7"):
        keys.unwrap(wrapped_with_class(7, FILE_KEY))
    with pytest.raises(DamagedKeyError, match="bytes"):
        keys.unwrap(good[:20])
    with pytest.raises(DamagedKeyError, match="bytes"):
        keys.unwrap(good[:-1])


def test_no_secret_shows_in_a_repr() -> None:
    data = keybag_bytes()
    bag = Keybag.parse(data)
    keys = bag.unlock(PASSWORD)
    texts = [repr(bag), repr(bag.classes), repr(keys), repr(DecryptedReader(Bytes(b""), FILE_KEY, 0))]
    secrets = [PASSWORD, password_key(PASSWORD, True), FILE_KEY, *(class_key(c) for c in keys.classes)]
    for text in texts:
        for secret in secrets:
            assert secret.hex() not in text and repr(secret) not in text and secret.decode("latin-1") not in text
    assert isinstance(keys, ClassKeys)
    assert not any(PASSWORD in (v if isinstance(v, bytes) else b"") for v in vars(bag).values())


# --- CBC ------------------------------------------------------------------------------

LENGTHS = [0, 1, 15, 16, 17, 31, 32, 33, 4095, 4096, 4097, 10_000]


def ranges(length: int) -> list[tuple[int, int]]:
    """(offset, size) pairs around every interesting place of a file of ``length`` bytes."""
    places = {0, 1, 15, 16, 17, 31, 32, 33, 4080, 4095, 4096, 4097}
    places |= {length + d for d in (-33, -17, -16, -15, -1, 0, 1, 16, 1000)}
    offsets = sorted(p for p in places if p >= 0)
    sizes = [0, 1, 2, 15, 16, 17, 31, 32, 33, 100, 4096, 4097, length, length + 100]
    return [(o, s) for o in offsets for s in sizes]


@pytest.mark.parametrize("length", LENGTHS)
def test_every_range_reads_as_the_plaintext(length: int) -> None:
    plain = plaintext(length)
    cipher = encrypt(plain, FILE_KEY)
    assert len(cipher) % 16 == 0 and len(cipher) > length
    reader = DecryptedReader(Bytes(cipher), FILE_KEY, length)
    assert reader.size == length
    for offset, size in ranges(length):
        assert reader.read(size, offset) == plain[offset : offset + size], (offset, size)
    assert reader.read(length + 64, 0) == plain  # the padding is never returned


@pytest.mark.parametrize("length", [17, 4097])
def test_short_reads_from_the_ciphertext_are_completed(length: int) -> None:
    plain = plaintext(length)
    reader = DecryptedReader(Bytes(encrypt(plain, FILE_KEY), chunk=7), FILE_KEY, length)
    for offset, size in ranges(length):
        assert reader.read(size, offset) == plain[offset : offset + size], (offset, size)


def test_a_smaller_recorded_size_bounds_every_read() -> None:
    plain = plaintext(1000)
    reader = DecryptedReader(Bytes(encrypt(plain, FILE_KEY)), FILE_KEY, 500)
    assert reader.read(2000, 0) == plain[:500]
    assert reader.read(100, 450) == plain[450:500]
    assert reader.read(10, 500) == b""


def test_size_zero_and_nonsense_ranges_read_nothing() -> None:
    source = Bytes(encrypt(plaintext(100), FILE_KEY))
    empty = DecryptedReader(source, FILE_KEY, 0)
    assert empty.read(100, 0) == b"" and empty.size == 0
    reader = DecryptedReader(source, FILE_KEY, 100)
    assert reader.read(0, 10) == b""
    assert reader.read(-5, 10) == b""
    assert reader.read(10, -5) == b""
    assert reader.read(10, 10**12) == b""
    assert source.served == 0


@pytest.mark.parametrize("cut", [0, 5, 15, 16, 17, 31, 32, 100, 4095, 4096, 4100, 9990, 10_000, 10_007])
def test_a_truncated_ciphertext_gives_what_its_whole_blocks_hold(cut: int) -> None:
    length = 10_000
    plain = plaintext(length)
    cipher = encrypt(plain, FILE_KEY)[:cut]
    readable = min(length, cut - cut % 16)
    reader = DecryptedReader(Bytes(cipher), FILE_KEY, length)
    assert reader.size == length
    for offset, size in ranges(length) + ranges(cut):
        expected = plain[offset : min(offset + size, readable)] if offset < readable else b""
        assert reader.read(size, offset) == expected, (offset, size)


def test_a_random_read_decrypts_at_most_two_blocks_beyond_its_range() -> None:
    length = 1 << 20
    plain = plaintext(length)
    source = Bytes(encrypt(plain, FILE_KEY))
    reader = DecryptedReader(source, FILE_KEY, length)
    rng = random.Random(1)
    for _ in range(300):
        offset = rng.randrange(length)
        before = source.served
        calls = len(source.calls)
        got = reader.read(4096, offset)
        assert got == plain[offset : offset + 4096]
        assert source.served - before <= len(got) + 2 * 16
        # ... and those bytes are the blocks around the range, not the file's start.
        first = min(o for o, _ in source.calls[calls:])
        assert first >= offset - offset % 16 - 16


def test_a_wrong_key_length_is_refused_in_words() -> None:
    with pytest.raises(BackupfsError, match="32"):
        DecryptedReader(Bytes(b""), FILE_KEY[:16], 0)
    with pytest.raises(BackupfsError, match="32"):
        decrypt_whole(b"", b"short")


# --- whole files (Manifest.db) ---------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 4096, 10_000])
def test_a_whole_file_decrypts_without_its_padding(length: int) -> None:
    plain = plaintext(length)
    assert decrypt_whole(encrypt(plain, FILE_KEY), FILE_KEY) == plain


def test_a_truncated_whole_file_keeps_every_whole_block() -> None:
    plain = b"\x00" * 4096 + plaintext(4096)
    cipher = encrypt(plain, FILE_KEY)
    for cut in (0, 7, 16, 23, 4096, 4100, len(cipher) - 16, len(cipher) - 1):
        got = decrypt_whole(cipher[:cut], FILE_KEY)
        assert got == (plain + b"\x10" * 16)[: cut - cut % 16], cut


def test_invalid_padding_is_kept_rather_than_guessed() -> None:
    plain = plaintext(64)[:-1] + b"\x05"  # ends like one padding byte of value 5: invalid PKCS7
    encryptor = Cipher(algorithms.AES(FILE_KEY), modes.CBC(bytes(16))).encryptor()
    cipher = encryptor.update(plain) + encryptor.finalize()
    assert decrypt_whole(cipher, FILE_KEY) == plain


def test_an_encrypted_manifest_opens_with_the_password(tmp_path: Path) -> None:
    path = tmp_path / "Manifest.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INT, file BLOB)")
    rows = [(hashlib.sha1(b"d-%d" % i).hexdigest(), "HomeDomain", f"Library/f{i}", 1, None) for i in range(300)]
    conn.executemany("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    manifest_key = hashlib.sha256(b"manifest key").digest()
    cipher = encrypt(path.read_bytes(), manifest_key)

    keys = Keybag.parse(keybag_bytes()).unlock(PASSWORD)
    key = keys.unwrap(wrapped_with_class(4, manifest_key))
    out = tmp_path / "plain.db"
    out.write_bytes(decrypt_whole(cipher, key))
    conn = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    assert conn.execute("SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY rowid").fetchall() == rows
    conn.close()
