"""Completing an index: what a build leaves for later, done later, also while the mount serves.

A first mount is ready once names are known. Two steps complete the index after it:
"typing" sorts the unnamed payloads by type into ``other-data/`` (:func:`type_unnamed`),
and "attributes" writes the metadata, sizes and merged-database sizes the build left to be
read lazily (:func:`fill_attributes`). Commands that report on every file run both at once
(:func:`complete_index`); a mount runs them in a child process (:class:`Completion`), as
pure Python work over every file would otherwise hold the filesystem's interpreter lock
for seconds, and every FUSE call would wait behind it.

``python -m backupfs.index.complete STEP INDEX MOUNTPOINT [--progress]`` is that child. It
ends when the filesystem stops it or is gone (unmounted, or killed): a completion left
running would go on reading the backup after the user was told it was done with, and
would keep a disk they want to eject busy. What it had not finished is done again by the
next mount. Both ends come down to one signal: the child's stdin is a pipe from the
filesystem, which reaches end-of-file when the filesystem closes it or exits, however.

While it works, the child says how far it is in a status file beside the index
(:func:`running_completion`), which ``backupfs info`` reads; with ``--progress`` (``mount
-f`` on a terminal) it also draws its bars on the terminal.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from backupfs.errors import BackupfsError
from backupfs.index.manifest_rows import row_attributes
from backupfs.index.paths import OTHER_DATA, unnamed_nodes
from backupfs.index.payload_files import PayloadFiles
from backupfs.index.readable import (
    IndexBackup,
    copies_folder,
    local_zone,
    measured_chunks,
    readable_nodes,
)
from backupfs.index.schema import Node
from backupfs.index.sorting import CHUNK, READERS, typed_chunks
from backupfs.index.stats import PhaseClock
from backupfs.index.store import MEASURED_IN, Index, find_named
from backupfs.index.tree import TreeWriter
from backupfs.index.writing import WRITING, new_index, set_meta, write_errors
from backupfs.progress import Progress, Status, StatusFile, close_all, read_status
from backupfs.readable.base import READABLE_FOLDER
from backupfs.readable.registry import RENDERERS
from backupfs.source.manifest.records import Kind
from backupfs.source.payloads import UNSTATED, Payload, list_payloads, shown_size
from backupfs.source.sqlite import in_memory, readonly_uri, remove_database
from backupfs.source.sqlite_view import merged_view

TYPING = "Sorting unnamed files by type"
_STOP_SECONDS = 5.0


def complete_index(path: Path, show_progress: bool | None = None) -> None:
    """Leave nothing pending or lazily read in the index at ``path``.

    An index kept in memory serves this process only, which may never list the readable
    folder: its sizes are left to be measured on first use rather than by rendering everything.
    """
    for step in STEP_ORDER:
        if not (step == "measuring" and in_memory(path)):
            STEPS[step](path, show_progress)


def completion_status_path(index_path: Path) -> Path:
    """Where the background completion of an index says how far it is."""
    return index_path.with_name(index_path.name + ".progress")


def running_completion(index_path: Path) -> Status | None:
    """How far another process (a mount's background completion) is with this index, if one is at it."""
    return None if in_memory(index_path) else read_status(completion_status_path(index_path))


def unnamed_payloads(index: Index) -> list[tuple[int, list[Payload]]]:
    """Per backup whose ``other-data`` is pending, its unnamed payloads, copies side by side.

    Listed again rather than kept in the index: listing costs about a second for 300,000
    payloads, while writing them all down would delay the mount by longer.
    """
    found = []
    for number, (root, prefix) in enumerate(zip(index.roots, index.prefixes)):
        if "/".join((*prefix, OTHER_DATA)) not in index.pending_dirs:
            continue
        named = index.file_ids(number)
        unnamed = [p for p in list_payloads(root) if p.file_id not in named]
        unnamed.sort(key=lambda p: p.file_id)  # stable: copies keep their listing order
        found.append((number, unnamed))
    return found


def type_unnamed(path: Path, show_progress: bool | None = None, status: StatusFile | None = None) -> None:
    """Type the unnamed payloads of the index at ``path`` and place them under ``other-data``.

    Runs after the mount is up when mounting (the named tree does not depend on it), or
    before returning for commands that report on every file. Payloads are typed and
    written a chunk at a time, so memory does not grow with the size of the backup.
    """
    index = Index(path)
    try:
        roots, prefixes, stats = index.roots, index.prefixes, index.backup_stats
        counts: list[Counter[str]] = [Counter() for _ in roots]
        clock = PhaseClock()
        todo = unnamed_payloads(index)
        if not todo:
            return

        def nodes(bar: Progress) -> Iterator[Node]:
            placed_folders: set[str] = set()
            for number, unnamed in todo:
                for chunk, typed in typed_chunks(roots[number], bool(stats[number].encrypted), unnamed):
                    types = {fid: ftype for fid, (ftype, _) in typed.items()}
                    seen = [typed[p.file_id][1] if typed[p.file_id][1].relpath == p.relpath else p for p in chunk]
                    counts[number].update(types[p.file_id].folder for p in chunk)
                    for node in unnamed_nodes(number, prefixes[number], seen, types):
                        if node.kind is Kind.DIR:
                            if node.path in placed_folders:
                                continue
                            placed_folders.add(node.path)
                        yield node
                    bar.advance(len(chunk))

        def meta() -> dict[str, object]:
            seconds = clock.lap("type")
            for number, backup_stats in enumerate(stats):
                if counts[number]:
                    backup_stats.unnamed = dict(counts[number])
                    backup_stats.unnamed_to_type = 0
                    backup_stats.seconds = backup_stats.seconds | {"type": seconds}
            return {"backups": [backup_stats.as_meta() for backup_stats in stats]}

        # A new file from a copy: readers of the old one keep reading it, and Index.refresh
        # moves them over.
        total = sum(len(unnamed) for _, unnamed in todo)
        with Progress(TYPING, total, show=show_progress, status=status) as bar, write_errors(path), \
                new_index(path, start_from=path) as conn:
            TreeWriter(conn).add(nodes(bar))
            typed = {"/".join((*prefixes[number], OTHER_DATA)) for number, _ in todo}
            set_meta(conn, {**meta(), "pending_dirs": [d for d in index.pending_dirs if d not in typed]})
            index.close()  # before the file is replaced: Windows replaces no open file (see new_index)
    finally:
        index.close()


def fill_attributes(path: Path, show_progress: bool | None = None, status: StatusFile | None = None) -> None:
    """Write into the index what a fast build left to be read later: metadata and sizes.

    Rows copied from an intact Manifest.db keep their metadata in its private copy, and
    listing payloads does not stat them. Both are filled here, once, so listings can
    carry every attribute; until then the filesystem reads them one by one, the same way.
    """
    index = Index(path)
    try:
        _fill_attributes(index, show_progress, status)
    finally:
        index.close()


def _fill_attributes(index: Index, show_progress: bool | None, status: StatusFile | None) -> None:
    path, manifests, files = index.path, index.manifests, PayloadFiles(index)
    if not index.unread_count():
        return

    def phase(label: str, total: int) -> Progress:
        return Progress(label, total, show=show_progress, status=status)

    with write_errors(path), new_index(path, start_from=path) as conn:
        # Values are gathered in side tables and applied by one UPDATE each: SQLite's
        # own loop costs a fraction of one Python-bound UPDATE per row.
        conn.execute(
            "CREATE TEMP TABLE filled(depth INTEGER, path BLOB, mode INTEGER, mtime_ns INTEGER, manifest_size INTEGER)"
        )
        rows = conn.execute("SELECT count(*) FROM nodes WHERE manifest_row IS NOT NULL").fetchone()[0]
        with phase("Reading metadata from Manifest.db", rows) as bar:
            for number, manifest in enumerate(manifests):
                if manifest is not None:
                    _fill_manifest_rows(conn, number, manifest, bar)
        conn.execute(
            "UPDATE nodes SET mode=f.mode, mtime_ns=f.mtime_ns, manifest_size=f.manifest_size, manifest_row=NULL "
            "FROM filled f WHERE nodes.depth=f.depth AND nodes.path=f.path"
        )
        conn.execute("UPDATE backups SET manifest=NULL")
        conn.execute("CREATE TEMP TABLE stated(depth INTEGER, path BLOB, size INTEGER, mtime_ns INTEGER)")
        _fill_payload_stats(conn, files, phase)
        conn.execute(
            "UPDATE nodes SET size=s.size, mtime_ns=s.mtime_ns FROM stated s WHERE nodes.depth=s.depth AND nodes.path=s.path"
        )
        _fill_view_sizes(conn, files, phase)
        index.close()  # before the file is replaced: Windows replaces no open file (see new_index)
    for manifest in manifests:
        if manifest is not None:
            remove_database(manifest)


def _fill_manifest_rows(conn: sqlite3.Connection, number: int, manifest: Path, bar: Progress) -> None:
    """Decode the metadata blob of each row placed from ``manifest`` into ``filled``."""
    conn.execute("ATTACH DATABASE ? AS manifest", (readonly_uri(manifest),))
    try:
        rows = conn.execute(
            "SELECT n.depth, n.path, n.kind, n.mtime_ns, f.file FROM nodes n JOIN manifest.Files f "
            "ON f.rowid = n.manifest_row WHERE n.backup=? AND n.manifest_row IS NOT NULL",
            (number,),
        )
        while batch := rows.fetchmany(CHUNK):
            filled = []
            for depth, node_path, kind, mtime_ns, blob in batch:
                mode, recorded_mtime, size = row_attributes(Kind.DIR if kind == Kind.DIR else Kind.FILE, blob)
                filled.append((depth, node_path, mode, mtime_ns if recorded_mtime == UNSTATED else recorded_mtime, size))
            conn.execute("SAVEPOINT filling")  # keeps the read cursor valid across inserts
            conn.executemany("INSERT INTO filled VALUES (?,?,?,?,?)", filled)
            conn.execute("RELEASE filling")
            bar.advance(len(batch))
        conn.commit()  # a database cannot be detached inside a transaction
    finally:
        conn.execute("DETACH DATABASE manifest")


def _fill_payload_stats(conn: sqlite3.Connection, files: PayloadFiles, phase: Callable[[str, int], Progress]) -> None:
    """Size and mtime of every file whose listing left them unknown, into ``stated``.

    Runs once the manifest's mtimes are in ``nodes``, so only what they leave unknown is read.

    ``lstat`` runs in a few threads, which overlap the disk's latency on a cold cache.
    """
    rows = conn.execute(
        "SELECT depth, path, backup, source, size, mtime_ns FROM nodes "
        "WHERE kind=1 AND source IS NOT NULL AND (size=? OR mtime_ns=?)",
        (UNSTATED, UNSTATED),
    ).fetchall()

    def stat_batch(batch: list[tuple]) -> list[tuple]:
        done = []
        for depth, node_path, backup, source, size, mtime_ns in batch:
            try:
                st = os.lstat(os.path.join(files.root_name(backup), source))
            except OSError:
                continue  # left unknown: the filesystem will try again, and say why
            shown = files.shown_size(backup, source, shown_size(st)) if size == UNSTATED else size
            done.append((depth, node_path, shown,
                         st.st_mtime_ns if mtime_ns == UNSTATED else mtime_ns))
        bar.advance(len(batch))
        return done

    batches = [rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)]
    with phase("Reading file sizes", len(rows)) as bar, ThreadPoolExecutor(READERS) as pool:
        # Written once every thread is done: an insert per row would wait for the
        # interpreter lock behind the stat threads at every step.
        stated = [row for done in pool.map(stat_batch, batches) for row in done]
    conn.executemany("INSERT INTO stated VALUES (?,?,?,?)", stated)


def _fill_view_sizes(conn: sqlite3.Connection, files: PayloadFiles, phase: Callable[[str, int], Progress]) -> None:
    """The size of each database shown merged with its ``-wal``: it means reading the whole ``-wal``.

    A database that cannot be read keeps the payload's size, as the filesystem shows it then.
    """
    rows = conn.execute(
        "SELECT depth, path, backup, source, wal_source, size FROM nodes WHERE wal_source IS NOT NULL AND view_size IS NULL"
    ).fetchall()
    sizes = []
    with phase("Merging databases with their -wal", len(rows)) as bar:
        for depth, node_path, backup, source, wal_source, size in rows:
            try:
                view = merged_view(functools.partial(files.open, backup), source, wal_source)
            except OSError:
                view = None
            sizes.append((size if view is None else view.size, depth, node_path))
            bar.advance()
    conn.executemany("UPDATE nodes SET view_size=? WHERE depth=? AND path=?", sizes)


def measure_rendered(path: Path, show_progress: bool | None = None, status: StatusFile | None = None) -> None:
    """Write the size of each file of the readable folder into the index: rendering it once is the only way to know.

    A step of its own, right after planning, so that a file manager's sizes come from the
    index seconds after the mount rather than once other-data is typed; until then the
    mount renders a file to tell its size. Many files are rendered by a few processes.
    """
    index = Index(path)
    try:
        todo = index.unmeasured(local_zone())
    finally:
        index.close()
    if not todo:
        return
    sizes: list[tuple[int, int, bytes]] = []
    with Progress("Measuring your data", len(todo), show=show_progress, status=status) as bar:
        for measured in measured_chunks(path, todo):
            sizes += measured
            bar.advance(len(measured))
    with write_errors(path), new_index(path, start_from=path) as conn:
        conn.executemany("UPDATE nodes SET size=? WHERE depth=? AND path=?", sizes)
        set_meta(conn, {MEASURED_IN: local_zone()})


def plan_readable(path: Path, show_progress: bool | None = None, status: StatusFile | None = None) -> None:
    """Fill each backup's pending readable folder from its named databases (see :mod:`backupfs.index.readable`)."""
    index = Index(path)
    try:
        folders = {"/".join((*prefix, READABLE_FOLDER)): number for number, prefix in enumerate(index.prefixes)}
        todo = [number for folder, number in folders.items() if folder in index.pending_dirs]
        if not todo:
            return
        stats, files = index.backup_stats, PayloadFiles(index)
        with Progress("Reading your data", len(todo) * len(RENDERERS), unit=None, show=show_progress,
                      status=status) as bar, write_errors(path), new_index(path, start_from=path) as conn:
            # Renderers find databases and files by name: planning here, and rendering in the mount.
            conn.execute("CREATE INDEX IF NOT EXISTS nodes_by_real_name ON nodes(real_name)")
            tree = TreeWriter(conn)
            for number in todo:
                home = "/".join((*index.prefixes[number], READABLE_FOLDER))
                backup = IndexBackup(
                    functools.partial(find_named, conn, number, outside=home), files, number,
                    index.prefixes[number], copies_folder(path, number),
                )
                nodes, stats[number].readable = readable_nodes(
                    backup, number, index.prefixes[number], bool(stats[number].encrypted) and not files.encrypted(number),
                    bar.advance,
                )
                tree.add(nodes)
            tree.finish()
            done = {folder for folder, number in folders.items() if number in todo}
            set_meta(conn, {"backups": [backup_stats.as_meta() for backup_stats in stats],
                            "pending_dirs": [d for d in index.pending_dirs if d not in done]})
            index.close()  # before the file is replaced: Windows replaces no open file (see new_index)
    finally:
        index.close()


# Your data first (quick, and what people came for), then other-data, then what can wait.
STEP_ORDER = ("readable", "measuring", "typing", "attributes")
STEPS: dict[str, Callable[..., None]] = {
    "readable": plan_readable, "measuring": measure_rendered, "typing": type_unnamed, "attributes": fill_attributes,
}


class Completion:
    """Runs the steps of an index's completion in a child process, one at a time, and can stop it."""

    def __init__(self, index_path: Path, mountpoint: Path, show_progress: bool = False) -> None:
        self.index_path = index_path
        self.mountpoint = mountpoint
        self.show_progress = show_progress
        self._child: subprocess.Popen[str] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def run(self, step: str) -> None:
        """Run ``step`` (one of :data:`STEP_ORDER`) in a child process and wait for it; one-line error on failure."""
        command = [sys.executable, "-m", "backupfs.index.complete", step, str(self.index_path), str(self.mountpoint)]
        if self.show_progress:
            command.append("--progress")
        # The child imports this very package, wherever it was imported from (an install, a checkout).
        package_parent = str(Path(__file__).resolve().parents[2])
        env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
        with self._lock:
            if self._stopped:
                return
            self._child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, errors="replace", env=env
            )
        assert self._child.stdout is not None
        said = self._child.stdout.read()  # the child writes nothing there but its one-line error
        if self._child.wait() != 0 and not self._stopped:
            lines = said.strip().splitlines()
            raise BackupfsError(lines[-1] if lines else f"completing the index ({step}) failed")

    def stop(self) -> None:
        """End the running step at once (its work is dropped) and run no other."""
        with self._lock:
            self._stopped = True
            child = self._child
        if child is None or child.poll() is not None:
            return
        assert child.stdin is not None
        child.stdin.close()  # end-of-file: the child ends itself, cleaning up after it
        try:
            child.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class InProcessCompletion:
    """Runs the steps of an index kept in memory in the filesystem's own process, which alone sees it.

    A step cannot be stopped halfway here: once stopped, no other starts, and the one
    running ends with the process.
    """

    def __init__(self, index_path: Path) -> None:
        self.index_path = index_path
        self._stopped = False

    def run(self, step: str) -> None:
        if not self._stopped:
            STEPS[step](self.index_path, show_progress=False)

    def stop(self) -> None:
        self._stopped = True


def _end_when_told(status: StatusFile) -> None:
    """Exit as soon as stdin reaches end-of-file: the filesystem stopped this process, or is gone.

    At once, from this thread: open bars are closed on a line of their own, worker processes
    killed, and the index being written is removed, not finished.
    """
    while os.read(sys.stdin.fileno(), 4096):  # not sys.stdin: its lock would hold up the interpreter's exit
        pass
    close_all()
    for worker in multiprocessing.active_children():  # typing's worker processes would linger
        worker.kill()
    for unfinished in list(WRITING):
        Path(unfinished).unlink(missing_ok=True)
    status.remove()
    os._exit(0)


def main(argv: list[str]) -> int:
    step, index_path, mountpoint, *flags = argv
    # Ctrl-C in the terminal of 'mount -f' is for the filesystem, which then stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # This process keeps stderr for its bars; the processes it starts (typing's workers, and
    # multiprocessing's resource tracker, which complains of the semaphores of killed workers)
    # write into nothing, not over the bars.
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    status = StatusFile(completion_status_path(Path(index_path)), mountpoint)
    threading.Thread(target=_end_when_told, args=(status,), daemon=True).start()
    try:
        STEPS[step](Path(index_path), show_progress="--progress" in flags, status=status)
    except BackupfsError as exc:
        print(exc)
        return 1
    finally:
        status.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
