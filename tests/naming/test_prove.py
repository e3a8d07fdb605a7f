"""Naming: every name is proven by its SHA1, whatever source offers it."""

from __future__ import annotations

from backupfs.naming.catalog import Catalog
from backupfs.naming.prove import Name, Origin, name_generated, name_payloads
from backupfs.source.manifest.records import Kind, ManifestRecord, file_id

SMS = ("HomeDomain", "Library/SMS/sms.db")


def test_index_rows_name_their_payloads_with_metadata():
    record = ManifestRecord(file_id(*SMS), *SMS, Kind.FILE, size=5, mtime=1)
    names = name_payloads({record.file_id}, [record], Catalog.load(), [])
    assert names[record.file_id].origin == Origin.MANIFEST
    assert names[record.file_id].record is record


def test_a_damaged_row_whose_hash_does_not_match_is_not_trusted():
    liar = ManifestRecord(file_id(*SMS), "HomeDomain", "Library/SMS/not-sms.db", Kind.FILE)
    names = name_payloads({liar.file_id}, [liar], Catalog.load(), [])
    # The catalog still knows the real name, proven by hash.
    assert (names[liar.file_id].relative_path, names[liar.file_id].origin) == (SMS[1], Origin.CATALOG)


def test_catalog_names_well_known_files_without_an_index():
    names = name_payloads({file_id(*SMS)}, [], Catalog.load(), [])
    assert (names[file_id(*SMS)].domain, names[file_id(*SMS)].relative_path) == SMS


def test_bundle_ids_name_app_containers():
    prefs = ("AppDomain-org.example.notinanylisting", "Library/Preferences/org.example.notinanylisting.plist")
    names = name_payloads({file_id(*prefs)}, [], Catalog.load(), ["org.example.notinanylisting"])
    assert names[file_id(*prefs)].origin == Origin.APP_DOMAIN
    assert name_payloads({file_id(*prefs)}, [], Catalog.load(), []) == {}


def test_payloads_no_source_knows_stay_unnamed():
    stranger = file_id("AppDomain-x.y", "Documents/zz-unlikely")
    assert name_payloads({stranger}, [], Catalog.load(), ["x.y"]) == {}


def test_harvesting_reads_each_database_once_and_survives_cycles(tmp_path):
    import sqlite3

    from backupfs.demo import samples
    from backupfs.naming.prove import harvest_names

    voicemail = ("HomeDomain", "Library/Voicemail/voicemail.db")
    recording = ("HomeDomain", "Library/Voicemail/1.amr")
    # sms.db names voicemail.db (a database naming a database) and itself (a cycle).
    sms = samples.sms_db(["~/Library/Voicemail/voicemail.db", "~/Library/SMS/sms.db"])
    databases = {file_id(*SMS): sms, file_id(*voicemail): samples.sqlite_db({"voicemail": [{"sender": "+1555"}]})}
    payload_ids = {file_id(*SMS), file_id(*voicemail), file_id(*recording)}
    opened: list[str] = []

    def open_database(fid: str, wal_fid: str | None) -> sqlite3.Connection | None:
        opened.append(fid)
        if fid not in databases:
            return None
        copy = tmp_path / fid
        copy.write_bytes(databases[fid])
        return sqlite3.connect(f"file:{copy}?mode=ro&immutable=1", uri=True)

    names = name_payloads({file_id(*SMS)}, [], Catalog.load(), [])
    harvest_names(names, payload_ids, open_database)
    # voicemail.db is one of the databases harvesters read: named by its own path first.
    assert (names[file_id(*voicemail)].relative_path, names[file_id(*voicemail)].origin) == (voicemail[1], "well-known")
    assert (names[file_id(*recording)].relative_path, names[file_id(*recording)].origin) == (recording[1], "harvested:voicemail")
    assert sorted(opened) == sorted([file_id(*SMS), file_id(*voicemail)])  # each database read once


def test_generated_originals_bring_their_photos_tree():
    original = ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0007.HEIC")
    thumbnail = ("CameraRollDomain", "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0007.HEIC/5005.JPG")
    catalogued = ("CameraRollDomain", "Media/PhotoData/CPLAssets/group3/0C4E2E1B-8F5A-4D1E-9C7B-2A3B4C5D6E7F.JPG")
    catalogued_metadata = ("CameraRollDomain", "Media/PhotoData/Metadata/PhotoData/CPLAssets/group3/"
                           "0C4E2E1B-8F5A-4D1E-9C7B-2A3B4C5D6E7F.JPG")
    payload_ids = {file_id(*p) for p in (original, thumbnail, catalogued, catalogued_metadata)}
    names = {file_id(*catalogued): Name(*catalogued, Origin.CATALOG)}
    name_generated(names, payload_ids)
    assert {fid: (n.domain, n.relative_path, n.origin) for fid, n in names.items()} == {
        file_id(*original): (*original, Origin.GENERATED),
        file_id(*thumbnail): (*thumbnail, Origin.GENERATED),
        file_id(*catalogued): (*catalogued, Origin.CATALOG),
        file_id(*catalogued_metadata): (*catalogued_metadata, Origin.GENERATED),
    }


def test_the_databases_harvesters_read_are_named_by_their_own_paths() -> None:
    from backupfs.naming.prove import harvest_names

    memos = ("AppDomainGroup-group.com.apple.VoiceMemos.shared", "Recordings/CloudRecordings.db")
    assert name_payloads({file_id(*memos)}, [], Catalog.load(), []) == {}  # no catalog or container knows it
    names: dict[str, Name] = {}
    harvest_names(names, {file_id(*memos), file_id("HomeDomain", "Library/unrelated")}, lambda fid, wal: None)
    assert names == {file_id(*memos): Name(*memos, Origin.WELL_KNOWN)}
