#!/usr/bin/env python3
"""Measure how many names of a NEW device the catalog recovers (leave-one-device-out).

The shipped catalog is built from every listing, so measuring it on one of those devices
flatters it. Here each listing is held out in turn: a catalog is built from the other
listings only (with ``contrib/build_catalog.py``), and the held-out device's own backup
names (``bench/device_rebuild.py``'s ``canonical_name``) are looked up by file id, as a
mount without Manifest.db would. The unnamed ones are broken down by domain kind and path
pattern, and checked against the other devices, to show which of them a smarter
generator could still reach and which are specific to one phone.

    python contrib/evaluate_catalog.py [--lists DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "contrib"))
sys.path.insert(0, str(REPO / "bench"))

from build_catalog import DEFAULT_LISTS, build, read_listing
from device_rebuild import canonical_name

from backupfs.naming.catalog import Catalog, app_domain_candidates
from backupfs.naming.domains import infer_container_ids, split_container
from backupfs.source.manifest.records import file_id

CONTAINER_KINDS = ("AppDomainGroup", "AppDomainPlugin", "AppDomain")
KINDS = ("HomeDomain", "CameraRollDomain", "MediaDomain", "AppDomain-*", "AppDomainGroup-*", "AppDomainPlugin-*",
         "Sys*", "other")

_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9A-Fa-f]*[0-9])[0-9A-Fa-f]{16,}")
_NUMBER_RUN = re.compile(r"\d{8,}")
_DIGITS = re.compile(r"\d+")

# Path patterns of the breakdown; one path may show several.
PATTERNS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("UUID in path", lambda p: _UUID.search(p) is not None),
    ("hex run >= 16", lambda p: _HEX_RUN.search(p) is not None),
    ("number run >= 8 digits", lambda p: _NUMBER_RUN.search(p) is not None),
    ("Caches/", lambda p: "Caches/" in p),
    ("Media/DCIM/", lambda p: p.startswith("Media/DCIM/")),
    ("Media/PhotoData/", lambda p: p.startswith("Media/PhotoData/")),
    ("SMS/Attachments/", lambda p: "SMS/Attachments/" in p),
    ("Cookies", lambda p: "Cookies" in p),
    ("WebKit/", lambda p: "WebKit/" in p),
    ("SplashBoard/", lambda p: "SplashBoard/" in p),
    ("Application Support/", lambda p: "Application Support/" in p),
    ("Preferences/*.plist", lambda p: "Preferences/" in p and p.endswith(".plist")),
    ("Documents/", lambda p: p.startswith("Documents/")),
    ("Logs / .log", lambda p: "Logs/" in p or p.endswith(".log")),
    ("-wal / -shm / -journal", lambda p: p.endswith(("-wal", "-shm", "-journal"))),
    ("hidden component (.x)", lambda p: any(part.startswith(".") for part in p.split("/"))),
)


# Folders whose file names a harvester reads from a database inside the backup (harvest.py).
HARVESTED_FOLDERS = ("Media/DCIM/", "Media/PhotoData/", "Library/SMS/Attachments/", "Media/Recordings/",
                     "Recordings/", "Library/Voicemail/", "Message/Media/", "Accounts/")


def random_tokens(path: str) -> set[str]:
    """UUIDs and long hex runs in a path: ids a device draws at random, lower-cased."""
    return {t.lower() for t in _UUID.findall(path)} | {t.lower() for t in _HEX_RUN.findall(_UUID.sub("", path))}


def unreachable(device: DeviceNames, others: Sequence[DeviceNames]) -> set[str]:
    """Ids of names that only this device's own index could give back.

    A path holding a random token that no other device shows, outside the folders a
    harvester reads from a database, cannot come from a catalog, a generator or a
    harvester; 100% minus this share is the ceiling of naming without the index (unless
    some app database that backupfs does not read happens to list the file).
    """
    seen = {t for o in others for _, p in o.names.values() for t in random_tokens(p)}
    return {
        fid for fid, (_, path) in device.names.items()
        if not path.startswith(HARVESTED_FOLDERS) and random_tokens(path) - seen
    }


@dataclass
class DeviceNames:
    """The names a backup of one device would hold, as far as its listing reveals them."""

    name: str
    names: dict[str, tuple[str, str]]  # file id -> canonical (domain, relativePath)
    skipped: Counter[str] = field(default_factory=Counter)  # why files got no name

    def ids(self, kinds: Sequence[str]) -> list[str]:
        """Bundle ids of this device's containers of the given kinds (what its plists list)."""
        found = {domain.split("-", 1)[1] for domain, _ in self.names.values() if domain.split("-", 1)[0] in kinds}
        return sorted(found)


@dataclass
class Fold:
    """One held-out device checked against a catalog built without it."""

    device: DeviceNames
    by_lookup: set[str]
    with_app_ids: set[str]
    with_all_ids: set[str]

    @property
    def total(self) -> int:
        return len(self.device.names)

    def share_without_caches(self, named: set[str]) -> tuple[int, int]:
        """(named, total) over names outside Library/Caches, which Apple says backups skip."""
        kept = [fid for fid, (_, path) in self.device.names.items() if not _is_cache(path)]
        return sum(fid in named for fid in kept), len(kept)

    def unnamed(self) -> list[tuple[str, str]]:
        """Pairs no variant named (the hardest case: even all container ids given)."""
        return sorted(pair for fid, pair in self.device.names.items() if fid not in self.with_all_ids)


def device_names(zip_path: Path) -> DeviceNames:
    """Canonical backup names of a listing's files; container ids inferred from the listing."""
    paths, _ = read_listing(zip_path)
    ids = infer_container_ids(paths)
    folders = {p.rsplit("/", 1)[0] for p in paths}
    result = DeviceNames(zip_path.name, {})
    for path in paths:
        if path in folders:
            continue
        name = canonical_name(path, ids)
        if name is not None:
            result.names.setdefault(file_id(*name), name)
            continue
        container = split_container(path)
        if container is None:
            result.skipped["outside backed-up folders"] += 1
        elif container.root not in ids:
            result.skipped[f"in a {container.prefix} container whose id is not inferred"] += 1
        else:
            result.skipped["container tmp/ (never backed up)"] += 1
    return result


def evaluate(device: DeviceNames, catalog: Catalog) -> Fold:
    """Which of ``device``'s names the catalog recovers, alone and given the plists' ids."""
    by_lookup = {fid for fid in device.names if catalog.lookup(fid) is not None}

    def plus(bundle_ids: Iterable[str]) -> set[str]:
        generated = {file_id(d, p) for d, p in app_domain_candidates(bundle_ids, catalog)}
        return by_lookup | (generated & device.names.keys())

    return Fold(device, by_lookup, plus(device.ids(("AppDomain",))), plus(device.ids(CONTAINER_KINDS)))


def _is_cache(path: str) -> bool:
    return path.startswith("Library/Caches/")


def enumerable(shape_text: str) -> bool:
    """True if a shape's blanks are numbers only: a generator could count through them."""
    return "<UUID>" not in shape_text and "<HEX>" not in shape_text


def domain_kind(domain: str) -> str:
    """The breakdown row a domain belongs to."""
    if domain in ("HomeDomain", "CameraRollDomain", "MediaDomain"):
        return domain
    head = domain.split("-", 1)[0]
    if head in CONTAINER_KINDS and "-" in domain:
        return f"{head}-*"
    if head.startswith("Sys"):
        return "Sys*"
    return "other"


def shape(domain: str, path: str) -> str:
    """A name with its device-specific parts blanked: equal shapes differ only in ids/numbers."""
    head, _, bundle_id = domain.partition("-")
    if bundle_id and head in CONTAINER_KINDS + ("SysContainerDomain", "SysSharedContainerDomain"):
        path = path.replace(bundle_id, "{id}")
        domain = f"{head}-{{id}}"
    path = _UUID.sub("<UUID>", path)
    path = _HEX_RUN.sub("<HEX>", path)
    return f"{domain} {_DIGITS.sub('<N>', path)}"


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:6.1%}" if whole else "    - "


def _table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  " + "  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths))))
    for row in rows:
        print("  " + "  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths))))


def report_fold(fold: Fold, others: Sequence[DeviceNames], catalog_size: int) -> None:
    """Print one fold: shares named, then where the unnamed ones are and whether others have them."""
    device, total = fold.device, fold.total
    print(f"\n=== held out: {device.name} (catalog from {', '.join(o.name for o in others)}: {catalog_size:,} pairs)")
    print(f"  backup names (files): {total:,};  files without a backup name: "
          + ", ".join(f"{reason} {n:,}" for reason, n in sorted(device.skipped.items())))
    print(f"  named by catalog lookup:                         {len(fold.by_lookup):7,} {_pct(len(fold.by_lookup), total)}")
    print(f"  + app ids (Info.plist 'Installed Applications'): {len(fold.with_app_ids):7,} "
          f"{_pct(len(fold.with_app_ids), total)}")
    print(f"  + app/group/plugin ids (Manifest.plist):         {len(fold.with_all_ids):7,} "
          f"{_pct(len(fold.with_all_ids), total)}")

    other_rels = {p for o in others for _, p in o.names.values()}
    other_shapes = {shape(d, p) for o in others for d, p in o.names.values()}
    kinds: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    for fid, (domain, path) in device.names.items():
        row = kinds[domain_kind(domain)]
        row["files"] += 1
        row["lookup"] += fid in fold.by_lookup
        row["all ids"] += fid in fold.with_all_ids
    unnamed = fold.unnamed()
    for domain, path in unnamed:
        row = kinds[domain_kind(domain)]
        row["rel"] += path in other_rels
        shaped = shape(domain, path)
        row["shape"] += shaped in other_shapes
        row["enum"] += shaped in other_shapes and enumerable(shaped)
    _table(
        "  by domain kind (unnamed = not named even with every container id)",
        ("kind", "files", "lookup", "+all ids", "unnamed", "% of all unnamed", "path elsewhere",
         "shape elsewhere", "..numbers only"),
        [
            (kind, f"{c['files']:,}", _pct(c["lookup"], c["files"]), _pct(c["all ids"], c["files"]),
             f"{c['files'] - c['all ids']:,}", _pct(c["files"] - c["all ids"], len(unnamed)),
             f"{c['rel']:,}", f"{c['shape']:,}", f"{c['enum']:,}")
            for kind, c in kinds.items() if c["files"]
        ],
    )
    def pattern_row(label: str, hits: list[tuple[str, str]]) -> tuple[str, ...]:
        shapes = [shape(*pair) for pair in hits]
        elsewhere = [s for s in shapes if s in other_shapes]
        return (label, f"{len(hits):,}", _pct(len(hits), len(unnamed)), f"{len(elsewhere):,}",
                f"{sum(map(enumerable, elsewhere)):,}")

    pattern_rows = [pattern_row(label, [pair for pair in unnamed if test(pair[1])]) for label, test in PATTERNS]
    plain = [pair for pair in unnamed if not any(test(pair[1]) for _, test in PATTERNS)]
    pattern_rows = [row for row in pattern_rows if row[1] != "0"] + [pattern_row("(none of these)", plain)]
    _table("  unnamed by path pattern (a path may show several)",
           ("pattern", "unnamed", "% of unnamed", "shape elsewhere", "..numbers only"), pattern_rows)

    folders = Counter("/".join(shape(*pair).split("/")[:-1][:4]) or shape(*pair) for pair in unnamed)
    _table("  largest unnamed folders (shape, first 4 levels)", ("folder shape", "unnamed"),
           [(folder, f"{n:,}") for folder, n in folders.most_common(20)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lists", type=Path, default=DEFAULT_LISTS, help="folder holding *.csv.zip listings")
    args = parser.parse_args(argv)
    listing_zips = sorted(args.lists.glob("*.csv.zip"))
    if len(listing_zips) < 2:
        print(f"need at least two *.csv.zip listings in {args.lists}", file=sys.stderr)
        return 2
    started = time.monotonic()
    devices = {zip_path: device_names(zip_path) for zip_path in listing_zips}
    summary = []
    with tempfile.TemporaryDirectory(prefix="backupfs-eval-") as work:
        for held_out in listing_zips:
            out = Path(work) / f"without-{held_out.name}.bin"
            count, _, _ = build([z for z in listing_zips if z != held_out], out)
            fold = evaluate(devices[held_out], Catalog.load(out))
            others = [d for z, d in devices.items() if z != held_out]
            report_fold(fold, others, count)
            summary.append((fold, unreachable(devices[held_out], others)))
    _table(
        "=== summary (leave-one-device-out)",
        ("held-out device", "names", "lookup", "+app ids", "+all ids", "unnamed", "lookup w/o Caches",
         "+all ids w/o Caches", "random-id names", "ceiling"),
        [
            (f.device.name, f"{f.total:,}", _pct(len(f.by_lookup), f.total), _pct(len(f.with_app_ids), f.total),
             _pct(len(f.with_all_ids), f.total), f"{f.total - len(f.with_all_ids):,}",
             _pct(*f.share_without_caches(f.by_lookup)), _pct(*f.share_without_caches(f.with_all_ids)),
             f"{len(lost):,}", _pct(f.total - len(lost), f.total))
            for f, lost in summary
        ],
    )
    print("  (columns: '+app ids' adds the AppDomain ids Info.plist lists, '+all ids' also group and plugin ids as\n"
          "   Manifest.plist lists them; 'w/o Caches' leaves out Library/Caches/, which Apple says is not backed up;\n"
          "   'shape elsewhere' = same name on another device once ids, UUIDs, hex runs and numbers are blanked,\n"
          "   '..numbers only' = of those, shapes whose only blanks are numbers, so enumerable;\n"
          "   'random-id names' = paths holding a UUID or hex id no other device shows, outside the folders a\n"
          "   harvester reads: only the device's own index names them, so 'ceiling' = 100% minus their share)")
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
