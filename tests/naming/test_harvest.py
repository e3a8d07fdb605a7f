"""Harvesters read real SQLite files (built like the device builds them) for the names inside."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from backupfs.demo import backup as demo_backup
from backupfs.demo import samples
from backupfs.naming.harvest import HARVESTERS, harvester_for
from backupfs.source.manifest.records import file_id

log = logging.getLogger(__name__)


def _open(tmp_path: Path, main: bytes, wal: bytes | None = None, name: str = "db.sqlite") -> sqlite3.Connection:
    """A read-only connection to a private copy, as the caller gives one (WAL beside it)."""
    folder = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / name
    path.write_bytes(main)
    if wal is not None:
        Path(f"{path}-wal").write_bytes(wal)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _make(tmp_path: Path, schema: str, rows: list[tuple[str, tuple]] = ()) -> sqlite3.Connection:
    folder = tmp_path / f"build-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    path = folder / "db.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(schema)
        for sql, params in rows:
            conn.execute(sql, params)
    conn.close()
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _harvest(name: str, conn: sqlite3.Connection) -> set[tuple[str, str]]:
    harvester = next(h for h in HARVESTERS if h.name == name)
    try:
        return set(harvester.harvest(conn))
    finally:
        conn.close()


# --- lookup ----------------------------------------------------------------------------------

def test_harvester_for_finds_every_source_and_nothing_else() -> None:
    for harvester in HARVESTERS:
        for domain, path in harvester.sources:
            assert harvester_for(domain, path) is harvester
    assert harvester_for("HomeDomain", "Library/SMS/sms.db").name == "sms"
    assert harvester_for("CameraRollDomain", "Media/PhotoData/Photos.sqlite").name == "photos"
    assert harvester_for("HomeDomain", "Library/SMS/sms.db-wal") is None
    assert harvester_for("MediaDomain", "Library/SMS/sms.db") is None
    assert {h.name for h in HARVESTERS} == {"photos", "sms", "notes", "whatsapp", "voicememos", "voicemail"}


# --- one fixture per harvester ---------------------------------------------------------------

def test_photos_names_originals_and_derived_files(tmp_path: Path) -> None:
    assets = [("DCIM/100APPLE", "IMG_0001.HEIC"), ("PhotoData/CPLAssets/group159", "7A3E5F21.JPG"),
              ("DCIM/100APPLE", "IMG_0003.MOV")]
    found = _harvest("photos", _open(tmp_path, *samples.photos_sqlite(assets, wal=True)))
    cam = "CameraRollDomain"
    assert {
        (cam, "Media/DCIM/100APPLE/IMG_0001.HEIC"),
        (cam, "Media/PhotoData/CPLAssets/group159/7A3E5F21.JPG"),
        (cam, "Media/DCIM/100APPLE/IMG_0003.MOV"),  # only in the WAL
        (cam, "Media/DCIM/100APPLE/IMG_0001.MOV"),  # Live Photo companion
        (cam, "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.HEIC/5003.JPG"),
        (cam, "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.HEIC/5005.JPG"),
        (cam, "Media/PhotoData/Metadata/DCIM/100APPLE/IMG_0001.JPG"),
        (cam, "Media/PhotoData/Metadata/DCIM/100APPLE/IMG_0001.THM"),
        (cam, "Media/PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/Adjustments.plist"),
        (cam, "Media/PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.jpg"),
    } <= found
    assert (cam, "Media/DCIM/100APPLE/IMG_0003.MOV.MOV") not in found


def test_photos_reads_pre_ios14_zgenericasset(tmp_path: Path) -> None:
    conn = _make(tmp_path, "CREATE TABLE ZGENERICASSET (Z_PK INTEGER PRIMARY KEY, ZDIRECTORY VARCHAR, ZFILENAME VARCHAR);",
                 [("INSERT INTO ZGENERICASSET VALUES (1, 'DCIM/104APPLE', 'IMG_4410.JPG')", ())])
    assert ("CameraRollDomain", "Media/DCIM/104APPLE/IMG_4410.JPG") in _harvest("photos", conn)


def test_sms_names_attachments_in_media_domain_whatever_the_prefix(tmp_path: Path) -> None:
    relative = {name: samples.sms_attachment_filename(f"0C6E4B1A-93F2-4D7A-8E51-{name}", f"{name}.HEIC").removeprefix("~/")
                for name in ("IMG_4021", "IMG_4022", "IMG_4023")}
    filenames = [f"~/{relative['IMG_4021']}", f"/var/mobile/{relative['IMG_4022']}",
                 f"/private/var/mobile/{relative['IMG_4023']}"]
    found = _harvest("sms", _open(tmp_path, *samples.sms_db(filenames, wal=True)))
    for path in relative.values():  # IMG_4023 is only in the WAL
        assert ("MediaDomain", path) in found
        assert ("HomeDomain", path) in found
    assert len(found) == 6


def test_notes_names_media_under_its_account(tmp_path: Path) -> None:
    media = [("4B1F0A2E-8C3D-4E5F-9A6B-7C8D9E0F1A2B", "Scan 14 Nov 2023.jpeg"), ("11111111-2222", "Sketch.png")]
    found = _harvest("notes", _open(tmp_path, *samples.notes_store(media, wal=True)))
    for media_id, name in media:
        assert ("AppDomainGroup-group.com.apple.notes", samples.notes_media_path(media_id, name)) in found


def test_notes_without_resolvable_account_tries_every_account_and_generation(tmp_path: Path) -> None:
    conn = _make(tmp_path, """
        CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
        CREATE TABLE ZICCLOUDSYNCINGOBJECT (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZACCOUNT1 INTEGER,
            ZIDENTIFIER VARCHAR, ZFILENAME VARCHAR, ZGENERATION1 VARCHAR);""", [
        ("INSERT INTO Z_PRIMARYKEY VALUES (9, 'ICAccount', 0, 1)", ()),
        ("INSERT INTO ZICCLOUDSYNCINGOBJECT VALUES (1, 9, NULL, 'ACCT-A', NULL, NULL)", ()),
        ("INSERT INTO ZICCLOUDSYNCINGOBJECT VALUES (2, 14, 77, 'MEDIA-1', 'a.jpg', '1_GEN')", ()),
    ])
    found = _harvest("notes", conn)
    domain = "AppDomainGroup-group.com.apple.notes"
    assert (domain, "Accounts/ACCT-A/Media/MEDIA-1/a.jpg") in found
    assert (domain, "Accounts/ACCT-A/Media/MEDIA-1/1_GEN/a.jpg") in found
    assert (domain, "Accounts/LocalAccount/Media/MEDIA-1/a.jpg") in found


def test_whatsapp_names_media_and_thumbnails_under_message(tmp_path: Path) -> None:
    domain = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
    conn = _open(tmp_path, samples.sqlite_db({"ZWAMEDIAITEM": [
        {"Z_PK": 1, "ZMEDIALOCALPATH": "Media/4477@s.whatsapp.net/4/1/41b0.jpg", "ZTHUMBNAILLOCALPATH": None},
        {"Z_PK": 2, "ZMEDIALOCALPATH": "/Media/4477@s.whatsapp.net/9/c/9c3e.mp4",
         "ZTHUMBNAILLOCALPATH": "Media/4477@s.whatsapp.net/9/c/9c3e.thumb"},
    ]}))
    found = _harvest("whatsapp", conn)
    assert {(domain, "Message/Media/4477@s.whatsapp.net/4/1/41b0.jpg"),
            (domain, "Message/Media/4477@s.whatsapp.net/9/c/9c3e.mp4"),
            (domain, "Message/Media/4477@s.whatsapp.net/9/c/9c3e.thumb")} <= found


def test_voice_memos_names_relative_and_absolute_paths(tmp_path: Path) -> None:
    conn = _make(tmp_path, """
        CREATE TABLE ZRECORDING (Z_PK INTEGER PRIMARY KEY, ZPATH VARCHAR);
        CREATE TABLE ZCLOUDRECORDING (Z_PK INTEGER PRIMARY KEY, ZPATH VARCHAR);""", [
        ("INSERT INTO ZRECORDING VALUES (1, '/var/mobile/Media/Recordings/20190101 101010.m4a')", ()),
        ("INSERT INTO ZCLOUDRECORDING VALUES (1, '20230101 120000.m4a')", ()),
    ])
    found = _harvest("voicememos", conn)
    assert ("MediaDomain", "Media/Recordings/20190101 101010.m4a") in found
    assert ("MediaDomain", "Media/Recordings/20230101 120000.m4a") in found
    assert ("AppDomainGroup-group.com.apple.VoiceMemos.shared", "Recordings/20230101 120000.m4a") in found


def test_voicemail_names_one_amr_per_row(tmp_path: Path) -> None:
    conn = _open(tmp_path, samples.sqlite_db({"voicemail": [{"remote_uid": 101}, {"remote_uid": 102}]}))
    assert _harvest("voicemail", conn) == {("HomeDomain", "Library/Voicemail/1.amr"),
                                           ("HomeDomain", "Library/Voicemail/2.amr")}


# --- the demo backup -------------------------------------------------------------------------

def test_demo_payloads_named_only_by_databases_are_hit(tmp_path: Path) -> None:
    specs = {(s.domain, s.relative_path): s.content for s in demo_backup.demo_specs()}
    payload_ids = {file_id(d, p): (d, p) for d, p in specs}
    named: set[tuple[str, str]] = set()
    used = set()
    for harvester in HARVESTERS:
        for source in harvester.sources:
            if source not in specs:
                continue
            used.add(harvester.name)
            wal = specs.get((source[0], source[1] + "-wal"))
            conn = _open(tmp_path, specs[source], wal, name=source[1].rsplit("/", 1)[-1])
            try:
                for domain, path in harvester.harvest(conn):
                    if file_id(domain, path) in payload_ids:
                        named.add((domain, path))
            finally:
                conn.close()
    log.warning("harvesters named %d demo payloads: %s", len(named), sorted(named))
    expected = {
        ("HomeDomain", "Library/Voicemail/1.amr"), ("HomeDomain", "Library/Voicemail/2.amr"),
        ("AppDomainGroup-group.com.apple.notes", samples.notes_media_path(*demo_backup._NOTES_MEDIA[0])),
        ("CameraRollDomain", "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.HEIC/5003.JPG"),
        ("CameraRollDomain", f"Media/{demo_backup._ICLOUD_PHOTO[0]}/{demo_backup._ICLOUD_PHOTO[1]}"),
        *[(d, p) for d, p in specs if d == "MediaDomain" and p.startswith("Library/SMS/Attachments/")],
        *[(d, p) for d, p in specs if d == demo_backup.WHATSAPP_SHARED and p.startswith("Message/")],
        *[("CameraRollDomain", f"Media/DCIM/100APPLE/{n}") for n, listed in demo_backup._DCIM if listed],
    }
    assert used == {"photos", "sms", "notes", "whatsapp", "voicemail"}
    assert len([p for d, p in expected if d == "MediaDomain"]) == 4  # incl. the WAL-only IMG_4023.MOV
    assert expected <= named, sorted(expected - named)
    assert len(named) == 17


# --- tolerance -------------------------------------------------------------------------------

def _all(conn: sqlite3.Connection) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    for harvester in HARVESTERS:
        yield harvester.name, list(harvester.harvest(conn))


def test_empty_database_yields_nothing(tmp_path: Path) -> None:
    conn = _make(tmp_path, "")
    assert all(found == [] for _, found in _all(conn))
    conn.close()


def test_missing_tables_and_columns_yield_nothing(tmp_path: Path) -> None:
    conn = _make(tmp_path, """
        CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY);
        CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY, guid TEXT);
        CREATE TABLE ZICCLOUDSYNCINGOBJECT (Z_PK INTEGER PRIMARY KEY);
        CREATE TABLE ZWAMEDIAITEM (Z_PK INTEGER PRIMARY KEY);
        CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY, x TEXT);""",
        [("INSERT INTO ZASSET VALUES (1)", ()), ("INSERT INTO attachment VALUES (1, 'g')", ()),
         ("INSERT INTO ZICCLOUDSYNCINGOBJECT VALUES (1)", ()), ("INSERT INTO ZWAMEDIAITEM VALUES (1)", ())])
    found = dict(_all(conn))
    conn.close()
    assert found == {name: [] for name in found}


def test_null_and_odd_values_do_not_raise(tmp_path: Path) -> None:
    conn = _make(tmp_path, """
        CREATE TABLE ZASSET (ZDIRECTORY, ZFILENAME);
        CREATE TABLE attachment (filename);
        CREATE TABLE ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, ZIDENTIFIER, ZFILENAME, ZACCOUNT3, ZACCOUNTTYPE);
        CREATE TABLE ZWAMEDIAITEM (ZMEDIALOCALPATH, ZTHUMBNAILLOCALPATH);
        CREATE TABLE ZRECORDING (ZPATH);
        CREATE TABLE voicemail (x);""", [
        ("INSERT INTO ZASSET VALUES (NULL, NULL), (42, 3.5), (?, 'IMG_1.JPG'), ('DCIM/100APPLE', ?)",
         (b"\xff\xfe", b"IMG_\xe9.JPG")),
        ("INSERT INTO attachment VALUES (NULL), (17), (?), ('~/Library/SMS/Attachments/a/b/G/\u00e9.jpg')",
         (b"~/Library/SMS/\xff",)),
        ("INSERT INTO ZICCLOUDSYNCINGOBJECT VALUES (NULL, NULL, NULL, NULL, NULL, NULL)", ()),
        ("INSERT INTO ZICCLOUDSYNCINGOBJECT VALUES ('x', 8, ?, 'f.jpg', 'x', 'y'), (2, 14, 'M', ?, 1.5, NULL)",
         (b"\x80", b"\x00")),
        ("INSERT INTO ZWAMEDIAITEM VALUES (NULL, 5), ('/', ?)", (b"\xc3",)),
        ("INSERT INTO ZRECORDING VALUES (NULL), (1), ('/'), ('')", ()),
        ("INSERT INTO voicemail (rowid, x) VALUES (-1, 'a'), (7, NULL)", ()),
    ])
    found = dict(_all(conn))
    conn.close()
    # The non-UTF-8 file name comes back as the device's exact bytes.
    assert ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_\udce9.JPG") in found["photos"]
    assert file_id("CameraRollDomain", "Media/DCIM/100APPLE/IMG_\udce9.JPG") == hashlib.sha1(
        b"CameraRollDomain-Media/DCIM/100APPLE/IMG_\xe9.JPG").hexdigest()
    assert ("MediaDomain", "Library/SMS/\udcff") in found["sms"]
    assert found["voicemail"] == [("HomeDomain", "Library/Voicemail/7.amr")]
    for name, candidates in found.items():
        assert all(isinstance(d, str) and isinstance(p, str) and p for d, p in candidates), name


def test_unreadable_database_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 16)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert all(found == [] for _, found in _all(conn))
    conn.close()
    closed = sqlite3.connect(":memory:")
    closed.close()
    assert all(found == [] for _, found in _all(closed))

