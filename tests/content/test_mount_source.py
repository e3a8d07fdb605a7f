"""The one interface a FUSE backend uses: nodes, attributes, listings, contents, errnos; by kind of content."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from backupfs.content.database import DatabaseContent
from backupfs.content.mount_source import STAT_FIELDS, XATTR_FILEID, MountSource
from backupfs.content.notice import NoticeContent
from backupfs.content.payload import PayloadContent
from backupfs.content.rendered import RenderedContent
from backupfs.index.build import build_index
from backupfs.source.discover import find_backups
from backupfs.source.manifest.records import file_id
from tests.backups import build


@pytest.fixture
def mounted(tmp_path: Path) -> MountSource:
    backup = build(tmp_path / "backup")
    return MountSource(build_index(find_backups(backup.root), tmp_path / "cache", show_progress=False))


def errno_of(call) -> int:
    with pytest.raises(OSError) as failure:
        call()
    return failure.value.errno


def test_each_kind_of_content_serves_its_nodes(mounted: MountSource) -> None:
    kinds = mounted.contents.kinds
    assert [type(kind) for kind in kinds] == [RenderedContent, NoticeContent, DatabaseContent, PayloadContent]
    sms = mounted.node("HomeDomain/Library/SMS/sms.db")
    assert sms.wal_source is not None and kinds[2].claims(sms)
    merged = mounted.open(sms)
    payload = kinds[3].open(sms)  # the database alone, as the payload holds it
    assert merged.read(16, 0) == b"SQLite format 3\x00" and merged.read(1, 18) == b"\x01"  # rollback mode
    assert mounted.attributes(sms)[STAT_FIELDS.index("st_size")] >= payload.size


def test_a_merged_database_opens_in_a_plain_read_only_client(mounted: MountSource, tmp_path: Path) -> None:
    sms = mounted.node("/HomeDomain/Library/SMS/sms.db")
    size = mounted.attributes(sms)[STAT_FIELDS.index("st_size")]
    image = tmp_path / "image.db"
    image.write_bytes(mounted.open(sms).read(size, 0))
    with sqlite3.connect(f"file:{image}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM message").fetchone()[0] > 0


def test_errors_come_with_the_errno_a_caller_should_see(mounted: MountSource) -> None:
    assert errno_of(lambda: mounted.node("HomeDomain/no-such-file")) == errno.ENOENT
    assert errno_of(lambda: mounted.folder("HomeDomain/Library/SMS/sms.db")) == errno.ENOTDIR
    assert errno_of(lambda: mounted.open(mounted.node("HomeDomain/Library"))) == errno.EISDIR
    gone = mounted.node("HomeDomain/Library/AddressBook/AddressBook.sqlitedb")
    Path(mounted.index.roots[0], gone.source).unlink()  # the payload goes away under the mount
    assert errno_of(lambda: mounted.open(gone)) == errno.EIO


def test_listings_and_attributes_agree(mounted: MountSource) -> None:
    folder = mounted.folder("HomeDomain/Library/Preferences")
    listed = mounted.listing_attributes(folder, None, 100, 0)
    assert {name for name, _ in listed} == {name for name, _ in mounted.listing(folder)}
    for name, attrs in listed:
        if isinstance(attrs, tuple):
            assert attrs == mounted.attributes(mounted.node(f"{folder.path}/{name}"))


def test_xattrs_trace_a_file_and_the_root_back_to_the_backup(mounted: MountSource) -> None:
    sms = mounted.node("HomeDomain/Library/SMS/sms.db")
    assert mounted.xattrs(sms)[XATTR_FILEID] == file_id("HomeDomain", "Library/SMS/sms.db")
    assert mounted.xattrs(mounted.node(""))["user.backupfs.backup"] == str(mounted.index.roots[0])
