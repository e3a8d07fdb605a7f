#!/usr/bin/env python3
"""Build ``backupfs/data/catalog.bin`` from real device file listings.

Each listing (a zipped CSV, first column the path) names the files of one real iPhone.
Every file under a backed-up device folder becomes one or more candidate
(domain, relativePath) pairs; app containers get their bundle id inferred from their
contents. Paths common to many app containers are kept as templates so that the bundle
ids a backup itself names can be combined with them at mount time.

Only files are cataloged: directories have no payload to name.

The output is deterministic: the same listings give the same bytes.

    python contrib/build_catalog.py [--lists DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backupfs.naming.catalog import (
    BUNDLE_ID_PLACEHOLDER,
    CONTAINER_PREFIXES,
    write_catalog,
)
from backupfs.naming.domains import (
    candidates_for_device_path,
    detect_listing_style,
    infer_container_ids,
    is_uuid_like,
    normalise_listing_path,
    split_container,
)

DEFAULT_LISTS = REPO.parent / "shared" / "data" / "filepath-lists"
DEFAULT_OUT = REPO / "backupfs" / "data" / "catalog.bin"

# A container path seen in this many distinct apps is worth trying in any app.
MIN_APPS = 2
_ACCOUNT_NUMBER = re.compile(r"\d{12,}")
_SQLITE_SIBLINGS = ("", "-wal", "-shm")

# Files every backup analyst looks for (FORMATS.md section 6), each hash recomputed by
# the writer; databases come with their -wal/-shm siblings.
_WELL_KNOWN_DATABASES: tuple[tuple[str, str], ...] = (
    ("HomeDomain", "Library/SMS/sms.db"),
    ("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb"),
    ("HomeDomain", "Library/AddressBook/AddressBookImages.sqlitedb"),
    ("HomeDomain", "Library/Calendar/Calendar.sqlitedb"),
    ("HomeDomain", "Library/CallHistoryDB/CallHistory.storedata"),
    ("HomeDomain", "Library/Notes/notes.sqlite"),
    ("HomeDomain", "Library/Voicemail/voicemail.db"),
    ("HomeDomain", "Library/Safari/Bookmarks.db"),
    ("HomeDomain", "Library/Safari/History.db"),
    ("HomeDomain", "Library/Accounts/Accounts3.sqlite"),
    ("HomeDomain", "Library/Mail/Envelope Index"),
    ("HomeDomain", "Library/Mail/Protected Index"),
    ("HomeDomain", "Library/Reminders/Container_v1/Stores/Data-local.sqlite"),
    ("HomeDomain", "Library/TCC/TCC.db"),
    ("HomeDomain", "Library/Health/healthdb.sqlite"),
    ("HomeDomain", "Library/Health/healthdb_secure.sqlite"),
    ("HealthDomain", "Health/healthdb.sqlite"),
    ("HealthDomain", "Health/healthdb_secure.sqlite"),
    ("AppDomainGroup-group.com.apple.notes", "NoteStore.sqlite"),
    ("CameraRollDomain", "Media/PhotoData/Photos.sqlite"),
    ("MediaDomain", "Media/PhotoData/Photos.sqlite"),
    ("MediaDomain", "Media/Recordings/Recordings.db"),
    ("MediaDomain", "Media/Recordings/CloudRecordings.db"),
    ("AppDomain-com.apple.mobilesafari", "Library/Safari/History.db"),
    ("AppDomain-com.apple.mobilesafari", "Library/Safari/BrowserState.db"),
    ("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "ChatStorage.sqlite"),
    ("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "ContactsV2.sqlite"),
    ("AppDomain-net.whatsapp.WhatsApp", "Documents/ChatStorage.sqlite"),
    ("RootDomain", "Library/Caches/locationd/consolidated.db"),
    ("RootDomain", "Library/Caches/locationd/cache_encryptedB.db"),
    ("WirelessDomain", "Library/Databases/CellularUsage.db"),
    ("WirelessDomain", "Library/Databases/DataUsage.sqlite"),
    ("HomeDomain", "Library/Preferences/com.apple.MobileSMS.plist"),
    ("HomeDomain", "Library/Preferences/com.apple.springboard.plist"),
    ("SystemPreferencesDomain", "SystemConfiguration/com.apple.wifi.plist"),
    ("SystemPreferencesDomain", "SystemConfiguration/preferences.plist"),
)
_WELL_KNOWN_FILES: tuple[tuple[str, str], ...] = (
    ("KeychainDomain", "keychain-backup.plist"),
    ("HomeDomain", "Library/Preferences/com.apple.MobileSMS.plist"),
    ("HomeDomain", "Library/Preferences/com.apple.springboard.plist"),
    ("SystemPreferencesDomain", "SystemConfiguration/com.apple.wifi.plist"),
    ("SystemPreferencesDomain", "SystemConfiguration/preferences.plist"),
    ("RootDomain", "Library/Preferences/com.apple.MobileBackup.plist"),
    ("WirelessDomain", "Library/Preferences/com.apple.commcenter.plist"),
    ("DatabaseDomain", "timezone/localtime"),
)
# Container paths worth trying in every app even if the listings show them only once.
_WELL_KNOWN_CONTAINER_PATHS: dict[str, tuple[str, ...]] = {
    "AppDomain": (
        f"Library/Preferences/{BUNDLE_ID_PLACEHOLDER}.plist",
        "Library/Cookies/Cookies.binarycookies",
        f"Library/Cookies/{BUNDLE_ID_PLACEHOLDER}.binarycookies",
        f"Library/Caches/{BUNDLE_ID_PLACEHOLDER}/Cache.db",
        f"Library/Caches/{BUNDLE_ID_PLACEHOLDER}/Cache.db-wal",
        f"Library/Caches/{BUNDLE_ID_PLACEHOLDER}/Cache.db-shm",
        f"Library/HTTPStorages/{BUNDLE_ID_PLACEHOLDER}/httpstorages.sqlite",
        f"Library/HTTPStorages/{BUNDLE_ID_PLACEHOLDER}/httpstorages.sqlite-wal",
        f"Library/HTTPStorages/{BUNDLE_ID_PLACEHOLDER}/httpstorages.sqlite-shm",
        "Library/WebKit/WebsiteData/ResourceLoadStatistics/observations.db",
        "Library/WebKit/WebsiteData/LocalStorage/StorageTracker.db",
    ),
    "AppDomainGroup": (f"Library/Preferences/{BUNDLE_ID_PLACEHOLDER}.plist",),
    "AppDomainPlugin": (f"Library/Preferences/{BUNDLE_ID_PLACEHOLDER}.plist",),
}


@dataclass
class ListingStats:
    """What one listing contributed, for the builder's report."""

    name: str
    style: str = ""
    rows: int = 0
    paths: int = 0
    pairs: int = 0
    containers: dict[str, tuple[int, int]] = field(default_factory=dict)  # prefix -> (named, with files)


def read_listing(zip_path: Path) -> tuple[list[str], ListingStats]:
    """The absolute device paths a zipped CSV listing names, sorted and unique."""
    stats = ListingStats(zip_path.name)
    with zipfile.ZipFile(zip_path) as archive:
        members = sorted(
            n for n in archive.namelist() if n.lower().endswith(".csv") and not n.startswith("__MACOSX/")
        )
        if not members:
            raise SystemExit(f"{zip_path}: no .csv file inside")
        raws: list[str] = []
        for member in members:
            with archive.open(member) as handle:
                text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
                for row in csv.reader(text):
                    if row and row[0] and row[0] != "path":
                        raws.append(row[0])
    stats.rows = len(raws)
    stats.style = detect_listing_style(raws[:1000])
    paths = sorted({p for p in (normalise_listing_path(raw, stats.style) for raw in raws) if p})
    stats.paths = len(paths)
    return paths, stats


def _device_specific(template: str) -> bool:
    """True for paths naming a device's own UUIDs or account numbers: no use elsewhere."""
    return any(map(is_uuid_like, template.split("/"))) or _ACCOUNT_NUMBER.search(template) is not None


def _template(inner: str, ids: Iterable[str]) -> str:
    for bundle_id in ids:
        inner = inner.replace(bundle_id, BUNDLE_ID_PLACEHOLDER)
    return inner


def build(listing_zips: list[Path], out: Path) -> tuple[int, list[ListingStats], dict[str, int]]:
    """Write the catalog; return its pair count, per-listing stats and template counts."""
    pairs: set[tuple[str, str]] = set()
    seen_in: dict[tuple[str, str], set[str]] = defaultdict(set)  # (prefix, template) -> apps
    all_stats: list[ListingStats] = []
    for zip_path in listing_zips:
        paths, stats = read_listing(zip_path)
        ids = infer_container_ids(paths)
        with_files: dict[str, set[str]] = defaultdict(set)
        listing_pairs: set[tuple[str, str]] = set()
        for path in paths:
            listing_pairs.update(candidates_for_device_path(path, ids))
            container = split_container(path)
            if container is None or container.prefix not in CONTAINER_PREFIXES:
                if container is not None and not container.inner.startswith("."):
                    with_files[container.prefix].add(container.root)
                continue
            if not container.inner.startswith("."):
                with_files[container.prefix].add(container.root)
            container_ids = ids.get(container.root, ())
            template = _template(container.inner, container_ids)
            if not container.inner.startswith("tmp/") and not _device_specific(template):
                # The same app on two devices is one app: its own paths are already pairs.
                app = container_ids[0] if container_ids else f"{zip_path.name}:{container.root}"
                seen_in[(container.prefix, template)].add(app)
        stats.pairs = len(listing_pairs)
        stats.containers = {
            prefix: (sum(1 for root in roots if root in ids), len(roots)) for prefix, roots in sorted(with_files.items())
        }
        pairs |= listing_pairs
        all_stats.append(stats)

    for domain, rel in _WELL_KNOWN_DATABASES:
        pairs.update((domain, rel + suffix) for suffix in _SQLITE_SIBLINGS)
    pairs.update(_WELL_KNOWN_FILES)

    container_paths: dict[str, set[str]] = {prefix: set(paths) for prefix, paths in _WELL_KNOWN_CONTAINER_PATHS.items()}
    for (prefix, template), apps in seen_in.items():
        if len(apps) >= MIN_APPS:
            container_paths[prefix].add(template)

    meta = {"sources": [p.name for p in listing_zips], "attribution": "see CATALOG-SOURCES.md"}
    count = write_catalog(out, pairs, container_paths, meta)
    return count, all_stats, {prefix: len(paths) for prefix, paths in sorted(container_paths.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lists", type=Path, default=DEFAULT_LISTS, help="folder holding *.csv.zip listings")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="catalog file to write")
    args = parser.parse_args(argv)
    listing_zips = sorted(args.lists.glob("*.csv.zip"))
    if not listing_zips:
        print(f"no *.csv.zip listings in {args.lists}", file=sys.stderr)
        return 2
    started = time.monotonic()
    count, stats, templates = build(listing_zips, args.out)
    for s in stats:
        named = ", ".join(f"{prefix} {n}/{total}" for prefix, (n, total) in s.containers.items())
        print(f"{s.name}: style {s.style}, {s.rows} rows, {s.paths} paths, {s.pairs} pairs; containers named: {named}")
    print("container path templates: " + ", ".join(f"{prefix} {n}" for prefix, n in templates.items()))
    print(f"wrote {args.out}: {count} pairs, {args.out.stat().st_size} bytes in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
