"""Decryption of encrypted backups: the primitives, and nothing about where their inputs live.

Owns the backup keybag (``keybag``: parsing the BackupKeyBag of Manifest.plist, deriving
the password key, unwrapping the class keys, then the ManifestKey and each file's
EncryptionKey) and AES-256-CBC decryption (``cbc``: a lazy random-access reader over a
payload's ciphertext, and the whole-file decryption of a possibly truncated Manifest.db).
Uses the ``cryptography`` package for AES; imports only ``backupfs.errors`` and
``backupfs.source``.
"""

from backupfs.source.crypto.cbc import DecryptedReader, decrypt_whole, plaintext_size
from backupfs.source.crypto.keybag import (
    ClassKeys,
    DamagedKeyError,
    Keybag,
    WrongPasswordError,
)

__all__ = ["ClassKeys", "DamagedKeyError", "DecryptedReader", "Keybag", "WrongPasswordError", "decrypt_whole", "plaintext_size"]
