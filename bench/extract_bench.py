"""``backupfs extract`` against ``cp -r`` of the source folder, at phone scale; prints figures, asserts nothing.

Issue 15 asks that extracting an index-less backup of 300,000 files take at most 1.5x the
time of ``cp -r`` of the backup folder itself (same disk, caches dropped), and that a rerun,
which copies nothing, be at least 5x faster than the first extract. This measures, on the
disk of the backup, with the kernel caches dropped before each figure:

1. ``cp -r SOURCE`` (the target's yardstick);
2. backupfs's index build for SOURCE into a fresh index folder (``backupfs info`` builds and
   completes it). A first extract does it once; every later one reuses it, so it is
   reported apart, and with the extract as the first-time total;
3. ``backupfs extract SOURCE DEST`` with that index, and its ratio to ``cp -r``;
4. the same extract again (every file is there: nothing to copy), and its speed-up over 3.

Then it checks that DEST holds, outside the readable folder, one file per payload of the
source, no partial file, and that the source is unchanged (entries, modes, sizes, mtimes).

The source is the backup ``scale_bench.py`` leaves in /var/tmp/scale (Manifest.db moved
aside: the index-less case) when it is there, or ``--source``; it is only read. Without
either, one of ``--files`` payloads is built the way ``scale_bench`` builds it (reused
with ``--workdir``) and its Manifest.db moved aside as ``scale_bench`` does. Copies and
the index are written under ``--scratch`` (on the source's disk), removed at the end.

Each step runs ``--runs`` times (median, min, max) while the whole stays within
``--budget`` seconds; the first run always completes.

Usage: python bench/extract_bench.py [--source DIR | --files N [--workdir DIR]] [--runs N] [--budget S]
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import working_folder
from mount_bench import drop_caches, row, timed
from scale_bench import BACKUPFS, build, fingerprint, payload_paths

from backupfs.export.extract import PARTIAL_SUFFIX
from backupfs.readable.base import READABLE_FOLDER

DEFAULT_SOURCE = Path("/var/tmp/scale/backup")
DEFAULT_SCRATCH = Path("/var/tmp/extract-bench")
COPY_TARGET = 1.5  # extract at most this many times cp -r
RERUN_TARGET = 5.0  # a rerun at least this many times faster than the extract


@dataclass
class Figures:
    """Wall-clock and CPU (user + system) seconds of each step, one per run.

    CPU seconds near the wall-clock ones (or above: there are threads) mean a step waits on
    the processor, far below them on the disk.
    """

    wall: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def first_time(self) -> list[float]:
        """Index build plus extract, run by run: what a user's first extract costs."""
        return [i + e for i, e in zip(self.wall["index"], self.wall["extract"])]


# -- the source ----------------------------------------------------------------------


@contextmanager
def the_source(args: argparse.Namespace) -> Iterator[Path]:
    """The backup to measure: given, the scale fixture, or one built as ``scale_bench`` builds it."""
    given = args.source or (DEFAULT_SOURCE if DEFAULT_SOURCE.is_dir() else None)
    if given is not None:
        if not given.is_dir():
            raise SystemExit(f"{given} is not a folder: give a backup folder with --source")
        row("source (only read)", str(given))
        yield given
        return
    with working_folder(args.workdir, "backupfs-extract-source-", "/var/tmp") as work:
        source = build(work, args.files)
        os.rename(source / "Manifest.db", work / "Manifest.db.moved")  # index-less; build() puts it back on reuse
        yield source


@contextmanager
def scratch_folder(scratch: Path, source: Path) -> Iterator[Path]:
    """Where copies and the index go, on the source's disk; removed at the end, whatever happens."""
    if scratch.exists() and any(scratch.iterdir()):
        raise SystemExit(f"{scratch} exists and is not empty (left by an interrupted run?): remove it or give --scratch")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        if os.stat(scratch).st_dev != os.stat(source).st_dev:
            print(f"warning: {scratch} is not on the disk of {source}: the figures compare two disks", flush=True)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        mounted = [line for line in Path("/proc/mounts").read_text().splitlines() if f" {scratch}" in line]
        row("scratch removed, nothing mounted", "yes" if not scratch.exists() and not mounted else f"NO: {mounted}")


# -- the steps ------------------------------------------------------------------------


def step(figures: Figures, key: str, label: str, command: list[str], caches_dropped: bool = True) -> str:
    """Run ``command`` (after dropping the caches), record its seconds under ``key``, and log them; its output."""
    if caches_dropped:
        drop_caches()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        seconds, out = timed(command)
    except subprocess.CalledProcessError as exc:
        print(exc.stderr, file=sys.stderr)
        raise
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime
    figures.wall[key].append(seconds)
    figures.cpu[key].append(cpu)
    said = f": {out.strip()}" if key.startswith("extract") else ""
    row(label, f"{seconds:.1f} s ({cpu:.1f} s CPU){said}")
    return out


def one_run(number: int, source: Path, scratch: Path, figures: Figures) -> Path:
    """Every step once, each from a fresh start: the copy, the index, the extract and its rerun; where it extracted.

    Each run writes into folders of its own and nothing is removed until the end: removing
    300,000 files just before a timed step would slow it, and by how much depends on the
    file system (ext4 without a journal passes over inodes freed in the last minutes when
    it makes a file), which would make the figures say more about the order of the steps
    than about the commands.
    """
    run = scratch / f"run{number}"
    copy, index_dir, dest = run / "cp", run / "index", run / "extract"
    run.mkdir()
    step(figures, "cp", f"[run {number}] cp -r (cold)", ["cp", "-r", str(source), str(copy)])
    info = [*BACKUPFS, "info", str(source), "--index-dir", str(index_dir)]
    step(figures, "index", f"[run {number}] index build, backupfs info (cold)", info)
    extract = [*BACKUPFS, "extract", str(source), str(dest), "--index-dir", str(index_dir)]
    step(figures, "extract", f"[run {number}] extract (cold)", extract)
    step(figures, "extract-rerun", f"[run {number}] extract rerun (cold)", extract)
    step(figures, "extract-rerun-warm", f"[run {number}] extract rerun (warm)", extract, caches_dropped=False)
    return dest


def room_for_runs(scratch: Path, source_bytes: int, runs: int) -> int:
    """How many runs fit on the scratch disk, each keeping two copies of the source until the end."""
    free = shutil.disk_usage(scratch).free
    fitting = max(1, int(free * 0.9 // max(2.2 * source_bytes, 1)))
    if fitting < runs:
        row("runs", f"{fitting} of {runs}: the scratch disk has room for the copies of {fitting} only")
    return min(runs, fitting)


# -- the checks -----------------------------------------------------------------------


def extracted_files(dest: Path) -> tuple[int, int, int]:
    """Files (and links) written outside the readable folder, their bytes, and partial files left anywhere."""
    files = size = partial = 0
    for dirpath, dirnames, filenames in os.walk(dest):
        if dirpath == str(dest) and READABLE_FOLDER in dirnames:
            partial += sum(name.endswith(PARTIAL_SUFFIX) for _, _, names in os.walk(dest / READABLE_FOLDER)
                           for name in names)
            dirnames.remove(READABLE_FOLDER)
        for name in filenames:
            partial += name.endswith(PARTIAL_SUFFIX)
            files += 1
            size += os.lstat(os.path.join(dirpath, name)).st_size
        for name in dirnames:  # a link to a folder is listed with the folders, and not followed
            if os.path.islink(os.path.join(dirpath, name)):
                files += 1
    return files, size, partial


def check_counts(dest: Path, payloads: list[str]) -> list[tuple[str, str]]:
    """Every payload once: the count outside the readable folder against the payloads of the source."""
    files, size, partial = extracted_files(dest)
    payload_bytes = sum(os.lstat(path).st_size for path in payloads)
    verdict = "met" if files == len(payloads) and not partial else "NOT met"
    return [
        ("files outside the readable folder == payloads",
         f"{files:,} == {len(payloads):,}, {partial} partial files left: {verdict}"),
        ("bytes outside the readable folder / of payloads",
         f"{size / 2**30:.2f} GiB / {payload_bytes / 2**30:.2f} GiB (databases show their -wal merged)"),
    ]


# -- the report -----------------------------------------------------------------------


def spread(values: list[float], cpu: list[float]) -> str:
    cpu_cell = f"{statistics.median(cpu):>8.1f}s" if cpu else f"{'':>9}"
    return f"{statistics.median(values):>8.1f}s {min(values):>8.1f}s {max(values):>8.1f}s {cpu_cell}"


def print_table(figures: Figures, checks: list[tuple[str, str]], reproduce: str) -> None:
    wall = {key: statistics.median(values) for key, values in figures.wall.items()}
    cp, extract = wall["cp"], wall["extract"]
    ratio, first_ratio = extract / cp, statistics.median(figures.first_time()) / cp
    speedup, warm_speedup = extract / wall["extract-rerun"], extract / wall["extract-rerun-warm"]
    lines = [
        ("cp -r SOURCE (cold)", "cp", ""),
        ("index build, fresh index folder (cold)", "index", "once per backup"),
        ("extract (cold, index built)", "extract",
         f"{ratio:.2f}x cp -r, target <= {COPY_TARGET}x: {'met' if ratio <= COPY_TARGET else 'NOT met'}"),
        ("first-time total: index + extract", "", f"{first_ratio:.2f}x cp -r"),
        ("extract rerun, nothing to copy (cold)", "extract-rerun",
         f"{speedup:.1f}x faster, target >= {RERUN_TARGET}x: {'met' if speedup >= RERUN_TARGET else 'NOT met'}"),
        ("extract rerun, nothing to copy (warm)", "extract-rerun-warm", f"{warm_speedup:.1f}x faster"),
    ]
    width = max(len(label) for label in [*(line[0] for line in lines), *(check[0] for check in checks)]) + 2
    print()
    print(f"{'':<{width}}{'median':>9} {'min':>9} {'max':>9} {'CPU':>9}  runs  verdict")
    print("-" * (width + 80))
    for label, key, verdict in lines:
        values = figures.wall[key] if key else figures.first_time()
        print(f"{label:<{width}}{spread(values, figures.cpu[key] if key else [])}  {len(values):>4}  {verdict}")
    for label, verdict in checks:
        print(f"{label:<{width}}{verdict}")
    print("CPU = user + system seconds of the command (median). "
          "Cold = page cache, dentries and inodes dropped (sync; echo 3 > /proc/sys/vm/drop_caches) just before.")
    print(f"Reproduce: {reproduce}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help=f"the backup folder to extract (default {DEFAULT_SOURCE} if present)")
    parser.add_argument("--files", type=int, default=300_000, help="payloads of the backup built when there is none")
    parser.add_argument("--workdir", type=Path, help="where that backup is built and kept for reuse")
    parser.add_argument("--scratch", type=Path, default=DEFAULT_SCRATCH, help="copies and index, on the source's disk")
    parser.add_argument("--runs", type=int, default=3, help="runs of every step at most")
    parser.add_argument("--budget", type=float, default=840, help="seconds after which no further run starts")
    args = parser.parse_args()
    reproduce = shlex.join([sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]])
    started = time.perf_counter()
    if not drop_caches():
        print("warning: cannot drop the kernel caches (needs root on Linux): 'cold' figures are warm", flush=True)
    with the_source(args) as source, scratch_folder(args.scratch.absolute(), source) as scratch:
        before = fingerprint(source)
        payloads = payload_paths(source)
        row("payloads in the source", f"{len(payloads):,} ({len(before):,} entries)")
        figures = Figures()
        runs = room_for_runs(scratch, sum(os.lstat(path).st_size for path in payloads), args.runs)
        for number in range(1, runs + 1):
            run_started = time.perf_counter()
            dest = one_run(number, source, scratch, figures)
            if number == 1:
                checks = check_counts(dest, payloads)
            spent = time.perf_counter() - run_started
            if time.perf_counter() - started + 1.1 * spent > args.budget:
                if number < runs:
                    row("runs", f"{number} of {runs}: another would pass the budget of {args.budget:.0f} s")
                break
        after = fingerprint(source)
        changed = sum(before.get(k) != after.get(k) for k in before.keys() | after.keys())
        checks.append(("source unchanged (entries, modes, sizes, mtimes)",
                       "yes" if not changed else f"NO: {changed:,} entries differ"))
    print_table(figures, checks, reproduce)
    row("whole benchmark", f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
