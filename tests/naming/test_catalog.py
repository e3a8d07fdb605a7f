"""The name catalog: builder, binary format, lookups, and the packaged data."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from backupfs.errors import BackupfsError
from backupfs.naming.catalog import (
    BUNDLE_ID_PLACEHOLDER,
    Catalog,
    CatalogError,
    app_domain_candidates,
    write_catalog,
)
from backupfs.source.manifest.records import file_id

REPO = Path(__file__).resolve().parents[2]
BUILDER = REPO / "contrib" / "build_catalog.py"
APP = "private/var/mobile/Containers/Data/Application"
UUID_A = "0B468A6F-8837-4A85-BF4D-1EF523683946"
UUID_B = "1230FD03-05C0-4635-9E3E-24F2929EC772"
UUID_C = "222B0C0C-9278-4833-B043-F2A5CDAE849D"


def make_listing(folder: Path, name: str, rows: list[str]) -> None:
    """A listing zip shaped like the real ones: CSV with header, plus macOS litter."""
    text = io.StringIO()
    text.write("path,date_modified,date_accessed,date_created\r\n")
    for row in rows:
        quoted = f'"{row}"' if "," in row else row
        text.write(f"{quoted},1673667330,,\r\n")
    with zipfile.ZipFile(folder / name, "w") as archive:
        archive.writestr(name.removesuffix(".zip"), text.getvalue())
        archive.writestr(f"__MACOSX/._{name.removesuffix('.zip')}", b"\x00\x05\x16\x07junk")


@pytest.fixture
def listings(tmp_path: Path) -> Path:
    folder = tmp_path / "lists"
    folder.mkdir()
    make_listing(
        folder,
        "rootrel.csv.zip",
        [
            "private/var/mobile/Library/SMS/sms.db",
            "private/var/mobile/Library/Caches/odd,name.plist",
            f"{APP}/{UUID_A}/Library/Preferences/com.example.alpha.plist",
            f"{APP}/{UUID_A}/Library/Cookies/Cookies.binarycookies",
            f"{APP}/{UUID_A}/Documents/alpha.sqlite",
            "usr/share/zoneinfo.default/UTC",
        ],
    )
    make_listing(
        folder,
        "fs.csv.zip",
        [
            "extra/KeychainDump/backup_keychain_v2.plist",
            "filesystem1/System/Library/CoreServices/SystemVersion.plist",
            "filesystem2/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC",
            f"filesystem2/mobile/Containers/Data/Application/{UUID_B}/Library/Preferences/com.example.beta.plist",
            f"filesystem2/mobile/Containers/Data/Application/{UUID_B}/Library/Cookies/Cookies.binarycookies",
            f"filesystem2/mobile/Containers/Data/Application/{UUID_B}/Library/Caches/com.example.beta/Cache.db",
        ],
    )
    make_listing(
        folder,
        "abs.csv.zip",
        [
            "/private/var/root/Library/Preferences/com.apple.MobileBackup.plist",
            "/private/var/mobile/Library/Health/healthdb_secure.sqlite",
            f"/{APP}/{UUID_C}/Library/Preferences/com.example.gamma.plist",
            f"/{APP}/{UUID_C}/Library/Caches/com.example.gamma/Cache.db",
            f"/{APP}/{UUID_C}/Library/Caches/only-here.bin",
        ],
    )
    return folder


def run_builder(lists: Path, out: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--lists", str(lists), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return result.stdout


def test_builder_reads_all_three_path_styles(listings: Path, tmp_path: Path) -> None:
    out = tmp_path / "catalog.bin"
    report = run_builder(listings, out)
    assert "style root-relative" in report and "style filesystem" in report and "style absolute" in report
    catalog = Catalog.load(out)
    expected = [
        ("HomeDomain", "Library/SMS/sms.db"),
        ("HomeDomain", "Library/Caches/odd,name.plist"),
        ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC"),
        ("RootDomain", "Library/Preferences/com.apple.MobileBackup.plist"),
        ("HealthDomain", "Health/healthdb_secure.sqlite"),
        ("AppDomain-com.example.alpha", "Documents/alpha.sqlite"),
        ("AppDomain-com.example.beta", "Library/Caches/com.example.beta/Cache.db"),
        ("AppDomain-com.example.gamma", "Library/Caches/only-here.bin"),
        ("KeychainDomain", "keychain-backup.plist"),  # hand-written well-known list
        ("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb-wal"),
    ]
    for pair in expected:
        assert catalog.lookup(file_id(*pair)) == pair
    # Outside any backed-up folder: never cataloged.
    assert catalog.lookup(file_id("HomeDomain", "System/Library/CoreServices/SystemVersion.plist")) is None

    paths = catalog.container_paths["AppDomain"]
    assert "Library/Cookies/Cookies.binarycookies" in paths  # seen in two apps
    assert f"Library/Caches/{BUNDLE_ID_PLACEHOLDER}/Cache.db" in paths  # templated across apps
    assert "Library/Caches/only-here.bin" not in paths  # one app only
    assert f"Library/Preferences/{BUNDLE_ID_PLACEHOLDER}.plist" in paths


def test_builder_output_is_reproducible(listings: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    run_builder(listings, first)
    run_builder(listings, second)
    assert first.read_bytes() == second.read_bytes()


def test_builder_without_listings_fails_clearly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--lists", str(tmp_path), "--out", str(tmp_path / "x.bin")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert "no *.csv.zip listings" in result.stderr


PAIRS = [
    ("HomeDomain", "Library/SMS/sms.db"),
    ("MediaDomain", "Media/Recordings/Recordings.db"),
    ("AppDomain-com.example.\udcff", "Documents/not utf-8"),  # surrogate-escaped bytes survive
] + [("HomeDomain", f"Library/file{i:04d}.bin") for i in range(300)]


@pytest.fixture
def small_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "small.bin"
    count = write_catalog(path, PAIRS + PAIRS[:5], {"AppDomain": ["Documents/a.db"]}, block_size=8)
    assert count == len(PAIRS)
    return path


def test_lookup_hits_every_pair_and_misses_others(small_catalog: Path) -> None:
    catalog = Catalog.load(small_catalog)
    assert len(catalog) == len(PAIRS)
    for pair in PAIRS:
        assert catalog.lookup(file_id(*pair)) == pair
        assert catalog.lookup(file_id(*pair).upper()) == pair
    assert catalog.lookup(file_id("HomeDomain", "Library/absent")) is None
    for junk in ("", "zz" * 20, "3d0d7e5f", "3d0d7e5fb2ce288813306e4d4636395e047a3d28ff"):
        assert catalog.lookup(junk) is None


def test_lookup_verifies_the_full_hash(small_catalog: Path) -> None:
    catalog = Catalog.load(small_catalog)
    real = file_id("HomeDomain", "Library/SMS/sms.db")
    forged = real[:16] + ("0" if real[16] != "0" else "1") + real[17:]  # same stored 8-byte key
    assert catalog.lookup(forged) is None


def test_match_agrees_with_lookup(small_catalog: Path) -> None:
    catalog = Catalog.load(small_catalog)
    real = file_id("HomeDomain", "Library/SMS/sms.db")
    forged = real[:16] + ("0" if real[16] != "0" else "1") + real[17:]
    ids = [file_id(*pair) for pair in PAIRS] + [forged, "zz" * 20, "", file_id("HomeDomain", "Library/absent")]
    assert catalog.match(ids) == {fid: catalog.lookup(fid) for fid in ids if catalog.lookup(fid) is not None}
    assert len(catalog.match(ids)) == len(PAIRS)


def test_app_domain_candidates_tries_every_prefix(small_catalog: Path) -> None:
    catalog = Catalog.load(small_catalog)
    assert catalog.container_paths["AppDomain"] == ("Documents/a.db",)
    assert catalog.container_paths["AppDomainGroup"] == ()
    found = list(app_domain_candidates(["com.example.app", "com.example.app", "", "bad/id"], catalog))
    assert found == [("AppDomain-com.example.app", "Documents/a.db")]


def test_app_domain_candidates_fill_in_the_bundle_id() -> None:
    catalog = Catalog.load()
    found = set(app_domain_candidates(["com.example.app", "group.com.example.app"], catalog))
    assert ("AppDomain-com.example.app", "Library/Preferences/com.example.app.plist") in found
    assert ("AppDomainGroup-group.com.example.app", "Library/Preferences/group.com.example.app.plist") in found
    assert ("AppDomainPlugin-com.example.app", "Library/Preferences/com.example.app.plist") in found
    assert ("AppDomain-com.example.app", "Library/Cookies/Cookies.binarycookies") in found
    assert not any(BUNDLE_ID_PLACEHOLDER in path for _, path in found)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[:10],
        lambda data: b"NOTACATL" + data[8:],
        lambda data: data[:-1],
        lambda data: data + b"\x00",
    ],
)
def test_damaged_catalog_is_a_clear_error(small_catalog: Path, damage) -> None:
    small_catalog.write_bytes(damage(small_catalog.read_bytes()))
    with pytest.raises(CatalogError, match="reinstall backupfs"):
        Catalog.load(small_catalog)


def test_missing_catalog_is_a_backupfs_error(tmp_path: Path) -> None:
    with pytest.raises(BackupfsError, match="cannot be read"):
        Catalog.load(tmp_path / "absent.bin")


WELL_KNOWN = {
    "3d0d7e5fb2ce288813306e4d4636395e047a3d28": ("HomeDomain", "Library/SMS/sms.db"),
    file_id("HomeDomain", "Library/SMS/sms.db-wal"): ("HomeDomain", "Library/SMS/sms.db-wal"),
    file_id("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb"): ("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb"),
    file_id("HomeDomain", "Library/AddressBook/AddressBookImages.sqlitedb"): ("HomeDomain", "Library/AddressBook/AddressBookImages.sqlitedb"),
    file_id("HomeDomain", "Library/Calendar/Calendar.sqlitedb"): ("HomeDomain", "Library/Calendar/Calendar.sqlitedb"),
    file_id("HomeDomain", "Library/CallHistoryDB/CallHistory.storedata"): ("HomeDomain", "Library/CallHistoryDB/CallHistory.storedata"),
    file_id("HomeDomain", "Library/Notes/notes.sqlite"): ("HomeDomain", "Library/Notes/notes.sqlite"),
    file_id("HomeDomain", "Library/Voicemail/voicemail.db"): ("HomeDomain", "Library/Voicemail/voicemail.db"),
    file_id("HomeDomain", "Library/Safari/Bookmarks.db"): ("HomeDomain", "Library/Safari/Bookmarks.db"),
    file_id("AppDomainGroup-group.com.apple.notes", "NoteStore.sqlite-shm"): ("AppDomainGroup-group.com.apple.notes", "NoteStore.sqlite-shm"),
    file_id("CameraRollDomain", "Media/PhotoData/Photos.sqlite"): ("CameraRollDomain", "Media/PhotoData/Photos.sqlite"),
    file_id("AppDomain-com.apple.mobilesafari", "Library/Safari/History.db"): ("AppDomain-com.apple.mobilesafari", "Library/Safari/History.db"),
    file_id("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "ChatStorage.sqlite"): ("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "ChatStorage.sqlite"),
    file_id("KeychainDomain", "keychain-backup.plist"): ("KeychainDomain", "keychain-backup.plist"),
}


def test_packaged_catalog_loads_fast_and_names_well_known_files() -> None:
    started = time.perf_counter()
    catalog = Catalog.load()
    assert time.perf_counter() - started < 0.05
    assert len(catalog) > 50_000
    for fid, pair in WELL_KNOWN.items():
        assert catalog.lookup(fid) == pair
    assert all(catalog.container_paths[prefix] for prefix in ("AppDomain", "AppDomainGroup", "AppDomainPlugin"))


def test_packaged_catalog_ships_its_attribution() -> None:
    text = (REPO / "backupfs" / "data" / "CATALOG-SOURCES.md").read_text()
    for needle in ("Alexis Brignoni", "MIT License", "423798fa539db79b1654b38c31186f1fdaac9599", "iLEAPP"):
        assert needle in text
