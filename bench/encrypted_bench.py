"""Reading an encrypted backup through the mount against the same backup unencrypted; prints figures.

Issue 14 asks that reads of a 1 GiB file of an encrypted backup run at least half as fast
as the same read of the unencrypted backup, cold and warm. This builds (or reuses, with
``--workdir``) two backups of the same files, one 1 GiB file of incompressible bytes and a
few small ones: ``plain/`` written unencrypted and ``encrypted/`` locked by a password
(AES-256-CBC payloads, real keybag). The 1 GiB payloads are streamed to disk in chunks,
never held in memory. Both are mounted with the CLI (index and caches in the work folder),
then, over ``--runs`` runs, each mount gives:

* a sequential read of the 1 GiB file, cold: unmounted, kernel caches dropped, mounted
  again (so neither the page cache nor FUSE's kept pages help);
* the same read once more right after, warm (FUSE keeps the pages: ``keep_cache``);
* ``--random-reads`` preads of 4 KiB at random offsets, cold, the latency of each;
* the peak RSS of the filesystem process.

For reference, the unencrypted payload read directly from the source (cold and warm), and
the decryption alone in this process: ``DecryptedReader`` over the ciphertext file in
128 KiB reads (a FUSE read's size) and the bare AES-CBC over the same bytes. When a target
is missed, a cProfile of that in-process read says where the time goes.

Kernel caches are dropped when the machine allows it (root on Linux); otherwise the "cold"
figures are not cold, and say so. Prints figures and whether the targets are met, asserts
nothing.
Usage: python bench/encrypted_bench.py [--size-mib N] [--runs N] [--random-reads N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import working_folder
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from mount_bench import drop_caches, filesystem_pid, row

from backupfs.demo import samples
from backupfs.demo.encrypted import write_encrypted_backup
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup
from backupfs.source.crypto import DecryptedReader
from backupfs.source.manifest.records import file_id
from backupfs.source.safe_open import SourceFile

BACKUPFS = [sys.executable, "-m", "backupfs"]
PASSWORD = "bench password"
BIG_DOMAIN, BIG_PATH = "CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.MOV"
SMALL_PATHS = [("HomeDomain", "Library/Preferences/com.apple.springboard.plist"),
               ("HomeDomain", "Library/Notes/notes.txt"),
               ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.JPG"),
               ("AppDomain-com.example.app", "Documents/store.json")]
MIB = 1 << 20
WRITE_CHUNK = 8 * MIB  # the 1 GiB file is generated, encrypted and written this much at a time
READ_CHUNK = MIB  # sequential reads through the mounts and of the source
FUSE_READ = 128 * 1024  # the in-process reference reads as much as one FUSE read asks for
PAGE = 4096
NOATIME = getattr(os, "O_NOATIME", 0)
TARGET = 0.5  # issue 14: encrypted >= 0.5x the unencrypted mount's rate, cold and warm
KINDS = ("plain", "encrypted")


# -- the backups ----------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """Both backups of one work folder and what the benchmark needs to know about them."""

    work: Path
    size: int
    file_key: bytes  # the AES key of the encrypted 1 GiB payload, for the in-process reference

    def source(self, kind: str) -> Path:
        return self.work / kind

    def payload(self, kind: str) -> Path:
        fid = file_id(BIG_DOMAIN, BIG_PATH)
        return self.source(kind) / fid[:2] / fid


def plaintext_chunks(size: int, seed: int) -> Iterator[bytes]:
    """The big file's bytes, incompressible and the same for a seed, a chunk at a time."""
    rng = random.Random(seed)
    left = size
    while left:
        chunk = rng.randbytes(min(left, WRITE_CHUNK))
        left -= len(chunk)
        yield chunk


def build(work: Path, size: int, seed: int) -> Fixture:
    """Both backups, reused when the work folder holds them for the same size and seed."""
    marker = work / "built.json"
    wanted = {"size": size, "seed": seed}
    if marker.exists():
        built = json.loads(marker.read_text())
        if {k: built.get(k) for k in wanted} == wanted:
            row("backups reused", f"{work} (big file {size / MIB:,.0f} MiB)")
            return Fixture(work, size, bytes.fromhex(built["file_key"]))
    subprocess.run(["rm", "-rf", *(str(work / name) for name in (*KINDS, "cache", "built.json"))], check=True)
    start = time.perf_counter()
    rng = random.Random(seed)
    small = [PayloadSpec(domain, path, samples.content_for_path(path, rng)) for domain, path in SMALL_PATHS]
    big = PayloadSpec(BIG_DOMAIN, BIG_PATH, b"", manifest_size=size)  # its bytes are streamed in below
    info, manifest, status = default_plists(device_name="Bench iPhone")
    write_backup(work / "plain", [big, *small], info=info, manifest_plist=manifest, status=status)
    keys = write_encrypted_backup(work / "encrypted", [big, *small], PASSWORD, seed=seed)
    fixture = Fixture(work, size, keys.file_keys[file_id(BIG_DOMAIN, BIG_PATH)])
    stream_big_file(fixture, seed, big.mtime)
    marker.write_text(json.dumps({**wanted, "file_key": fixture.file_key.hex()}))
    row("backups written", f"plain/ and encrypted/, big file {size / MIB:,.0f} MiB, "
        f"in {time.perf_counter() - start:.1f} s")
    return fixture


def stream_big_file(fixture: Fixture, seed: int, mtime: int) -> None:
    """Write the big payload of both backups: the plaintext, and its AES-256-CBC (zero IV, PKCS7)."""
    encryptor = Cipher(algorithms.AES(fixture.file_key), modes.CBC(bytes(16))).encryptor()
    padder = padding.PKCS7(128).padder()
    with open(fixture.payload("plain"), "wb") as plain, open(fixture.payload("encrypted"), "wb") as cipher:
        for chunk in plaintext_chunks(fixture.size, seed):
            plain.write(chunk)
            cipher.write(encryptor.update(padder.update(chunk)))
        cipher.write(encryptor.update(padder.finalize()) + encryptor.finalize())
    for kind in KINDS:
        os.utime(fixture.payload(kind), (mtime, mtime))


# -- mounting -------------------------------------------------------------------------


class Mounts:
    """Mounts and unmounts the two backups with the CLI, the index kept in the work folder."""

    def __init__(self, fixture: Fixture) -> None:
        self.fixture = fixture
        self.env = {**os.environ, "XDG_CACHE_HOME": str(fixture.work / "cache"), "BACKUPFS_PASSWORD": PASSWORD}
        self.peak_rss: dict[str, int] = {kind: 0 for kind in KINDS}

    def point(self, kind: str) -> Path:
        return self.fixture.work / f"mnt-{kind}"

    def big_file(self, kind: str) -> str:
        return str(self.point(kind) / BIG_DOMAIN / BIG_PATH)

    def mount(self, kind: str) -> None:
        point = self.point(kind)
        point.mkdir(exist_ok=True)
        subprocess.run([*BACKUPFS, "unmount", str(point)], check=False, capture_output=True, env=self.env)  # a leftover
        subprocess.run([*BACKUPFS, "mount", str(self.fixture.source(kind)), str(point)],
                       check=True, capture_output=True, env=self.env)

    def unmount(self, kind: str, check: bool = True) -> None:
        """Unmount, noting first the peak RSS the filesystem process reached."""
        self.peak_rss[kind] = max(self.peak_rss[kind], vm_hwm_kib(filesystem_pid(self.point(kind))))
        subprocess.run([*BACKUPFS, "unmount", str(self.point(kind))], check=check, capture_output=True, env=self.env)

    def first_mount(self, kind: str) -> float:
        """Mount once to build the index and let the background completion finish; seconds it took."""
        start = time.perf_counter()
        self.mount(kind)
        wait_for_completion(self.point(kind))
        seconds = time.perf_counter() - start
        size = os.stat(self.big_file(kind)).st_size
        if size != self.fixture.size:
            raise SystemExit(f"the {kind} mount shows the big file as {size:,} bytes, not {self.fixture.size:,}")
        self.unmount(kind)
        return seconds

    def fresh(self, kind: str) -> bool:
        """Unmount, drop the kernel caches, mount again: nothing of the file is cached. True when dropped."""
        self.unmount(kind)
        dropped = drop_caches()
        self.mount(kind)
        return dropped


def vm_hwm_kib(pid: int | None) -> int:
    """Peak RSS of a process (VmHWM) in KiB, 0 when unknown: mount_bench.peak_rss_mib's figure as a
    number, so the peak over every remount can be kept."""
    if pid is None:
        return 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def wait_for_completion(point: Path) -> None:
    """Until the mount's background completion (a child process naming the mountpoint) has been gone 1 s."""
    marker, mount_arg = b"backupfs.index.complete", os.fsencode(point)
    last_busy = time.perf_counter()
    while time.perf_counter() - last_busy < 1.0:
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
            except OSError:
                continue
            if marker in cmdline and mount_arg in cmdline:
                last_busy = time.perf_counter()
                break
        time.sleep(0.1)


# -- measuring ------------------------------------------------------------------------


def read_through(path: str, flags: int = 0) -> float:
    """Seconds to read the whole file sequentially in 1 MiB reads."""
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        while os.read(fd, READ_CHUNK):
            pass
    finally:
        os.close(fd)
    return time.perf_counter() - start


def random_reads(path: str, offsets: list[int], flags: int = 0) -> list[float]:
    """Seconds of each 4 KiB pread at ``offsets``, in order, on one open file."""
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        latencies = []
        for offset in offsets:
            start = time.perf_counter()
            if len(os.pread(fd, PAGE, offset)) != PAGE:
                raise SystemExit(f"short 4 KiB read at {offset:,} of {path}")
            latencies.append(time.perf_counter() - start)
        return latencies
    finally:
        os.close(fd)


@dataclass
class Figures:
    """Every measurement, by (what, where), one value per run."""

    runs: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # every random read, all runs

    def add(self, what: str, where: str, value: float) -> None:
        self.runs.setdefault((what, where), []).append(value)

    def get(self, what: str, where: str) -> list[float]:
        return self.runs.get((what, where), [])


def measure(fixture: Fixture, mounts: Mounts, runs: int, offsets: list[int]) -> tuple[Figures, bool]:
    """Every run measures both mounts in turn (so drift hits both), then the source directly."""
    figures = Figures()
    cold = True
    for run in range(1, runs + 1):
        for kind in KINDS:
            cold &= mounts.fresh(kind)
            figures.add("seq cold", kind, fixture.size / MIB / read_through(mounts.big_file(kind)))
            figures.add("seq warm", kind, fixture.size / MIB / read_through(mounts.big_file(kind)))
            cold &= mounts.fresh(kind)
            latencies = random_reads(mounts.big_file(kind), offsets)
            figures.add("random", kind, statistics.mean(latencies) * 1e6)
            figures.latencies.setdefault(kind, []).extend(latencies)
        direct = str(fixture.payload("plain"))
        cold &= drop_caches()
        figures.add("seq cold", "direct", fixture.size / MIB / read_through(direct, NOATIME))
        figures.add("seq warm", "direct", fixture.size / MIB / read_through(direct, NOATIME))
        cold &= drop_caches()
        latencies = random_reads(direct, offsets, NOATIME)
        figures.add("random", "direct", statistics.mean(latencies) * 1e6)
        figures.latencies.setdefault("direct", []).extend(latencies)
        print(f"  run {run}/{runs}: " + ", ".join(
            f"{kind} {figures.get('seq cold', kind)[-1]:,.0f}/{figures.get('seq warm', kind)[-1]:,.0f} MiB/s"
            for kind in (*KINDS, "direct")) + " (cold/warm)", flush=True)
    return figures, cold


def in_process(fixture: Fixture, runs: int) -> dict[str, list[float]]:
    """MiB/s of the decryption alone, the ciphertext in the page cache: DecryptedReader, bare AES, pread."""
    path = str(fixture.payload("encrypted"))
    read_through(path, NOATIME)  # into the page cache
    source = SourceFile(path)
    reader = DecryptedReader(source, fixture.file_key, fixture.size)

    def through(read: Callable[[int, int], bytes]) -> float:
        start = time.perf_counter()
        for offset in range(0, fixture.size, FUSE_READ):
            read(FUSE_READ, offset)
        return fixture.size / MIB / (time.perf_counter() - start)

    def bare_aes() -> float:
        decryptor = Cipher(algorithms.AES(fixture.file_key), modes.CBC(bytes(16))).decryptor()
        start = time.perf_counter()
        for offset in range(0, fixture.size, FUSE_READ):
            decryptor.update(os.pread(source.fd, FUSE_READ, offset))
        return fixture.size / MIB / (time.perf_counter() - start)

    return {
        "DecryptedReader.read, 128 KiB reads": [through(reader.read) for _ in range(runs)],
        "AES-CBC alone (one decryptor), 128 KiB reads": [bare_aes() for _ in range(runs)],
        "pread of the ciphertext alone, 128 KiB reads": [through(source.read) for _ in range(runs)],
    }


def profile_decryption(fixture: Fixture) -> str:
    """cProfile of DecryptedReader reading the whole file in 128 KiB reads: the top of the table."""
    reader = DecryptedReader(SourceFile(str(fixture.payload("encrypted"))), fixture.file_key, fixture.size)
    profiler = cProfile.Profile()
    profiler.enable()
    for offset in range(0, fixture.size, FUSE_READ):
        reader.read(FUSE_READ, offset)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


# -- the report -----------------------------------------------------------------------


def spread(values: list[float], digits: int = 0) -> str:
    """median (min-max) of the runs."""
    if not values:
        return "n/a"
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def ratio(encrypted: list[float], plain: list[float]) -> float:
    """encrypted / unencrypted, each the median of its runs."""
    return statistics.median(encrypted) / statistics.median(plain)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(figures: Figures, reference: dict[str, list[float]], mounts: Mounts, runs: int, cold: bool) -> list[str]:
    """Print the table; return the targets missed."""
    size = mounts.fixture.size
    big = "1 GiB" if size == 1 << 30 else f"{size / MIB:,.0f} MiB"
    cold_note = "" if cold else " (caches NOT dropped: not root?)"
    header = f"{'measure (median (min-max) of ' + str(runs) + ' runs)':<46} {'unencrypted':>22} {'encrypted':>22} " \
             f"{'enc/unenc':>9} {'source, direct':>22}"
    print("\n" + header + "\n" + "-" * len(header))
    labels = {"seq cold": f"read {big} sequentially, cold, MiB/s{cold_note}",
              "seq warm": f"read {big} sequentially, warm, MiB/s",
              "random": f"random 4 KiB pread, cold, us/read (mean){cold_note}"}
    for what, label in labels.items():
        digits = 1 if what == "random" else 0
        print(f"{label:<46} {spread(figures.get(what, 'plain'), digits):>22} "
              f"{spread(figures.get(what, 'encrypted'), digits):>22} "
              f"{ratio(figures.get(what, 'encrypted'), figures.get(what, 'plain')):>8.2f}x "
              f"{spread(figures.get(what, 'direct'), digits):>22}")
    for q in (0.5, 0.99):
        cells = [f"{quantile(figures.latencies[k], q) * 1e6:,.1f}" for k in (*KINDS, "direct")]
        label = f"random 4 KiB pread, p{q * 100:.0f} of all runs, us"
        print(f"{label:<46} {cells[0]:>22} {cells[1]:>22} {'':>9} {cells[2]:>22}")
    rss = [f"{mounts.peak_rss[kind] / 1024:,.0f} MiB" if mounts.peak_rss[kind] else "n/a" for kind in KINDS]
    print(f"{'peak RSS of the filesystem process (VmHWM)':<46} {rss[0]:>22} {rss[1]:>22}")
    print("\nin-process reference (ciphertext in the page cache), MiB/s:")
    for label, values in reference.items():
        print(f"  {label:<52} {spread(values):>22}")
    missed = []
    print("\nissue 14 targets (encrypted >= 0.5x the unencrypted mount's rate):")
    for what in ("seq cold", "seq warm"):
        value = ratio(figures.get(what, "encrypted"), figures.get(what, "plain"))
        met = value >= TARGET
        print(f"  {labels[what].split(',')[1].strip():<5} {value:.2f}x  {'MET' if met else 'NOT MET'}")
        if not met:
            missed.append(what)
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the big file (default 1024: 1 GiB)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--random-reads", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--workdir", type=Path, help="keep the backups here for another run (default: a "
                        "temporary folder under /var/tmp, removed at the end)")
    args = parser.parse_args()
    print("reproduce with:", shlex.join([sys.executable, *sys.argv]), flush=True)
    with working_folder(args.workdir, "backupfs-encrypted-", "/var/tmp") as work:
        fixture = build(work, args.size_mib * MIB, args.seed)
        mounts = Mounts(fixture)
        for kind in KINDS:
            row(f"first mount of {kind}/ (index built, completion done)", f"{mounts.first_mount(kind):.2f} s")
            mounts.mount(kind)
        rng = random.Random(args.seed)
        offsets = [rng.randrange(fixture.size // PAGE) * PAGE for _ in range(args.random_reads)]
        try:
            figures, cold = measure(fixture, mounts, args.runs, offsets)
        finally:
            for kind in KINDS:
                mounts.unmount(kind, check=False)
        missed = report(figures, in_process(fixture, args.runs), mounts, args.runs, cold)
        if missed:
            print("\nwhere the decryption's time goes (cProfile, DecryptedReader over the whole file, 128 KiB reads):")
            print(profile_decryption(fixture))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
