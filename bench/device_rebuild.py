"""Rebuild a real iPhone's file listing into a backup, mount it, and check what comes back.

The listings in ../shared/data/filepath-lists are every path of three real devices. Each
path a backup would hold is turned into its (domain, relativePath), given plausible
content for its name (real SQLite for databases, plists, media...), and written as a
backup with its Manifest.db. The script then checks, through a real mount:

* with the index intact: every file at its real path with the right bytes, every
  directory present;
* with the index deleted: no payload lost, none misnamed, every named SQLite database
  opens in a plain read-only client, the share of unnamed files whose extension matches
  their content, and the source unchanged;
* optionally with the index damaged (``--surviving-index``): Files pages zeroed so that
  only part of the rows survive, with the same checks as without an index.

Both layouts are checked by default: "hashed" (iOS 10+, with Manifest.db) and "flat"
(iOS 5-9, with Manifest.mbdb).

The databases that name other files (Photos.sqlite, sms.db, NoteStore.sqlite, WhatsApp's
ChatStorage.sqlite, Recordings.db, voicemail.db) are built from the listing's own files
they would list on the phone, so the harvesters meet what they would meet on this device.

Usage: python bench/device_rebuild.py [LISTING.csv.zip] [--limit N] [--workdir DIR]
           [--layout hashed|flat|both] [--surviving-index FRACTION]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import working_folder  # noqa: E402

from backupfs.demo import samples  # noqa: E402
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup  # noqa: E402
from backupfs.naming import harvest  # noqa: E402
from backupfs.naming.domains import (  # noqa: E402
    candidates_for_device_path,
    detect_listing_style,
    infer_container_ids,
    normalise_listing_path,
)
from backupfs.source.manifest.records import Kind, file_id  # noqa: E402
from backupfs.source.manifest.salvage import salvage_files_rows  # noqa: E402

LISTINGS = REPO.parent / "shared" / "data" / "filepath-lists"
DEFAULT_LISTING = LISTINGS / "magnet-mvs-2023-ios.csv.zip"


def read_device_paths(zip_path: Path) -> list[str]:
    """Absolute device paths of one listing (files only: a path that prefixes another is a folder)."""
    with zipfile.ZipFile(zip_path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv") and not n.startswith("__MACOSX"))
        with archive.open(name) as raw:
            rows = [row[0] for row in csv.reader(io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape"))]
    rows = rows[1:]
    style = detect_listing_style(rows[:1000])
    paths = sorted({p for p in (normalise_listing_path(r, style) for r in rows) if p})
    folders = {p.rsplit("/", 1)[0] for p in paths}
    return [p for p in paths if p not in folders]


def canonical_name(device_path: str, container_ids: dict[str, list[str]]) -> tuple[str, str] | None:
    """The one (domain, relativePath) a device would use: the most specific domain offered."""
    candidates = list(candidates_for_device_path(device_path, container_ids))
    if not candidates:
        return None
    if candidates[0][0] == "HomeDomain" and len(candidates) > 1:
        return candidates[1]
    return candidates[0]


Name = tuple[str, str]  # (domain, relativePath)


def listing_names(device_paths: list[str]) -> dict[Name, str]:
    """(domain, relativePath) -> device path, for every path a backup would hold (one per fileID)."""
    container_ids = infer_container_ids(device_paths)
    names: dict[str, tuple[Name, str]] = {}
    for device_path in device_paths:
        name = canonical_name(device_path, container_ids)
        if name is not None:
            names.setdefault(file_id(*name), (name, device_path))
    return dict(names.values())


# --- databases that name other files, built from the files they would name ------------------

_IMAGE_EXTS = {"heic", "heif", "jpg", "jpeg", "png", "gif", "webp", "dng", "tif", "tiff"}
_VIDEO_EXTS = {"mov", "mp4", "m4v"}
_PHOTO_ORIGINAL = re.compile(r"Media/((?:DCIM|PhotoData/CPLAssets)/[^/]+)/([^/]+)")
_NOTES_MEDIA = re.compile(r"Accounts/([^/]+)/Media/([^/]+)/([^/]+)")
_RECORDING_EXTS = {"m4a", "amr", "caf", "qta"}
_VOICEMAIL_AUDIO = re.compile(r"Library/Voicemail/(\d+)\.amr")


def _stem_ext(filename: str) -> tuple[str, str]:
    stem, dot, ext = filename.rpartition(".")
    return (stem, ext.lower()) if dot and stem else (filename, "")


def photo_assets(names: Mapping[Name, str]) -> list[tuple[str, str]]:
    """(ZDIRECTORY, ZFILENAME) of every original, as Photos.sqlite lists them.

    A Live Photo is one asset: its video (same stem as an image in the same folder) is not
    a row of its own; .AAE edit files and other sidecars are not assets either.
    """
    found = []
    for domain, path in names:
        match = _PHOTO_ORIGINAL.fullmatch(path) if domain == harvest.CAMERA_ROLL else None
        if match:
            found.append((match[1], match[2]))
    images = {(d, _stem_ext(f)[0]) for d, f in found if _stem_ext(f)[1] in _IMAGE_EXTS}
    assets = []
    for directory, filename in sorted(found):
        stem, ext = _stem_ext(filename)
        if ext in _IMAGE_EXTS or (ext in _VIDEO_EXTS and (directory, stem) not in images):
            assets.append((directory, filename))
    return assets


def sms_attachments(names: Mapping[Name, str]) -> tuple[list[str], int]:
    """``attachment.filename`` of every file under Library/SMS/Attachments, and how many were
    left out: samples.sms_db uses the GUID folder as the attachment's unique guid, so it can
    hold only one file per folder."""
    by_folder: dict[str, str] = {}
    total = 0
    for domain, path in sorted(names):
        if domain == harvest.MEDIA and path.startswith("Library/SMS/Attachments/"):
            total += 1
            by_folder.setdefault(path.rsplit("/", 1)[0], f"~/{path}")
    return list(by_folder.values()), total - len(by_folder)


def notes_media(names: Mapping[Name, str]) -> tuple[list[tuple[str, str]], int]:
    """(media id, file name) of every note attachment, and how many were left out:
    samples.notes_store files media under its own account id only, one level deep."""
    media, unfit = [], 0
    for domain, path in sorted(names):
        if domain != harvest.NOTES or not path.startswith("Accounts/") or "/Media/" not in path:
            continue
        match = _NOTES_MEDIA.fullmatch(path)
        if match and match[1] == samples.NOTES_ACCOUNT_ID:
            media.append((match[2], match[3]))
        else:
            unfit += 1
    return media, unfit


def whatsapp_tables(names: Mapping[Name, str]) -> dict[str, list[dict[str, object]]]:
    """ZWAMEDIAITEM (one row per media file and its .thumb) and ZWAPROFILEPICTUREITEM;
    paths are relative to ``Message/``, as WhatsApp stores them."""
    items: dict[str, dict[str, str]] = {}
    profiles = []
    for domain, path in sorted(names):
        if domain != harvest.WHATSAPP_SHARED or not path.startswith("Message/Media/"):
            continue
        value = path.removeprefix("Message/")
        if value.startswith("Media/Profile/"):
            profiles.append(value)
            continue
        stem, ext = _stem_ext(value)
        items.setdefault(stem, {})["thumb" if ext == "thumb" else "media"] = value
    media_rows = [
        {"Z_PK": pk, "Z_ENT": 9, "Z_OPT": 2, "ZMESSAGE": pk, "ZFILESIZE": None,
         "ZMEDIALOCALPATH": item.get("media"), "ZTHUMBNAILLOCALPATH": item.get("thumb"), "ZXMPPTHUMBPATH": None,
         "ZMEDIAURL": None}
        for pk, item in enumerate(items.values(), 1)
    ]
    profile_rows = [{"Z_PK": pk, "Z_ENT": 12, "Z_OPT": 1, "ZJID": value.rsplit("/", 1)[1].split("-")[0],
                     "ZPATH": value} for pk, value in enumerate(profiles, 1)]
    tables: dict[str, list[dict[str, object]]] = {"ZWAMEDIAITEM": media_rows}
    if profile_rows:
        tables["ZWAPROFILEPICTUREITEM"] = profile_rows
    return tables


def recording_rows(names: Mapping[Name, str], database: Name) -> list[dict[str, object]]:
    """One Voice Memos row per recording beside ``database``; ZPATH is the device path."""
    domain, db_path = database
    folder = db_path.rsplit("/", 1)[0] + "/"
    rows = []
    for (d, path), device_path in sorted(names.items()):
        if d == domain and path.startswith(folder) and "/" not in path[len(folder):] \
                and _stem_ext(path)[1] in _RECORDING_EXTS:
            pk = len(rows) + 1
            rows.append({"Z_PK": pk, "Z_ENT": 2, "Z_OPT": 1, "ZDATE": 700_000_000.0 + 3600 * pk, "ZDURATION": 12.5,
                         "ZCUSTOMLABEL": f"Recording {pk}", "ZPATH": device_path,
                         "ZUNIQUEID": f"{file_id(d, path)[:8].upper()}-REC"})
    return rows


def voicemail_rows(names: Mapping[Name, str]) -> list[dict[str, object]]:
    """One voicemail row per ``Library/Voicemail/<ROWID>.amr``."""
    rowids = sorted(int(m[1]) for d, p in names
                    if d == harvest.HOME and (m := _VOICEMAIL_AUDIO.fullmatch(p)))
    return [{"ROWID": rowid, "remote_uid": rowid, "date": 1_690_000_000 + 3600 * rowid, "token": "Complete",
             "sender": "+15550100123", "callback_num": "+15550100123", "duration": 20, "expiration": 0,
             "trashed_date": 0, "flags": 2} for rowid in rowids]


def referencing_databases(names: Mapping[Name, str]) -> tuple[dict[Name, bytes], list[str]]:
    """Content for each database of the listing that names other files, and one summary
    note per database (how many files it names, what could not be expressed).

    A database whose ``-wal`` is in the listing is built in WAL mode (its last rows only
    in the WAL, as on a live phone) and both files get the pair; otherwise it is one file.
    """
    voice_memo_sources = next(h.sources for h in harvest.HARVESTERS if h.name == "voicememos")
    builders: dict[Name, tuple[str, object]] = {}
    if (source := (harvest.CAMERA_ROLL, "Media/PhotoData/Photos.sqlite")) in names:
        assets = photo_assets(names)
        builders[source] = (f"{len(assets)} assets", lambda wal: samples.photos_sqlite(assets, wal=wal))
    if (source := (harvest.HOME, "Library/SMS/sms.db")) in names:
        attachments, dropped = sms_attachments(names)
        note = f"{len(attachments)} attachments" + (f" ({dropped} left out: one per GUID folder)" if dropped else "")
        builders[source] = (note, lambda wal: samples.sms_db(attachments, wal=wal))
    if (source := (harvest.NOTES, "NoteStore.sqlite")) in names:
        media, unfit = notes_media(names)
        note = f"{len(media)} attachments" + (f" ({unfit} left out: other account or deeper folder)" if unfit else "")
        builders[source] = (note, lambda wal: samples.notes_store(media, wal=wal))
    if (source := (harvest.WHATSAPP_SHARED, "ChatStorage.sqlite")) in names:
        tables = whatsapp_tables(names)
        note = f"{len(tables['ZWAMEDIAITEM'])} media items, {len(tables.get('ZWAPROFILEPICTUREITEM', []))} profile pictures"
        builders[source] = (note, lambda wal: samples.sqlite_db(tables, wal=wal))
    for source in voice_memo_sources:
        if source in names:
            table = "ZCLOUDRECORDING" if source[1].endswith("CloudRecordings.db") else "ZRECORDING"
            recordings = {table: recording_rows(names, source)}
            builders[source] = (f"{len(recordings[table])} recordings",
                                lambda wal, tables=recordings: samples.sqlite_db(tables, wal=wal))
    if (source := (harvest.HOME, "Library/Voicemail/voicemail.db")) in names:
        voicemails = {"voicemail": voicemail_rows(names)}
        builders[source] = (f"{len(voicemails['voicemail'])} voicemails",
                            lambda wal: samples.sqlite_db(voicemails, wal=wal))
    contents: dict[Name, bytes] = {}
    notes = []
    for (domain, path), (note, build) in builders.items():
        wal_name = (domain, f"{path}-wal")
        if wal_name in names:
            contents[(domain, path)], contents[wal_name] = build(True)
        else:
            contents[(domain, path)] = build(False)
        notes.append(f"{path.rsplit('/', 1)[-1]}: {note}")
    return contents, notes


def rebuild_specs(names: Mapping[Name, str], limit: int | None, seed: int = 1) -> tuple[list[PayloadSpec], list[str]]:
    """Specs of the rebuilt backup and the notes on its referencing databases.

    With ``limit``, the databases that name other files are kept on top of the random
    sample, so a small run still exercises the harvesters.
    """
    rng = random.Random(seed)
    chosen = sorted(names)
    databases, notes = referencing_databases(names)
    if limit is not None and limit < len(chosen):
        chosen = sorted(set(random.Random(seed).sample(chosen, limit)) | set(databases))
    files = set(chosen)
    specs = []
    for d, p in chosen:
        content = samples.content_for_path(p, rng)  # always drawn, so the other files keep their bytes
        specs.append(PayloadSpec(d, p, databases.get((d, p), content)))
    folders: set[tuple[str, str]] = set()
    for domain, path in chosen:
        folders.add((domain, ""))
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folders.add((domain, "/".join(parts[:depth])))
    specs += [PayloadSpec(d, p, kind=Kind.DIR) for d, p in sorted(folders - files)]
    return specs, notes


def other_devices_catalog(listing: Path, work: Path) -> Path:
    """A catalog that has never seen this device, so naming is measured as on a new phone."""
    lists = work / "other-listings"
    lists.mkdir()
    for other in listing.parent.glob("*.csv.zip"):
        if other.name != listing.name:
            os.symlink(other.resolve(), lists / other.name)
    out = work / "catalog-others.bin"
    subprocess.run([sys.executable, str(REPO / "contrib" / "build_catalog.py"), "--lists", str(lists), "--out", str(out)],
                   check=True, capture_output=True)
    return out


@dataclass
class Report:
    lines: list[str]

    def add(self, label: str, value: object) -> None:
        self.lines.append(f"{label:<58} {value}")
        print(self.lines[-1], flush=True)


def cli(*args: object) -> None:
    subprocess.run([sys.executable, "-m", "backupfs", *map(str, args)], check=True, cwd=REPO)


@contextmanager
def mounted(source: Path, mnt: Path, index_dir: Path, catalog: Path | None) -> Iterator[float]:
    """Mount, yield the seconds the mount took, and always unmount (a failed check must
    not leave a mount behind in a folder about to be deleted)."""
    mnt.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cli("mount", source, mnt, "--index-dir", index_dir, *(("--catalog", catalog) if catalog else ()))
    try:
        yield time.perf_counter() - start
    finally:
        cli("unmount", mnt)


def damage_manifest(db: Path, surviving: float, seed: int = 5) -> tuple[int, int]:
    """Zero a seeded random ``1 - surviving`` share of the Files table's pages (never page 1).

    Returns (pages zeroed, Files pages). SQLite then stops at the first zeroed page it meets;
    the rows on untouched leaf pages are what a page-level salvage can still read.
    """
    uri = f"file:{quote(str(db))}?mode=ro&immutable=1"
    with sqlite3.connect(uri, uri=True) as conn:
        pages = [n for (n,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'Files' ORDER BY pageno") if n > 1]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    doomed = random.Random(seed).sample(pages, round(len(pages) * (1 - surviving)))
    with open(db, "r+b") as out:
        for page in sorted(doomed):
            out.seek((page - 1) * page_size)
            out.write(bytes(page_size))
    return len(doomed), len(pages)


def sqlite_reads_files(db: Path) -> str:
    """What a plain SQLite client gets from the Files table: a row count or its error."""
    try:
        with sqlite3.connect(f"file:{quote(str(db))}?mode=ro&immutable=1", uri=True) as conn:
            count = sum(1 for _ in conn.execute("SELECT fileID, domain, relativePath, flags, file FROM Files"))
        conn.close()
        return f"reads all {count:,} rows"
    except sqlite3.DatabaseError as exc:
        return f"fails ({exc})"


def shown_files(mnt: Path) -> dict[str, Path]:
    """fileid -> path in the mount, for every regular file."""
    shown: dict[str, Path] = {}
    def fail(exc: OSError) -> None:  # os.walk would skip an unreadable folder; its files are not "lost"
        raise exc

    for dirpath, _, filenames in os.walk(mnt, onerror=fail):
        for name in filenames:
            path = Path(dirpath) / name
            fid = os.getxattr(path, "user.backupfs.fileid", follow_symlinks=False).decode()
            if fid in shown:
                raise AssertionError(f"{fid} shown twice: {shown[fid]} and {path}")
            shown[fid] = path
    return shown


def shown_path(mnt: Path, spec: PayloadSpec) -> Path:
    """Where the mount shows a named file: a database's -wal/-journal sibling gets ".raw"."""
    path = mnt / spec.domain / spec.relative_path
    if spec.relative_path.endswith(("-wal", "-journal")) and not path.exists():
        path = path.with_name(path.name + ".raw")
    return path


def check_intact(mnt: Path, specs: list[PayloadSpec], report: Report, label: str = "intact index") -> None:
    files = [s for s in specs if s.kind is Kind.FILE]
    at_path = 0
    for spec in files:
        path = shown_path(mnt, spec)
        if path.is_file() and os.getxattr(path, "user.backupfs.fileid").decode() == file_id(spec.domain, spec.relative_path):
            at_path += 1
    dirs = [s for s in specs if s.kind is Kind.DIR]
    dirs_ok = sum((mnt / s.domain / s.relative_path).is_dir() for s in dirs)
    sample = random.Random(3).sample(files, min(2000, len(files)))
    same = sum(
        shown_path(mnt, s).read_bytes() == s.content
        for s in sample
        if not samples.expected_type(s.relative_path) in ("sqlite", "sqlite-wal")
    )
    compared = sum(1 for s in sample if samples.expected_type(s.relative_path) not in ("sqlite", "sqlite-wal"))
    report.add(f"{label}: named (files at their real path)", f"{at_path:,}/{len(files):,} ({at_path / len(files):.1%})")
    report.add(f"{label}: directories present", f"{dirs_ok:,}/{len(dirs):,}")
    report.add(f"{label}: sampled non-database files byte-identical", f"{same:,}/{compared:,}")


def check_without_index(mnt: Path, specs: list[PayloadSpec], report: Report, label: str = "no index") -> None:
    by_id = {file_id(s.domain, s.relative_path): s for s in specs if s.kind is Kind.FILE}
    shown = shown_files(mnt)
    lost = set(by_id) - set(shown)
    named = {fid: p for fid, p in shown.items() if p.relative_to(mnt).parts[0] != "other-data"}
    misnamed = [
        p for fid, p in named.items()
        if p.relative_to(mnt).as_posix().removesuffix(".raw") != f"{by_id[fid].domain}/{by_id[fid].relative_path}"
    ]
    databases = [p for fid, p in named.items() if samples.expected_type(by_id[fid].relative_path) == "sqlite"]
    opened = 0
    for path in databases:
        with sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True) as conn:
            if conn.execute("PRAGMA quick_check").fetchone() == ("ok",):
                opened += 1
        conn.close()
    unnamed = {fid: p for fid, p in shown.items() if fid not in named}
    right = 0
    for fid, path in unnamed.items():
        expected = samples.expected_type(by_id[fid].relative_path)
        ext = path.name.partition(".")[2] or None
        right += ext == expected
    origins = Counter(os.getxattr(p, "user.backupfs.origin").decode() for p in named.values())
    report.add(f"{label}: payloads shown / written", f"{len(shown):,}/{len(by_id):,} (lost {len(lost)})")
    report.add(f"{label}: named", f"{len(named):,}/{len(by_id):,} ({len(named) / len(by_id):.1%})")
    report.add(f"{label}: named by origin", dict(origins.most_common()))
    report.add(f"{label}: misnamed", len(misnamed))
    report.add(f"{label}: named SQLite opening read-only (quick_check ok)", f"{opened:,}/{len(databases):,}")
    share = right / len(unnamed) if unnamed else 1.0
    report.add(f"{label}: unnamed with the right extension", f"{right:,}/{len(unnamed):,} ({share:.2%})")


Check = Callable[[Path, list[PayloadSpec], Report, str], None]


def run_layout(layout: str, specs: list[PayloadSpec], work: Path, catalog: Path | None,
               surviving: float | None, report: Report) -> None:
    """Every scenario on one layout; the source fingerprint is checked around each mount."""
    from backups import age_atimes, fingerprint

    source = work / f"backup-{layout}"
    index_name = "Manifest.db" if layout == "hashed" else "Manifest.mbdb"
    bundle_ids = sorted({s.domain.split("-", 1)[1] for s in specs if s.domain.startswith("AppDomain")})
    info, manifest, status = default_plists(device_name="Rebuilt iPhone", bundle_ids=bundle_ids)
    start = time.perf_counter()
    write_backup(source, specs, layout=layout, index="db" if layout == "hashed" else "mbdb",
                 info=info, manifest_plist=manifest, status=status)
    age_atimes(source)
    report.add(f"[{layout}] backup written ({index_name})", f"{time.perf_counter() - start:.1f} s")

    def scenario(label: str, check: Check) -> None:
        # A fresh index folder per scenario: every mount time is a first mount.
        before = fingerprint(source)
        slug = f"{layout}-{label.replace(' ', '-').replace('%', 'pc')}"
        with mounted(source, work / f"mnt-{slug}", work / f"index-{slug}", catalog) as seconds:
            report.add(f"[{layout}] {label}: mount time (first)", f"{seconds:.2f} s")
            check(work / f"mnt-{slug}", specs, report, f"[{layout}] {label}")
        report.add(f"[{layout}] {label}: source unchanged (bytes, sizes, mtimes, atimes, file set)",
                   fingerprint(source) == before)

    scenario("intact index", check_intact)
    if surviving is not None:
        if layout == "hashed":
            db = source / "Manifest.db"
            zeroed, pages = damage_manifest(db, surviving)
            rows = salvage_files_rows(db.read_bytes())
            label = f"index {surviving:.0%} surviving"
            report.add(f"[{layout}] {label}: Files pages zeroed", f"{zeroed:,}/{pages:,}")
            files = sum(s.kind is Kind.FILE for s in specs)
            file_rows = sum(r.kind is Kind.FILE for r in rows)
            report.add(f"[{layout}] {label}: Files rows surviving (salvage)",
                       f"{len(rows):,}/{len(specs):,} ({len(rows) / len(specs):.1%}); "
                       f"files {file_rows:,}/{files:,} ({file_rows / files:.1%})")
            report.add(f"[{layout}] {label}: plain SQLite on Files", sqlite_reads_files(db))
            age_atimes(source)  # the reads above touched atimes; the fingerprint must start clean
            scenario(label, check_without_index)
        else:
            report.add(f"[{layout}] damaged index", "skipped: Manifest.mbdb is not SQLite")
    (source / index_name).unlink()
    scenario("no index", check_without_index)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("listing", type=Path, nargs="?", default=DEFAULT_LISTING)
    parser.add_argument("--limit", type=int, help="rebuild only this many files (a random sample, plus the "
                                                  "databases that name other files)")
    parser.add_argument("--workdir", type=Path, help="where to write the backup (default: a temporary folder)")
    parser.add_argument("--packaged-catalog", action="store_true",
                        help="name files with the shipped catalog, which already holds this device's paths "
                             "(default: a catalog built from the other listings only, as for a new device)")
    parser.add_argument("--layout", choices=("hashed", "flat", "both"), default="both",
                        help="hashed (iOS 10+, Manifest.db), flat (iOS 5-9, Manifest.mbdb) or both (default)")
    parser.add_argument("--surviving-index", type=float, metavar="FRACTION",
                        help="also check a Manifest.db damaged so that about FRACTION (0-1) of its Files rows "
                             "survive (hashed layout)")
    args = parser.parse_args()
    if args.surviving_index is not None and not 0 <= args.surviving_index <= 1:
        parser.error("--surviving-index takes a fraction between 0 and 1, e.g. 0.4")
    sys.path.insert(0, str(REPO / "tests"))

    report = Report([])
    with working_folder(args.workdir, "backupfs-device-") as work:
        start = time.perf_counter()
        specs, notes = rebuild_specs(listing_names(read_device_paths(args.listing)), args.limit)
        report.add("listing", args.listing.name)
        report.add("files / directories rebuilt", f"{sum(s.kind is Kind.FILE for s in specs):,} / "
                   f"{sum(s.kind is Kind.DIR for s in specs):,} in {time.perf_counter() - start:.1f} s")
        for note in notes:
            report.add("database built from the listing's files", note)
        catalog = None if args.packaged_catalog else other_devices_catalog(args.listing, work)
        report.add("catalog", "packaged" if catalog is None else "built from the other listings only")
        for layout in ("hashed", "flat") if args.layout == "both" else (args.layout,):
            run_layout(layout, specs, work, catalog, args.surviving_index, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
