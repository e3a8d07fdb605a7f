"""Text files the mount adds to say what it cannot show.

Someone who opens the mount in a file manager never sees the notes the command line
printed. An encrypted backup whose Manifest.db is gone shows every payload as encrypted
bytes, which looks like a fault of backupfs; a short text at the top of the backup's
folder says why, where the user is looking. A notice is a file with no payload behind
it: its text is kept in the index (in the ``target`` column, which a file does not use).
"""

from __future__ import annotations

import stat

from backupfs.index.schema import Node
from backupfs.source.manifest.records import Kind

NOTICE_NAME = "README-backupfs.txt"

ENCRYPTED_NO_INDEX = (
    "This backup is encrypted and its index (Manifest.db) is gone: the keys that decrypt each "
    "file were kept only in that index, so the content of these files cannot be recovered. "
    "Names shown are proven, but the files hold only encrypted bytes."
)

ENCRYPTED_NO_INDEX_TEXT = """\
This backup is encrypted, and its index (Manifest.db) is missing or damaged.
=============================================================================

What you see here
  Every file of the backup is shown, at its real name where backupfs could prove it,
  otherwise under other-data/encrypted/. But each file holds only encrypted bytes:
  opening one gives what looks like random data. That is not a fault of the mount.

Why the content cannot be decrypted
  An encrypted iPhone/iPad backup encrypts each file with a key of its own. Those keys
  are stored only inside Manifest.db (which is itself encrypted). Without Manifest.db
  the keys are lost, and the backup password alone cannot bring them back.

What you can do
  - Look for another copy of this backup that still has its Manifest.db (another disk,
    a Time Machine or File History copy, the backup folder on another computer) and
    mount that copy instead.
  - If the device still exists, make a new backup of it (Finder or iTunes), or restore
    its data from iCloud.
  - Keep this backup folder unchanged: backupfs never writes to it.
"""


def notice_node(prefix: tuple[str, ...], text: str) -> Node:
    """A read-only text file named :data:`NOTICE_NAME` in the backup's top folder."""
    return Node(
        path="/".join((*prefix, NOTICE_NAME)),
        kind=Kind.FILE,
        mode=stat.S_IFREG | 0o444,
        size=len(text.encode()),
        target=text,
    )
