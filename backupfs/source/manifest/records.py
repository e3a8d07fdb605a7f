"""The records that flow between the stages: what an index says about one backup file.

Kept in one small module so that readers (Manifest.db, Manifest.mbdb), the writer used
by the demo and tests, and the naming stage share a single vocabulary.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field


class Kind(enum.IntEnum):
    """Entry kinds, numbered as the ``flags`` column of Manifest.db numbers them."""

    FILE = 1
    DIR = 2
    SYMLINK = 4


def file_id(domain: str, relative_path: str) -> str:
    """The payload name iOS gives ``domain``/``relative_path``: SHA1 of ``domain-path``.

    Strings decoded with surrogateescape are encoded back to their original bytes, so
    names that are not valid UTF-8 hash to what the device hashed.
    """
    key = f"{domain}-{relative_path}".encode("utf-8", "surrogateescape")
    return hashlib.sha1(key).hexdigest()


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """One row of a backup index, whatever its format.

    Times are Unix seconds; ``mode`` is a full ``st_mode`` (type bits included) when the
    index gives one. Text fields that were not valid UTF-8 in the index carry
    surrogate escapes. ``encryption_key`` is an encrypted backup's EncryptionKey for the
    file (4-byte little-endian protection class + RFC 3394 wrapped key), None when the
    index holds none or it is unreadable; a secret, so never in the repr.
    """

    file_id: str
    domain: str
    relative_path: str
    kind: Kind
    size: int | None = None
    mode: int | None = None
    mtime: int | None = None
    ctime: int | None = None
    birth: int | None = None
    uid: int | None = None
    gid: int | None = None
    target: str | None = None
    encrypted: bool = False
    encryption_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ManifestReadResult:
    """What could be read from an index file.

    ``complete`` is False when the file was damaged and reading stopped early or skipped
    parts; ``problem`` then says, in words for the user, what was wrong.
    """

    records: list[ManifestRecord]
    complete: bool
    problem: str | None = None
