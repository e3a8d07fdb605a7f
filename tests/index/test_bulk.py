"""An intact Manifest.db copied in by SQLite gives the same tree as reading it row by row."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from backupfs.demo.writer import PayloadSpec
from backupfs.index.build import build_index
from backupfs.index.store import Index
from backupfs.source.discover import find_backups
from backupfs.source.manifest.records import file_id
from backupfs.source.safe_open import SourceFile, SourceFolders
from backupfs.source.sqlite_view import merged_view
from tests.backups import WHATSAPP, age_atimes, build, fingerprint, standard_specs

# Rows the bulk copy must turn away (read the careful way) and rows it must take.
AWKWARD = [
    PayloadSpec("HomeDomain", "Library/.hidden/config.plist", b"hidden folder"),
    PayloadSpec("HomeDomain", ".profile", b"hidden file"),
    PayloadSpec("HomeDomain", "a//b/./c.txt", b"odd separators"),
    PayloadSpec("HomeDomain", "../escape.txt", b"parent"),
    PayloadSpec("other-data", "images/x.jpg", b"a domain named like the unnamed folder"),
    PayloadSpec("HomeDomain", "Library/" + "long/" * 60 + "deep.txt", b"a long path"),
    PayloadSpec("HomeDomain", "Library/" + "\u00e9" * 200 + ".txt", b"a long component"),
    PayloadSpec("HomeDomain", "Library/Preferences/y.plist", b"to be renamed in the index"),
    PayloadSpec("HomeDomain", "Library/Preferences/x.plist", b"plain"),
    PayloadSpec(f"AppDomain-{WHATSAPP}", "Documents/ChatStorage.sqlite-journal", b"journal"),
]


def tree(index: Index) -> dict[str, tuple]:
    return {
        e.path: (e.kind, e.mode, e.size, e.mtime_ns, e.file_id, e.origin, e.source, e.wal_source, e.manifest_size,
                 e.real_name, e.target)
        for e in index.walk()
    }


def test_bulk_copy_gives_the_same_tree_as_the_careful_read(tmp_path: Path) -> None:
    specs = standard_specs() + AWKWARD
    fast = build(tmp_path / "fast", specs)
    careful = build(tmp_path / "careful", specs)
    # An empty -wal beside Manifest.db changes nothing in it, but sends it the careful way.
    (careful.root / "Manifest.db-wal").write_bytes(b"")
    # A second copy of a named payload under Snapshot/, and a named payload gone missing.
    for backup in (fast, careful):
        kept = backup.payload_path(backup.files[0])
        snapshot = backup.root / "Snapshot" / kept.parent.name
        snapshot.mkdir(parents=True)
        shutil.copy(kept, snapshot / kept.name)
        backup.payload_path(AWKWARD[-2]).unlink()
        # A row renamed after the fact: its fileID is no longer the SHA1 of its name.
        with sqlite3.connect(backup.root / "Manifest.db") as conn:
            conn.execute("UPDATE Files SET relativePath='Library/Preferences/renamed.plist' "
                         "WHERE relativePath='Library/Preferences/y.plist'")
        conn.close()
        age_atimes(backup.root)  # after changing it, so that any read without O_NOATIME shows
    before = fingerprint(fast.root)

    fast_index = build_index(find_backups(fast.root), tmp_path / "fast-cache", show_progress=False)
    careful_index = build_index(find_backups(careful.root), tmp_path / "careful-cache", show_progress=False)

    assert fast_index.manifests == [None]  # completed: nothing left to read from the copy
    assert not any(p.name.endswith(".manifest-0.sqlite") for p in (tmp_path / "fast-cache").iterdir())
    assert careful_index.backup_stats[0].index_state == "intact"
    fast_tree, careful_tree = tree(fast_index), tree(careful_index)
    assert fast_tree == careful_tree
    assert any(path.endswith("~snapshot") for path in fast_tree)
    assert "HomeDomain/Library/Preferences/renamed.plist" not in fast_tree  # a name it cannot prove
    renamed = file_id("HomeDomain", "Library/Preferences/y.plist")
    assert [e.path for e in fast_index.walk() if e.file_id == renamed][0].startswith("other-data/")
    assert fast_index.backup_stats[0].missing_payloads == careful_index.backup_stats[0].missing_payloads == 1
    assert fingerprint(fast.root) == before


def test_rows_are_read_lazily_until_completed(tmp_path: Path) -> None:
    backup = build(tmp_path / "src")
    index = build_index(find_backups(backup.root), tmp_path / "cache", show_progress=False, complete_later=True)
    sms = index.lookup("HomeDomain/Library/SMS/sms.db")
    assert sms is not None and sms.manifest_row is not None and index.manifests[0] is not None
    assert index.unread_count() > 0
    index.close()
    completed = build_index(find_backups(backup.root), tmp_path / "cache", show_progress=False)
    assert completed.unread_count() == 0 and completed.manifests == [None]
    spec = next(s for s in backup.files if s.relative_path == "Library/SMS/sms.db")
    entry = completed.lookup("HomeDomain/Library/SMS/sms.db")
    assert entry.mtime_ns == spec.mtime * 10**9 and entry.file_id == file_id("HomeDomain", "Library/SMS/sms.db")
    assert os.path.exists(backup.root / "Manifest.db")
    # A database shown merged with its -wal: the size the index keeps is the merged view's.
    assert entry.wal_source is not None
    view = merged_view(lambda relpath: SourceFile(relpath, SourceFolders(backup.root)), entry.source, entry.wal_source)
    assert entry.view_size == view.size
