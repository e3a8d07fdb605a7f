"""Opening a payload for its content: as it is, or decrypted with the key the index holds.

One place for every reader of payloads after the build (the mount's contents, the
readable folder, the background completion), so that a payload of an encrypted backup is
never read as if its ciphertext were the file. An unencrypted backup pays one set lookup.
"""

from __future__ import annotations

import errno

from backupfs.index.store import Index
from backupfs.source.crypto import (
    ClassKeys,
    DamagedKeyError,
    plaintext_size,
)
from backupfs.source.safe_open import SourceFile, SourceFolders
from backupfs.source.sqlite_view import SizedReader


class PayloadFiles:
    """Opens the payloads of one index's backups; safe to share between threads."""

    def __init__(self, index: Index, keep_folders_open: bool = False) -> None:
        """``keep_folders_open``: for a job that reads every payload and ends (an extract), not a mount
        (see :class:`~backupfs.source.safe_open.SourceFolders`)."""
        self._index = index
        self._root_names = [str(root) for root in index.roots]
        self._folders = [SourceFolders(root, keep=keep_folders_open) for root in self._root_names]
        self._keys = {backup: ClassKeys(keys) for backup, keys in index.class_keys().items()}

    def root_name(self, backup: int) -> str:
        """The folder of ``backup``, as a string: joining strings costs a tenth of a Path join."""
        return self._root_names[backup]

    def encrypted(self, backup: int) -> bool:
        """Whether ``backup``'s payloads are decrypted when read (its password was given)."""
        return backup in self._keys

    def open(self, backup: int, source: str) -> SizedReader:
        """The content of the payload at ``source``; raises OSError when it cannot be read.

        A payload of an encrypted backup without a key (no manifest row named it) is
        opened as it is: it is shown marked as encrypted.
        """
        payload = SourceFile(source, self._folders[backup])
        keys = self._keys.get(backup)
        if keys is None:
            return payload
        found = self._index.file_key(backup, source)
        if found is None:
            return payload
        try:
            return keys.decrypted(payload, *found)
        except DamagedKeyError as exc:  # the manifest row was damaged: this one file cannot be read
            raise OSError(errno.EIO, str(exc)) from None

    def shown_size(self, backup: int, source: str, payload_size: int) -> int:
        """The size a payload of ``payload_size`` bytes shows: its plaintext's when it is decrypted."""
        if backup not in self._keys:
            return payload_size
        found = self._index.file_key(backup, source)
        return payload_size if found is None else plaintext_size(payload_size, found[1])
