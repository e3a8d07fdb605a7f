"""Typing: what each unnamed payload is, from its first bytes, so it can be shown in other-data/<type>/.

The sniffing itself is :mod:`backupfs.sniff` (pure functions over bytes); this module
reads the heads, in parallel threads and, for many files, in worker processes too.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import stat
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from itertools import repeat
from pathlib import Path

from backupfs.sniff import HEAD_SIZE, UNRECOGNISED, FileType, sniff
from backupfs.source.payloads import Payload
from backupfs.source.safe_open import SourceFolders, read_head

log = logging.getLogger(__name__)

ENCRYPTED = FileType("encrypted", None)
# Reading heads waits on the disk, and threads of one process also wait for its interpreter
# lock between reads: 40,000 cold heads took 11.8 s with 2 threads, 4.2 s with 8 (16 or 32:
# no better) and 2.6 s with 4 processes of 8 threads. Processes pay off on large backups only.
READERS = 8
CHUNK = 4096
"""Payloads typed, and index rows written, at a time."""
_TYPING_PROCESSES = 4
_TYPING_IN_PROCESSES = 20_000
_BATCH = 128


def type_payloads(root: Path, encrypted: bool, payloads: Iterable[Payload]) -> dict[str, tuple[FileType, Payload]]:
    """Sniff the head of each unnamed payload, and stat it on the way (it is open anyway).

    Reads run in parallel to overlap disk latency. Returns each file id's type and its
    payload with the real size and mtime filled in.
    """
    todo = list({p.file_id: p for p in payloads}.values())
    if encrypted:
        return {p.file_id: (ENCRYPTED, p) for p in todo}
    folders = SourceFolders(root)

    def one(payload: Payload) -> tuple[str, tuple[FileType, Payload]]:
        if not stat.S_ISREG(payload.st_mode):
            return payload.file_id, (UNRECOGNISED, payload)
        try:
            head, st = read_head(payload.relpath, HEAD_SIZE, folders)
        except OSError as exc:
            log.info("cannot read %s to type it: %s", payload.relpath, exc)
            return payload.file_id, (UNRECOGNISED, payload)
        seen = Payload(payload.file_id, payload.relpath, st.st_size, st.st_mtime_ns, st.st_mode)
        return payload.file_id, (sniff(head, st.st_size), seen)

    def batch(payloads: list[Payload]) -> list[tuple[str, tuple[FileType, Payload]]]:
        return [one(payload) for payload in payloads]

    # Batches, not one task per file: a thread-pool task costs more than a cached read.
    batches = [todo[start : start + _BATCH] for start in range(0, len(todo), _BATCH)]
    with ThreadPoolExecutor(READERS) as pool:
        return dict(pair for results in pool.map(batch, batches) for pair in results)


def typed_chunks(
    root: Path, encrypted: bool, payloads: list[Payload]
) -> Iterator[tuple[list[Payload], dict[str, tuple[FileType, Payload]]]]:
    """``payloads`` a chunk of about :data:`CHUNK` at a time, each with what :func:`type_payloads` says of it.

    Many chunks are typed by a few worker processes (started afresh, not forked: the
    caller may run threads); a few, here. Memory does not grow with the backup.
    """
    chunks = list(_chunks(payloads, CHUNK))
    if len(payloads) < _TYPING_IN_PROCESSES:
        for chunk in chunks:
            yield chunk, type_payloads(root, encrypted, chunk)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(_TYPING_PROCESSES, mp_context=context, initializer=ignore_interrupts)
    try:
        yield from zip(chunks, pool.map(type_payloads, repeat(root), repeat(encrypted), chunks))
    except BaseException:  # Ctrl-C, or the caller stopped early: what is not typed yet is not wanted
        pool.shutdown(cancel_futures=True)  # the workers end once their chunk is done (about a second)
        raise
    pool.shutdown()


def ignore_interrupts() -> None:
    """In a worker process: Ctrl-C is for the process that started it, which ends the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chunks(payloads: list[Payload], size: int) -> Iterator[list[Payload]]:
    """Runs of about ``size`` payloads; copies of a payload never straddle two."""
    chunk: list[Payload] = []
    for payload in payloads:
        if len(chunk) >= size and payload.file_id != chunk[-1].file_id:
            yield chunk
            chunk = []
        chunk.append(payload)
    if chunk:
        yield chunk
