"""The readable folder on a large sms.db; prints figures, asserts nothing.

Builds a backup whose index is gone, holding an iOS 17 ``sms.db`` of 100,000 messages in
200 conversations (the largest 20,000 messages) and an address book, mounts it, and
measures what a person waits for:

* the first listing of ``0 Your data/Messages`` after the mount is ready (it waits for the
  renderers to plan the folder), and a second one;
* opening and reading the largest conversation, HTML and text, first time (rendered, while
  the background measures) and again (kept);
* ``ls -l`` of that folder: every file's size, measured in the background or, until then,
  by rendering the file;
* the time until the background completion has measured every rendered file;
* the peak RSS of the filesystem process.

Caches are dropped before the mount when the machine allows it (root on Linux).
Usage: python bench/readable_bench.py [--messages N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import working_folder  # noqa: E402
from mount_bench import drop_caches, filesystem_pid, peak_rss_mib, row  # noqa: E402
from scale_bench import wait_completed  # noqa: E402

from backupfs.demo import samples  # noqa: E402
from backupfs.demo.readable_messages import big_sms_db  # noqa: E402
from backupfs.demo.writer import PayloadSpec, default_plists, write_backup  # noqa: E402
from backupfs.readable.base import READABLE_FOLDER  # noqa: E402

BACKUPFS = [sys.executable, "-m", "backupfs"]
LARGEST = "Emma Laurent"  # the first chat of big_sms_db, named from the address book


def build(work: Path, messages: int) -> Path:
    source = work / "backup"
    if not source.exists():
        specs = [PayloadSpec("HomeDomain", "Library/SMS/sms.db", big_sms_db(messages)),
                 PayloadSpec("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb", samples.address_book())]
        info, manifest, status = default_plists()
        write_backup(source, specs, index="none", info=info, manifest_plist=manifest, status=status)
    return source


def clock(work: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()  # type: ignore[operator]
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, help="keep the built backup here for another run")
    args = parser.parse_args()
    with working_folder(args.workdir, "backupfs-readable-", "/var/tmp") as work:
        start = time.perf_counter()
        source = build(work, args.messages)
        row("backup built (sms.db of messages)", f"{args.messages:,} in {time.perf_counter() - start:.1f} s")
        mnt, index_dir = work / "mnt", work / "index"
        mnt.mkdir(exist_ok=True)
        subprocess.run([*BACKUPFS, "unmount", mnt], capture_output=True)
        subprocess.run(["rm", "-rf", index_dir], check=True)
        cold = drop_caches()
        seconds, _ = clock(lambda: subprocess.run([*BACKUPFS, "mount", source, mnt, "--index-dir", index_dir],
                                                  check=True, capture_output=True))
        row(f"backupfs mount ready ({'cold' if cold else 'warm'} caches, index built)", f"{seconds:.2f} s")
        messages = mnt / READABLE_FOLDER / "Messages"
        try:
            seconds, names = clock(lambda: os.listdir(messages))
            row("first listing of Messages/ (waits for planning)", f"{seconds:.2f} s, {len(names)} files")
            seconds, _ = clock(lambda: os.listdir(messages))
            row("second listing of Messages/", f"{seconds * 1000:.1f} ms")
            for form in ("html", "txt"):
                page = messages / f"{LARGEST}.{form}"
                seconds, data = clock(page.read_bytes)
                row(f"open + read the largest conversation ({form}), first", f"{seconds:.2f} s, {len(data):,} bytes")
                seconds, _ = clock(page.read_bytes)
                row(f"open + read the largest conversation ({form}), again", f"{seconds * 1000:.1f} ms")
            seconds, _ = clock(lambda: subprocess.run(["ls", "-l", messages], check=True, capture_output=True))
            row("ls -l Messages/ (every size), while the background measures", f"{seconds:.2f} s")
            row("background completion done after the above", f"{wait_completed(index_dir):.1f} s more")
            seconds, _ = clock(lambda: subprocess.run(["ls", "-l", messages], check=True, capture_output=True))
            row("ls -l Messages/ (sizes from the index)", f"{seconds * 1000:.0f} ms")
            row("peak RSS of the filesystem process", peak_rss_mib(filesystem_pid(mnt)))
        finally:
            subprocess.run([*BACKUPFS, "unmount", mnt], check=True, capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
