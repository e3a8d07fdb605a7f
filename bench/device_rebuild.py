"""Rebuild a real iPhone's file listing into a backup, mount it, and check what comes back.

The listings in ../shared/data/filepath-lists are every path of three real devices. Each
path a backup would hold is turned into its (domain, relativePath), given plausible
content for its name (real SQLite for databases, plists, media...), and written as a
backup with its Manifest.db. The script then checks, through a real mount:

* with the index intact: every file at its real path with the right bytes, every
  directory present;
* with the index deleted: no payload lost, none misnamed, every named SQLite database
  opens in a plain read-only client, the share of unnamed files whose extension matches
  their content, and the source unchanged.

Usage: python bench/device_rebuild.py [LISTING.csv.zip] [--limit N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from backupfs import samples  # noqa: E402
from backupfs.domains import candidates_for_device_path, detect_listing_style, infer_container_ids  # noqa: E402
from backupfs.domains import normalise_listing_path  # noqa: E402
from backupfs.records import Kind, file_id  # noqa: E402
from backupfs.writer import PayloadSpec, default_plists, write_backup  # noqa: E402

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


def rebuild_specs(device_paths: list[str], limit: int | None, seed: int = 1) -> list[PayloadSpec]:
    container_ids = infer_container_ids(device_paths)
    rng = random.Random(seed)
    names: dict[str, tuple[str, str]] = {}
    for device_path in device_paths:
        name = canonical_name(device_path, container_ids)
        if name is not None:
            names.setdefault(file_id(*name), name)
    chosen = sorted(names.values())
    if limit is not None and limit < len(chosen):
        chosen = sorted(random.Random(seed).sample(chosen, limit))
    files = {(d, p) for d, p in chosen}
    specs = [PayloadSpec(d, p, samples.content_for_path(p, rng)) for d, p in chosen]
    folders: set[tuple[str, str]] = set()
    for domain, path in chosen:
        folders.add((domain, ""))
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folders.add((domain, "/".join(parts[:depth])))
    specs += [PayloadSpec(d, p, kind=Kind.DIR) for d, p in sorted(folders - files)]
    return specs


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


def mounted(source: Path, mnt: Path, index_dir: Path, catalog: Path | None) -> float:
    mnt.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cli("mount", source, mnt, "--index-dir", index_dir, *(("--catalog", catalog) if catalog else ()))
    return time.perf_counter() - start


def shown_files(mnt: Path) -> dict[str, Path]:
    """fileid -> path in the mount, for every regular file."""
    shown: dict[str, Path] = {}
    for dirpath, _, filenames in os.walk(mnt):
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


def check_intact(mnt: Path, specs: list[PayloadSpec], report: Report) -> None:
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
    report.add("intact index: files at their real path", f"{at_path:,}/{len(files):,} ({at_path / len(files):.2%})")
    report.add("intact index: directories present", f"{dirs_ok:,}/{len(dirs):,}")
    report.add("intact index: sampled non-database files byte-identical", f"{same:,}/{compared:,}")


def check_without_index(mnt: Path, specs: list[PayloadSpec], report: Report) -> None:
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
    report.add("no index: payloads shown / written", f"{len(shown):,}/{len(by_id):,} (lost {len(lost)})")
    report.add("no index: named (by origin)", f"{len(named):,} ({dict(origins)})")
    report.add("no index: misnamed", len(misnamed))
    report.add("no index: named SQLite opening read-only (quick_check ok)", f"{opened:,}/{len(databases):,}")
    share = right / len(unnamed) if unnamed else 1.0
    report.add("no index: unnamed with the right extension", f"{right:,}/{len(unnamed):,} ({share:.2%})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("listing", type=Path, nargs="?", default=DEFAULT_LISTING)
    parser.add_argument("--limit", type=int, help="rebuild only this many files (a random sample)")
    parser.add_argument("--workdir", type=Path, help="where to write the backup (default: a temporary folder)")
    parser.add_argument("--packaged-catalog", action="store_true",
                        help="name files with the shipped catalog, which already holds this device's paths "
                             "(default: a catalog built from the other listings only, as for a new device)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from backups import age_atimes, fingerprint

    work = Path(args.workdir or tempfile.mkdtemp(prefix="backupfs-device-"))
    report = Report([])
    try:
        start = time.perf_counter()
        specs = rebuild_specs(read_device_paths(args.listing), args.limit)
        source = work / "backup"
        bundle_ids = sorted({s.domain.split("-", 1)[1] for s in specs if s.domain.startswith("AppDomain")})
        info, manifest, status = default_plists(device_name="Rebuilt iPhone", bundle_ids=bundle_ids)
        write_backup(source, specs, info=info, manifest_plist=manifest, status=status)
        age_atimes(source)
        report.add("listing", args.listing.name)
        report.add("files / directories rebuilt", f"{sum(s.kind is Kind.FILE for s in specs):,} / "
                   f"{sum(s.kind is Kind.DIR for s in specs):,} in {time.perf_counter() - start:.1f} s")
        catalog = None if args.packaged_catalog else other_devices_catalog(args.listing, work)
        report.add("catalog", "packaged" if catalog is None else "built from the other listings only")
        before = fingerprint(source)
        index_dir = work / "index"
        seconds = mounted(source, work / "mnt-intact", index_dir, catalog)
        report.add("intact index: mount time (first)", f"{seconds:.2f} s")
        check_intact(work / "mnt-intact", specs, report)
        cli("unmount", work / "mnt-intact")

        unchanged = fingerprint(source) == before
        (source / "Manifest.db").unlink()
        before = fingerprint(source)
        seconds = mounted(source, work / "mnt-broken", index_dir, catalog)
        report.add("no index: mount time (first)", f"{seconds:.2f} s")
        check_without_index(work / "mnt-broken", specs, report)
        cli("unmount", work / "mnt-broken")
        unchanged = unchanged and fingerprint(source) == before
        report.add("source unchanged (bytes, sizes, mtimes, atimes, file set)", unchanged)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
