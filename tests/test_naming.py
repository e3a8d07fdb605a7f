"""Naming: every name is proven by its SHA1, whatever source offers it."""

from __future__ import annotations

from backupfs.catalog import Catalog
from backupfs.naming import Origin, name_payloads
from backupfs.records import Kind, ManifestRecord, file_id

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
