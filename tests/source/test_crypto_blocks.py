"""A read of an encrypted payload touches only the ciphertext blocks around its range (issue 14).

Issue 14's "Done when": a random 4 KiB read decrypts at most 2 blocks beyond the range.
The ciphertext here is real (AES-256-CBC, zero IV, PKCS7, as a device writes a payload),
written to a file and read with the payload reader the mount uses; a counting wrapper
records every range ``DecryptedReader`` asks for and gets. What it gets is all it can
decrypt, so the count of 16-byte blocks served, less the blocks the range covers (cut to
the recorded Size and to what the ciphertext holds), must be at most 2. In CBC it is 1:
the block before the range is the IV of its first block.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backupfs.demo.encrypted import encrypt_cbc
from backupfs.source.crypto import DecryptedReader
from backupfs.source.safe_open import SourceFile

BLOCK = 16
EXTRA_ALLOWED = 2  # issue 14: blocks decrypted beyond the ones the range covers
KEY = hashlib.sha256(b"test_crypto_blocks file key").digest()
LENGTH = (1 << 20) + 123  # a plaintext that does not end on a block: the last block is part padding


@dataclass
class CountingReader:
    """The ciphertext reader given to DecryptedReader, recording every read asked and served."""

    inner: SourceFile
    chunk: int | None = None  # serve at most this much per call: a reader of short reads
    asked: list[tuple[int, int]] = field(default_factory=list)  # (offset, size) asked
    served: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) returned

    @property
    def size(self) -> int:
        return self.inner.size

    def read(self, size: int, offset: int) -> bytes:
        self.asked.append((offset, size))
        data = self.inner.read(size if self.chunk is None else min(size, self.chunk), offset)
        self.served.append((offset, len(data)))
        return data

    def forget(self) -> None:
        self.asked.clear()
        self.served.clear()

    def blocks_served(self) -> set[int]:
        return {b for offset, length in self.served if length for b in range(offset // BLOCK, (offset + length - 1) // BLOCK + 1)}

    def bytes_served(self) -> int:
        return sum(length for _, length in self.served)


def plaintext(length: int, seed: int = 14) -> bytes:
    return random.Random(seed).randbytes(length)


def ciphertext_file(tmp_path: Path, plain: bytes, cut: int | None = None) -> Path:
    """The payload on disk: ``plain`` encrypted, kept to its first ``cut`` bytes when given."""
    cipher = encrypt_cbc(KEY, plain)
    path = tmp_path / "payload"
    path.write_bytes(cipher if cut is None else cipher[:cut])
    return path


def reader_over(path: Path, size: int, chunk: int | None = None) -> tuple[DecryptedReader, CountingReader]:
    counting = CountingReader(SourceFile(path), chunk)
    return DecryptedReader(counting, KEY, size), counting


def check_read(reader: DecryptedReader, counting: CountingReader, plain: bytes, offset: int, size: int,
               readable: int | None = None) -> None:
    """Read ``size`` at ``offset``: the bytes are the plaintext's, and at most 2 blocks beyond the range
    were read, all next to it. ``readable`` is how much plaintext a truncated ciphertext still holds."""
    counting.forget()
    got = reader.read(size, offset)
    end = min(offset + size, reader.size)  # what the reader may ask for: the range cut to the recorded Size
    if offset >= end or size <= 0:
        assert got == b"" and not counting.asked, (offset, size, counting.asked)
        return
    held = min(end, len(plain) if readable is None else readable)  # what it can return
    assert got == plain[offset:held], (offset, size)
    covered = (held - 1) // BLOCK - offset // BLOCK + 1 if held > offset else 0
    served = counting.blocks_served()
    assert len(served) - covered <= EXTRA_ALLOWED, (offset, size, sorted(served)[:4], covered)
    assert counting.bytes_served() <= (covered + EXTRA_ALLOWED) * BLOCK, (offset, size)  # no block read twice
    window = range((offset // BLOCK - EXTRA_ALLOWED) * BLOCK, ((end - 1) // BLOCK + 1 + EXTRA_ALLOWED) * BLOCK + 1)
    for asked_offset, asked_size in counting.asked:  # only around the range, never from the file's start
        assert asked_offset in window and asked_offset + asked_size in window, (offset, size, counting.asked)


@pytest.mark.parametrize("aligned", [True, False])
def test_random_4k_reads_read_at_most_two_blocks_beyond_the_range(tmp_path: Path, aligned: bool) -> None:
    plain = plaintext(LENGTH)
    reader, counting = reader_over(ciphertext_file(tmp_path, plain), LENGTH)
    rng = random.Random(aligned)
    for _ in range(2000):
        check_read(reader, counting, plain, rng.randrange(0, LENGTH, 4096 if aligned else 1), 4096)


EDGE_RANGES = [
    (0, 4096), (0, 1), (0, 16), (0, 17), (1, 4096), (15, 2), (16, 4096), (17, 4096),  # the start
    (4095, 4096), (4096, 4096), (4097, 4095), (12345, 4096), (LENGTH // 2, 4096),
    (LENGTH - 4096, 4096), (LENGTH - 1, 1), (LENGTH - 1, 4096), (LENGTH - 16, 16),  # the end
    (LENGTH - 123, 123), (LENGTH - 124, 4096), (LENGTH - 4000, 8192),  # across the recorded Size
    (LENGTH, 4096), (LENGTH + 5, 4096), (LENGTH * 2, 4096),  # past it
    (0, LENGTH + 4096),  # the whole file and beyond
]


@pytest.mark.parametrize(("offset", "size"), EDGE_RANGES)
def test_edge_ranges(tmp_path: Path, offset: int, size: int) -> None:
    plain = plaintext(LENGTH)
    reader, counting = reader_over(ciphertext_file(tmp_path, plain), LENGTH)
    check_read(reader, counting, plain, offset, size)


def test_one_byte_reads(tmp_path: Path) -> None:
    plain = plaintext(LENGTH)
    reader, counting = reader_over(ciphertext_file(tmp_path, plain), LENGTH)
    rng = random.Random(1)
    for offset in [0, 1, 15, 16, 17, 31, 32, LENGTH - 1, *(rng.randrange(LENGTH) for _ in range(500))]:
        check_read(reader, counting, plain, offset, 1)
        assert len(counting.blocks_served()) <= 1 + EXTRA_ALLOWED


@pytest.mark.parametrize("recorded", [0, 1, 16, 1000, 4096, 4100, LENGTH - 1])
def test_a_smaller_recorded_size_bounds_the_blocks_read(tmp_path: Path, recorded: int) -> None:
    """The manifest's Size may be smaller than the ciphertext: nothing past it is read."""
    plain = plaintext(LENGTH)
    reader, counting = reader_over(ciphertext_file(tmp_path, plain), recorded)
    for offset in {0, max(0, recorded - 4096), max(0, recorded - 17), max(0, recorded - 1), recorded, recorded + 16}:
        check_read(reader, counting, plain, offset, 4096)
        if offset < recorded:
            assert max(counting.blocks_served()) <= (recorded - 1) // BLOCK


@pytest.mark.parametrize("cut", [0, 5, 16, 100, 4096, 4100, LENGTH // 2 + 7, LENGTH - 200, LENGTH, LENGTH + 5])
def test_a_truncated_ciphertext_reads_only_around_the_range(tmp_path: Path, cut: int) -> None:
    plain = plaintext(LENGTH)
    reader, counting = reader_over(ciphertext_file(tmp_path, plain, cut), LENGTH)
    readable = cut - cut % BLOCK  # only whole blocks decrypt
    rng = random.Random(cut)
    offsets = {0, 1, max(0, cut - 4096), max(0, cut - 20), max(0, cut - 1), cut, cut + 100}
    offsets |= {rng.randrange(LENGTH) for _ in range(200)}
    for offset in sorted(offsets):
        check_read(reader, counting, plain, offset, 4096, readable)


def test_short_reads_of_the_ciphertext_read_no_block_twice(tmp_path: Path) -> None:
    """A ciphertext reader that serves 7 bytes a call: the reads add up to the same blocks."""
    plain = plaintext(LENGTH)
    reader, counting = reader_over(ciphertext_file(tmp_path, plain), LENGTH, chunk=7)
    rng = random.Random(7)
    for _ in range(100):
        check_read(reader, counting, plain, rng.randrange(LENGTH), 4096)
