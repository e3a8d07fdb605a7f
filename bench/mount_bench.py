"""Mount and listing speed on a large synthetic backup; prints figures, asserts nothing.

Builds a backup of N files (default 100,000) with realistic names and content (camera
roll media, app containers, databases with -wal siblings, plists), then measures, with
the index intact and with it deleted:

* ``backupfs mount`` until ready, first (index built) and second (index reused);
* ``find`` over the mount, first pass (kernel caches cold) and second;
* ``find`` over the source, for comparison;
* the peak RSS of the filesystem process;
* the catalog's size on disk and its load time.

Caches are dropped between cold measurements when the machine allows it (root on Linux).
Usage: python bench/mount_bench.py [--files N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import working_folder  # noqa: E402

from backupfs.demo import samples  # noqa: E402
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup  # noqa: E402
from backupfs.source.manifest.records import Kind  # noqa: E402

APPS = [f"com.example.app{n:03d}" for n in range(150)]
EXTENSIONS = ["HEIC", "JPG", "MOV", "PNG"]
APP_FILES = ["Documents/{}.sqlite", "Library/Caches/{}.plist", "Documents/media/{}.jpg", "Library/{}.json",
             "Documents/blobs/{}", "Library/Application Support/{}.db", "tmp-cache/{}.mp4", "Library/Logs/{}.log"]


def synthetic_specs(count: int, seed: int = 5) -> list[PayloadSpec]:
    rng = random.Random(seed)
    specs: list[PayloadSpec] = []
    for number in range(count // 4):
        folder = 100 + number // 1000
        ext = EXTENSIONS[number % len(EXTENSIONS)]
        path = f"Media/DCIM/{folder}APPLE/IMG_{number % 10000:04d}.{ext}"
        specs.append(PayloadSpec("CameraRollDomain", path, samples.content_for_path(path, rng)))
    while len(specs) < count:
        app = rng.choice(APPS)
        path = rng.choice(APP_FILES).format(f"{rng.getrandbits(64):016x}")
        specs.append(PayloadSpec(f"AppDomain-{app}", path, samples.content_for_path(path, rng)))
        if path.endswith(".sqlite") and len(specs) < count:
            specs.append(PayloadSpec(f"AppDomain-{app}", path + "-wal", samples.content_for_path(path + "-wal", rng)))
    return specs


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    return time.perf_counter() - start, result.stdout


def filesystem_pid(mountpoint: Path) -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"mount" in cmdline and os.fsencode(mountpoint) in cmdline:
                return int(entry.name)
    return None


def peak_rss_mib(pid: int | None) -> str:
    if pid is None:
        return "n/a"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return f"{int(line.split()[1]) / 1024:.0f} MiB"
    return "n/a"


def row(label: str, value: str) -> None:
    print(f"{label:<52} {value}", flush=True)


def measure(source: Path, work: Path, label: str, backupfs: list[str]) -> None:
    index_dir = work / f"index-{label}"
    for attempt in ("first", "second"):
        mnt = work / f"mnt-{label}-{attempt}"
        mnt.mkdir()
        cold = drop_caches()
        seconds, _ = timed([*backupfs, "mount", str(source), str(mnt), "--index-dir", str(index_dir)])
        row(f"[{label}] mount ready, {attempt} mount" + (" (caches dropped)" if cold else ""), f"{seconds:.2f} s")
        seconds, out = timed(["find", str(mnt)])
        row(f"[{label}] find over the mount, first pass", f"{seconds:.2f} s ({out.count(chr(10)):,} entries)")
        seconds, _ = timed(["find", str(mnt)])
        row(f"[{label}] find over the mount, second pass", f"{seconds:.2f} s")
        row(f"[{label}] peak RSS of the filesystem process", peak_rss_mib(filesystem_pid(mnt)))
        timed([*backupfs, "unmount", str(mnt)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    backupfs = [sys.executable, "-m", "backupfs"]
    with working_folder(args.workdir, "backupfs-bench-") as work:
        start = time.perf_counter()
        specs = synthetic_specs(args.files)
        source = work / "backup"
        info, manifest, status = default_plists(device_name="Bench iPhone", bundle_ids=APPS)
        write_backup(source, specs, info=info, manifest_plist=manifest, status=status)
        row("files written", f"{sum(s.kind is Kind.FILE for s in specs):,} in {time.perf_counter() - start:.1f} s")
        drop_caches()
        seconds, out = timed(["find", str(source)])
        row("find over the source (caches dropped)", f"{seconds:.2f} s ({out.count(chr(10)):,} entries)")
        seconds, _ = timed(["find", str(source)])
        row("find over the source, second pass", f"{seconds:.2f} s")
        measure(source, work, "Manifest.db intact", backupfs)
        (source / "Manifest.db").unlink()
        measure(source, work, "no index", backupfs)
        catalog = REPO / "backupfs" / "data" / "catalog.bin"
        seconds, out = timed([sys.executable, "-c", (
            "import time; t = time.perf_counter(); from backupfs.naming.catalog import Catalog; c = Catalog.load(); "
            "print(len(c), time.perf_counter() - t)")])
        entries, load = out.split()
        row("catalog size on disk", f"{catalog.stat().st_size / 2**20:.2f} MiB ({int(entries):,} names)")
        row("catalog import + load", f"{float(load) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
