"""backupfs against the raw source at phone scale; prints figures, asserts nothing.

Builds (or reuses, with ``--workdir``) a synthetic backup of N payloads (default 300,000,
made like ``mount_bench.synthetic_specs``) of which one is a 1 GiB video,
``CameraRollDomain Media/DCIM/100APPLE/IMG_9999.MOV``, listed in Manifest.db with its real
size. Without the index it is named again by ``generated`` (DCIM pattern). Then, with
Manifest.db intact and with it gone, it sets each mount figure next to its direct
counterpart on the source, with the kernel caches dropped before every "cold" figure:
find, a walk with an lstat of every entry listed (as ``find -ls`` or ``du`` do), sequential
read of the 1 GiB file, 5,000 random small files,
mount-ready time and the time until every folder is listable (unnamed payloads are
typed after the mount is up), peak RSS of the filesystem process, the floor of typing (the first
4 KiB of every payload by a fast parallel reader) and the time a copy-everything recovery
(``cp -r``) takes before its first file is usable. The source is fingerprinted (entries,
modes, sizes, mtimes) before and after each scenario.

"Manifest.db gone" is done by moving it out of the source into the work folder; the next
run with the same ``--workdir`` moves it back.

Usage: python bench/scale_bench.py [--files N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import stat
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import working_folder  # noqa: E402
from mount_bench import (  # noqa: E402
    APPS,
    drop_caches,
    filesystem_pid,
    peak_rss_mib,
    row,
    synthetic_specs,
    timed,
)

from backupfs.content.mount_source import XATTR_FILEID  # noqa: E402
from backupfs.demo import samples  # noqa: E402
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup  # noqa: E402
from backupfs.source.manifest.records import file_id  # noqa: E402
from backupfs.source.mounttable import is_mounted  # noqa: E402

BACKUPFS = [sys.executable, "-m", "backupfs"]
BIG_DOMAIN, BIG_PATH = "CameraRollDomain", "Media/DCIM/100APPLE/IMG_9999.MOV"
GIB = 1 << 30
CHUNK = 1 << 20
WARM_READS = 5
SMALL_LIMIT = 1 << 20
SMALL_SAMPLE = 5000
HEAD = 4096
READERS = 8
NOATIME = getattr(os, "O_NOATIME", 0)
SCENARIOS = ("Manifest.db intact", "no index")

# The floor of typing: open, read 4 KiB, close, for every path on stdin, from N threads.
HEAD_READER_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char **paths;
static long count, next_path;

static void *reader(void *unused) {
    char head[4096];
    for (long i; (i = __atomic_fetch_add(&next_path, 1, __ATOMIC_RELAXED)) < count;) {
        int fd = open(paths[i], O_RDONLY | O_NOATIME);
        if (fd < 0 || read(fd, head, sizeof head) < 0) perror(paths[i]);
        if (fd >= 0) close(fd);
    }
    return unused;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    size_t size = 0, cap = 1 << 20;
    char *text = malloc(cap);
    for (size_t n; (n = fread(text + size, 1, cap - size, stdin)) > 0;)
        if ((size += n) == cap) text = realloc(text, cap *= 2);
    paths = malloc(sizeof *paths * (size / 2 + 1));
    for (char *p = text, *end = text + size; p < end;) {
        char *nl = memchr(p, '\n', end - p);
        if (!nl) nl = end;
        *nl = 0;
        paths[count++] = p;
        p = nl + 1;
    }
    pthread_t ids[64];
    if (threads < 1 || threads > 64) threads = 8;
    for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, reader, NULL);
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    return 0;
}
"""


@dataclass
class Row:
    label: str
    direct: str = ""
    mount: str = ""
    ratio: str = ""


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"


def _ratio(direct: float | None, mount: float | None) -> str:
    return f"{mount / direct:.2f}x" if direct and mount is not None else ""


def seconds_row(label: str, direct: float | None, mount: float | None) -> Row:
    return Row(label, _secs(direct), _secs(mount), _ratio(direct, mount))


def rate_row(label: str, nbytes: int, direct: float, mount: float) -> Row:
    return Row(label, f"{nbytes / direct / 1e6:,.0f} MB/s", f"{nbytes / mount / 1e6:,.0f} MB/s", _ratio(direct, mount))


def clock(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def read_file(path: str, flags: int = 0) -> int:
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        total = 0
        while data := os.read(fd, CHUNK):
            total += len(data)
        return total
    finally:
        os.close(fd)


def payload_path(source: Path, fid: str) -> str:
    return os.path.join(source, fid[:2], fid)


# -- the backup ------------------------------------------------------------------------


def build(work: Path, files: int) -> Path:
    """The backup, reused when this work folder already holds one of ``files`` payloads."""
    source, marker, moved = work / "backup", work / "built-files", work / "Manifest.db.moved"
    if marker.exists() and marker.read_text() == str(files):
        if moved.exists():
            os.rename(moved, source / "Manifest.db")
        row("backup reused", f"{source} ({files:,} payloads)")
        return source
    shutil.rmtree(source, ignore_errors=True)
    moved.unlink(missing_ok=True)
    start = time.perf_counter()
    # A real QuickTime head, then an mdat box (64-bit size) that runs to the end of the file.
    head = samples.mov(seed=9999)
    head += struct.pack(">I4sQ", 1, b"mdat", GIB - len(head))
    big = PayloadSpec(BIG_DOMAIN, BIG_PATH, head, manifest_size=GIB)
    info, manifest, status = default_plists(device_name="Scale iPhone", bundle_ids=APPS)
    write_backup(source, [*synthetic_specs(files - 1), big], info=info, manifest_plist=manifest, status=status)
    path = payload_path(source, file_id(BIG_DOMAIN, BIG_PATH))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        while (left := GIB - os.fstat(fd).st_size) > 0:
            os.write(fd, os.urandom(min(left, CHUNK)))
    finally:
        os.close(fd)
    os.utime(path, (big.mtime, big.mtime))
    marker.write_text(str(files))
    row("backup written", f"{files:,} payloads (one of 1 GiB) in {time.perf_counter() - start:.1f} s")
    return source


def payload_paths(source: Path) -> list[str]:
    return [entry.path for bucket in os.scandir(source) if bucket.is_dir() and len(bucket.name) == 2
            for entry in os.scandir(bucket.path)]


def walk_lstat(top: Path) -> dict[str, os.stat_result]:
    """How ``find -ls``, ``du`` or a file manager stat a tree: list each folder, lstat each entry."""
    stats = {}
    folders = [str(top)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                stats[entry.path] = os.lstat(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
    return stats


def wait_completed(index_dir: Path) -> float:
    """Seconds until the mount's background completion of its index has ended.

    The figures that follow are those of a completed index, which every later mount has.
    """
    start = last_busy = time.perf_counter()
    while time.perf_counter() - last_busy < 1.0:  # idle for a second: not between two steps
        if any(b"backupfs.index.complete" in cmdline for cmdline in _command_lines()) or list(index_dir.glob("*.tmp")):
            last_busy = time.perf_counter()
        time.sleep(0.1)
    return last_busy - start


def _command_lines() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return found


def fingerprint(root: Path) -> dict[str, tuple[int, int, int]]:
    """What backupfs must never change that this benchmark does not change itself (atimes it does)."""
    prints = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            prints[os.path.relpath(path, root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return prints


# -- the floor of typing -----------------------------------------------------------------


def head_reader(work: Path) -> tuple[list[str], str]:
    """A command that reads the head of every path on stdin, and what it is."""
    if shutil.which("cc"):
        source, binary = work / "head_reader.c", work / "head_reader"
        source.write_text(HEAD_READER_C)
        subprocess.run(["cc", "-O2", "-pthread", "-o", str(binary), str(source)], check=True)
        return [str(binary), str(READERS)], f"C, {READERS} threads"
    return ["xargs", "-d", "\n", f"-P{READERS}", "-n256", "head", f"-qc{HEAD}"], f"xargs -P{READERS} head"


def python_heads(paths: list[str]) -> None:
    def batch(chunk: list[str]) -> None:
        for path in chunk:
            fd = os.open(path, os.O_RDONLY | NOATIME)
            try:
                os.read(fd, HEAD)
            finally:
                os.close(fd)

    with ThreadPoolExecutor(READERS) as pool:
        list(pool.map(batch, [paths[i : i + 256] for i in range(0, len(paths), 256)]))


# -- one scenario ------------------------------------------------------------------------


def scenario(label: str, source: Path, work: Path, reader: tuple[list[str], str]) -> list[Row]:
    slug = "".join(c if c.isalnum() else "-" for c in label.lower())
    index_dir, mnt = work / f"index-{slug}", work / "mnt"
    shutil.rmtree(index_dir, ignore_errors=True)
    mnt.mkdir(exist_ok=True)
    mount = [*BACKUPFS, "mount", str(source), str(mnt), "--index-dir", str(index_dir)]
    before = fingerprint(source)
    payloads = payload_paths(source)
    rows: list[Row] = []

    def log(what: str, value: str) -> None:
        row(f"[{label}] {what}", value)

    try:
        drop_caches()
        first_mount, _ = timed(mount)
        log("mount ready, first (index built, cold)", _secs(first_mount))
        # Unnamed payloads are typed after the mount is up; listing other-data waits for them.
        start = time.perf_counter()
        for top in os.scandir(mnt):
            if top.is_dir():
                os.listdir(top.path)
        settled = first_mount + time.perf_counter() - start
        log("every folder listable (typing done)", _secs(settled))
        completed = settled + wait_completed(index_dir)
        log("index completed in the background (sizes, metadata)", _secs(completed))
        _, info = timed([*BACKUPFS, "info", str(source), "--index-dir", str(index_dir)])
        phases = {}
        for line in info.splitlines():
            if line.strip().startswith(("Payloads:", "named:", "unnamed:", "Indexed in:")):
                log("info", line.strip())
            if line.startswith("Indexed in:"):
                phases = {p.rsplit(" ", 2)[0].strip(): float(p.rsplit(" ", 2)[1]) for p in line[11:].split(",")}

        finds = {}
        for name, top in (("direct", source), ("mount", mnt)):
            drop_caches()
            cold, out = timed(["find", str(top)])
            warm, _ = timed(["find", str(top)])
            finds[name] = cold, warm, out.splitlines()
            log(f"find {name}", f"{cold:.2f} s cold, {warm:.2f} s warm, {len(finds[name][2]):,} entries")
        rows.append(seconds_row("find, first pass (cold)", finds["direct"][0], finds["mount"][0]))
        rows.append(seconds_row("find, second pass", finds["direct"][1], finds["mount"][1]))

        drop_caches()
        start = time.perf_counter()
        direct_entries = len(walk_lstat(source))
        walk_direct = time.perf_counter() - start
        drop_caches()
        start = time.perf_counter()
        stats = walk_lstat(mnt)
        walk_mount = time.perf_counter() - start
        log("walk + lstat", f"{direct_entries:,} source entries, {len(stats):,} mount entries")
        rows.append(seconds_row("walk + lstat of every entry (cold)", walk_direct, walk_mount))

        big_mount = next(p for p, st in stats.items() if st.st_size == GIB)
        big_direct = payload_path(source, os.getxattr(big_mount, XATTR_FILEID).decode())
        log("1 GiB file in the mount", big_mount)
        reads = {}
        for name, path, flags in (("direct", big_direct, NOATIME), ("mount", big_mount, 0)):
            drop_caches()
            cold = clock(lambda: read_file(path, flags))
            # A warm read is all page cache: single runs scatter by +-15% here, so the median of five.
            reads[name] = cold, statistics.median(clock(lambda: read_file(path, flags)) for _ in range(WARM_READS))
        rows.append(rate_row("read 1 GiB sequentially, cold", GIB, reads["direct"][0], reads["mount"][0]))
        rows.append(rate_row("read 1 GiB sequentially, warm", GIB, reads["direct"][1], reads["mount"][1]))

        small = [p for p, st in stats.items() if stat.S_ISREG(st.st_mode) and st.st_size <= SMALL_LIMIT]
        sample = random.Random(3).sample(small, min(SMALL_SAMPLE, len(small)))
        sample_direct = [payload_path(source, os.getxattr(p, XATTR_FILEID).decode()) for p in sample]
        drop_caches()
        start = time.perf_counter()
        direct_bytes = sum(read_file(p, NOATIME) for p in sample_direct)
        small_direct = time.perf_counter() - start
        drop_caches()
        start = time.perf_counter()
        mount_bytes = sum(read_file(p) for p in sample)
        small_mount = time.perf_counter() - start
        log("small files read", f"{len(sample):,}: {direct_bytes / 2**20:.1f} MiB directly, "
            f"{mount_bytes / 2**20:.1f} MiB through the mount (SQLite views merge their -wal)")
        rows.append(seconds_row(f"read {len(sample):,} random small files (cold)", small_direct, small_mount))

        rss = peak_rss_mib(filesystem_pid(mnt))
        timed([*BACKUPFS, "unmount", str(mnt)])
        drop_caches()
        second_mount, _ = timed(mount)
        timed([*BACKUPFS, "unmount", str(mnt)])
    finally:
        if is_mounted(mnt):
            timed([*BACKUPFS, "unmount", str(mnt)])

    command, how = reader
    listing = "\n".join(payloads).encode()
    drop_caches()
    floor = clock(lambda: subprocess.run(command, input=listing, stdout=subprocess.DEVNULL, check=True))
    drop_caches()
    python_floor = clock(lambda: python_heads(payloads))
    copy = work / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    drop_caches()
    copy_seconds, _ = timed(["cp", "-r", str(source), str(copy)])
    shutil.rmtree(copy)

    after = fingerprint(source)
    changed = sum(before.get(k) != after.get(k) for k in before.keys() | after.keys())
    verdict = f"yes ({len(before):,} entries)" if not changed else f"NO: {changed:,} entries differ"
    log("source unchanged (entries, modes, sizes, mtimes)", verdict)
    rows += [
        Row("mount ready, first (index built, cold)", mount=_secs(first_mount)),
        Row("every folder listable, first mount (typing done)", mount=_secs(settled)),
        Row("index completed in the background, first mount", mount=_secs(completed)),
        Row("mount ready, second (index reused, cold)", mount=_secs(second_mount)),
        Row("  index build: listing", mount=_secs(phases.get("listing"))),
        Row("  index build: reading the index", mount=_secs(phases.get("reading the index"))),
        Row("  index build: naming", mount=_secs(phases.get("naming"))),
        seconds_row(f"typing: head floor ({how}) vs typing phase", floor, phases.get("typing")),
        Row(f"typing reference: Python, {READERS} threads (cold)", direct=_secs(python_floor)),
        seconds_row("first file usable: cp -r everything vs mount", copy_seconds, first_mount),
        seconds_row("every file usable: cp -r vs every folder listable", copy_seconds, settled),
        Row("peak RSS of the filesystem process", mount=rss),
        Row("source unchanged", mount=verdict.split(" (")[0]),
    ]
    return rows


def print_table(results: dict[str, list[Row]]) -> None:
    width = max(len(r.label) for rows in results.values() for r in rows) + 2
    print()
    print(" " * width + "".join(f"| {name:^36} " for name in results))
    print(" " * width + f"| {'direct':>12} {'mount':>12} {'ratio':>9} " * len(results))
    print("-" * (width + 39 * len(results)))
    for lines in zip(*results.values()):
        cells = "".join(f"| {r.direct:>12} {r.mount:>12} {r.ratio:>9} " for r in lines)
        print(f"{lines[0].label:<{width}}{cells}")
    print("ratio = mount time / direct time (above 1: the mount is slower). Cold = caches dropped just before.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if not drop_caches():
        print("warning: cannot drop the kernel caches (needs root on Linux): 'cold' figures are warm", flush=True)
    with working_folder(args.workdir, "backupfs-scale-", "/var/tmp") as work:
        source = build(work, args.files)
        reader = head_reader(work)
        results = {}
        for label in SCENARIOS:
            if label == "no index":
                os.rename(source / "Manifest.db", work / "Manifest.db.moved")
            results[label] = scenario(label, source, work, reader)
        print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
