"""Write the mount's tree into an ordinary folder, without FUSE: what ``backupfs extract`` does.

For those who cannot mount (Windows, a Mac without macFUSE) and those who want plain
copies. Everything is read through :class:`~backupfs.content.mount_source.MountSource`,
as the mount reads it, so the folder holds exactly what the mount shows: named files at
``<Domain>/<relativePath>``, ``other-data/<type>/...``, the readable folder. Nothing here
imports FUSE. The rules:

* **What is written.** The whole tree, or the subtrees given as paths of the mount
  (``CameraRollDomain/Media/DCIM``), each at its own path under DEST
  (``DEST/CameraRollDomain/Media/DCIM/...``), so that extracts of several paths add up to
  the whole tree. A path that is not in the tree is refused before anything is written.
* **Copies of your own.** Folders are made 0o755 and files 0o644, less what the umask
  withholds (as ``cp`` does: a phone's data stays as private as the user's umask
  keeps new files), owned by the user who runs the command, whatever the backup records.
  Files and folders keep the modification time the mount shows; one the backup does not
  record keeps the time it was written.
* **Symlinks** are made as symlinks, with their target's names made portable like all
  others. On Windows, where making one needs administrator rights or Developer Mode, a
  link is written, as git does there, as a small file holding its target's text.
* **Names** that Windows or macOS cannot store are escaped as
  :mod:`backupfs.export.names` says; on Linux every name is written as the mount shows it.
* **Resumable.** A file already at DEST with the size and modification time the mount
  shows (to 2 s, the precision of FAT disks) is complete and skipped. A file larger than
  one read (1 MiB), or one that replaces a file at DEST, is written as
  ``<name>.backupfs-partial`` and renamed to its name only once verified, so the next run
  continues it from its length. A smaller new file is written at its name, and given its
  modification time only once verified: cut short, it shows the time it was written, and
  the next run writes it again. (Renaming every small file would cost a fifth of the time.)
* **Verified.** What is read from the backup is compared with what the written file, read
  back, holds: byte for byte for a file read in one go, by BLAKE2b hash otherwise. A file
  that differs is written again from its first byte, once; a second difference stops the
  extract (the disk of DEST is failing). A continued file is verified whole, the part a previous run wrote too.
* **The backup is never written to.** A DEST inside a backup folder, or one that would put
  a folder of the tree where a backup folder is, is refused; folders already at DEST
  that are links are refused rather than followed, and a partial file is never opened
  through a link. A file the backup cannot give (a damaged or missing payload) is listed
  in :attr:`ExtractStats.failed` and the extract goes on.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backupfs.content.mount_source import MountSource
from backupfs.errors import BackupfsError
from backupfs.export.names import (
    NAME_MAX,
    WINDOWS,
    family,
    portable_names,
    portable_path,
)
from backupfs.index.schema import Node
from backupfs.progress import Progress
from backupfs.source.manifest.records import Kind
from backupfs.source.safe_open import pread
from backupfs.source.sqlite_view import Reader

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".backupfs-partial"
FILE_MODE = 0o644
FOLDER_MODE = 0o755
_CHUNK = 1 << 20
_MTIME_SLACK_NS = 2 * 10**9
_FILE_COST = 32 * 1024  # what writing one file costs beyond its bytes, in bytes' worth of time
# Files written at once, so that their reads and writes overlap; more threads than processors
# only add contention for Python's lock and the folders' (measured with bench/extract_bench.py).
_WORKERS = max(2, min(4, os.cpu_count() or 1))
_DESCRIBE_SECONDS = 0.25
_OPEN_FLAGS = (
    os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)
_NEW_FLAGS = _OPEN_FLAGS | os.O_EXCL
_TIMES_BY_FD = os.utime in os.supports_fd  # not on Windows: there the time is set by name, once closed


@dataclass
class ExtractStats:
    """What one extract did."""

    files_written: int = 0  # files and links written by this run (continued ones included)
    files_skipped: int = 0  # already complete at DEST
    files_resumed: int = 0  # continued from a partial file an earlier run left
    bytes_written: int = 0
    seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path in the mount, why) of files not written


@dataclass(frozen=True)
class _Entry:
    """One node to write: where it is in the mount, where it goes, and what it must be."""

    path: str
    target: str
    kind: Kind
    size: int = 0
    mtime_ns: int = 0  # 0 when the backup records none
    link: str | None = None
    node: Node | None = None  # a file's, to open it without looking it up again


@dataclass(frozen=True)
class _Expected:
    """What a written file must hold: its bytes, for a file read in one go (comparing them is
    cheaper than hashing them), or the BLAKE2b of them."""

    data: bytes | None
    digest: bytes | None

    def held_by(self, out: io.RawIOBase, size: int) -> bool:
        """Whether ``out``, ``size`` bytes long, holds it."""
        if self.data is not None:
            return pread(out.fileno(), size + 1, 0) == self.data
        out.seek(0)
        return _hash_of(out, size) == self.digest


class _Stopped(Exception):
    """The extract was interrupted: the file being written stays partial, to be continued."""


class _SourceFailed(Exception):
    """The backup cannot give this file's bytes."""


def extract(
    source: MountSource,
    dest: Path,
    paths: Sequence[str] = (),
    *,
    progress: bool | None = None,
    platform: str = sys.platform,
) -> ExtractStats:
    """Write the tree ``source`` serves (or the subtrees at ``paths``) under ``dest``; see the module docstring.

    ``source`` must serve a completed index (built without ``complete_later``).
    ``progress`` None shows the bar on a terminal only. ``platform`` (a ``sys.platform``
    value) decides which names are escaped and how links are written.
    """
    started = time.monotonic()
    dest = _long_paths(Path(dest))
    selected = _selected(source, paths)
    writer = _Writer(source, platform)
    _refuse_the_source(dest, source.index.roots, writer.top_names(selected))
    folders, files, links = writer.plan(dest, selected)
    writer.make_folders(folders)
    total = sum(entry.size + _FILE_COST for entry in (*files, *links)) or 1
    with Progress("Extracting", total, unit=None, show=progress) as bar:
        writer.start(bar, len(files) + len(links))
        writer.write_files(files)
        for entry in links:
            writer.write_link(entry)
        writer.describe(force=True)
    for entry in reversed(folders):  # deepest first: writing into a folder changes its time
        if entry.mtime_ns:
            os.utime(entry.target, ns=(entry.mtime_ns, entry.mtime_ns))
    writer.stats.seconds = time.monotonic() - started
    return writer.stats


def _long_paths(dest: Path) -> Path:
    """On Windows, ``dest`` as a ``\\\\?\\`` path: the paths of a phone pass the 260 characters
    Windows allows otherwise (``\\\\?\\UNC\\`` for a network share)."""
    if sys.platform != "win32":
        return dest
    absolute = os.path.abspath(dest)
    if absolute.startswith("\\\\?\\"):
        return Path(absolute)
    if absolute.startswith("\\\\"):
        return Path("\\\\?\\UNC\\" + absolute[2:])
    return Path("\\\\?\\" + absolute)


def _selected(source: MountSource, paths: Sequence[str]) -> list[str]:
    """The mount paths to write ("" for the whole tree), none inside another; refuses one not in the tree."""
    wanted = sorted({path.strip("/") for path in paths} or {""})
    for path in wanted:
        try:
            source.node(path)
        except OSError:
            raise BackupfsError(
                f"{path} is not in the backup's tree: give paths as the mount shows them, "
                "such as CameraRollDomain/Media/DCIM"
            ) from None
    kept: list[str] = []
    for path in wanted:  # sorted: a folder comes before what is inside it
        if not any(path == k or not k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def _refuse_the_source(dest: Path, roots: Sequence[Path], top_names: set[str]) -> None:
    """Refuse a ``dest`` inside a backup folder, and one where a folder of the tree (``top_names``,
    as written) is a backup folder or holds one: the backup is never written to.

    Compared by identity (device and inode), so that links, case and ``..`` fool no check.
    """
    chains = []
    for root in roots:
        absolute = Path(os.path.abspath(root))
        try:
            chains.append((root, os.stat(absolute), [os.stat(p) for p in (absolute, *absolute.parents)]))
        except OSError:  # a backup gone since the index was built: nothing of it to protect
            continue
    absolute_dest = Path(os.path.abspath(dest))
    existing = Path(os.path.realpath(next(p for p in (absolute_dest, *absolute_dest.parents) if os.path.exists(p))))
    above = [os.stat(p) for p in (existing, *existing.parents)]
    for root, root_stat, _ in chains:
        if any(os.path.samestat(root_stat, folder) for folder in above):
            raise BackupfsError(
                f"{dest} is inside the backup {root}: choose a folder outside it (the backup is never written to)"
            )
    for name in top_names:
        try:
            written = os.stat(absolute_dest / name)
        except OSError:
            continue
        for root, _, chain in chains:
            if any(os.path.samestat(written, folder) for folder in chain):
                raise BackupfsError(f"{dest / name} holds the backup {root}: choose another folder to extract into")


class _Writer:
    """The work of one extract: the plan, the files, the links, the bar and the counts."""

    def __init__(self, source: MountSource, platform: str) -> None:
        self.source = source
        self.platform = platform
        self.stats = ExtractStats()
        self.bar: Progress | None = None
        self.total_files = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._described = 0.0
        self._started = time.monotonic()
        self._names: dict[str, dict[str, str]] = {}
        self._made: set[str] = set()  # folders this run made: nothing is in them but what it writes

    # -- the plan ------------------------------------------------------------------------

    def names(self, folder: str) -> dict[str, str]:
        """The entries of ``folder`` (a mount path) and the names they are written as."""
        names = self._names.get(folder)
        if names is None:
            names = portable_names((name for name, _ in self.source.listing(self.source.folder(folder))), self.platform)
            self._names = {folder: names}  # one folder at a time: the plan asks for the same one in a row
        return names

    def top_names(self, selected: list[str]) -> set[str]:
        """The names written directly under DEST."""
        names = self.names("")
        if "" in selected:
            return set(names.values())
        return {names[path.split("/", 1)[0]] for path in selected}

    def _target(self, dest: Path, path: str) -> str:
        """Where the node at mount ``path`` is written."""
        target = str(dest)
        folder = ""
        for name in path.split("/") if path else ():
            target = os.path.join(target, self.names(folder)[name])
            folder = f"{folder}/{name}" if folder else name
        return target

    def plan(self, dest: Path, selected: list[str]) -> tuple[list[_Entry], list[_Entry], list[_Entry]]:
        """The folders (each before what it holds), files and links to write, with their sizes and times."""
        planned: dict[Kind, list[_Entry]] = {Kind.DIR: [_Entry("", str(dest), Kind.DIR)], Kind.FILE: [], Kind.SYMLINK: []}
        for top in selected:
            parts = top.split("/") if top else []
            for depth in range(1, len(parts)):  # the folders above a given path: made, their times left alone
                above = "/".join(parts[:depth])
                if not any(entry.path == above for entry in planned[Kind.DIR]):
                    planned[Kind.DIR].append(_Entry(above, self._target(dest, above), Kind.DIR))
            if top:
                entry = self._entry(self.source.node(top), self._target(dest, top))
                planned[entry.kind].append(entry)
            else:
                entry = planned[Kind.DIR][0]
            if entry.kind is Kind.DIR:
                for child in self._walk(entry):
                    planned[child.kind].append(child)
        return planned[Kind.DIR], planned[Kind.FILE], planned[Kind.SYMLINK]

    def _walk(self, folder: _Entry) -> Iterator[_Entry]:
        """Every entry below ``folder``, each folder before what it holds: one query per folder."""
        pending = [folder]
        while pending:
            parent = pending.pop()
            nodes = self.source.children(self.source.folder(parent.path))  # waits for a folder still being filled
            names = portable_names((node.path.rpartition("/")[2] for node in nodes), self.platform)
            children = [
                self._entry(node, os.path.join(parent.target, names[node.path.rpartition("/")[2]])) for node in nodes
            ]
            yield from children
            pending.extend(reversed([child for child in children if child.kind is Kind.DIR]))

    def _entry(self, node: Node, target: str) -> _Entry:
        """What to write for ``node``: its size and time as the mount shows them."""
        if node.kind is Kind.SYMLINK:
            link = portable_path(node.target or "", self.platform)
            size = len(link.encode("utf-8", "surrogateescape"))
            return _Entry(node.path, target, node.kind, size, _time(node.mtime_ns), link)
        if node.kind is Kind.DIR:
            return _Entry(node.path, target, node.kind, 0, _time(node.mtime_ns))
        size, mtime_ns = self.source.contents.stat(node)
        return _Entry(node.path, target, node.kind, size, _time(mtime_ns), node=node)

    # -- writing -------------------------------------------------------------------------

    def make_folders(self, folders: list[_Entry]) -> None:
        """Make every folder, refusing anything at its place that is not a folder: a link above all,
        but DEST itself, which the user chose."""
        for entry in folders:
            try:
                os.mkdir(entry.target, FOLDER_MODE)
            except FileExistsError:
                if not stat.S_ISDIR((os.stat if entry.path == "" else os.lstat)(entry.target).st_mode):
                    raise BackupfsError(
                        f"{entry.target} exists and is not a folder: move it away and run the extract again"
                    ) from None
                continue
            except FileNotFoundError:  # only DEST's own parents can be missing
                os.makedirs(entry.target, FOLDER_MODE, exist_ok=True)
            except OSError as exc:
                raise BackupfsError(f"cannot make the folder {entry.target}: {exc.strerror}") from None
            self._made.add(entry.target)

    def write_files(self, files: list[_Entry]) -> None:
        """Write ``files``, a few at once; the first error stops them all (a Ctrl-C too).

        In the order of their payloads in the backup, not of their names: payloads of one
        bucket folder lie near each other on the disk, as ``cp -r`` of the backup reads them.
        """
        queue = iter(sorted(files, key=_payload_order))
        taking = threading.Lock()
        errors: list[BaseException] = []

        def work() -> None:
            while not self._stop.is_set():
                with taking:
                    entry = next(queue, None)
                if entry is None:
                    return
                try:
                    self.write_file(entry)
                except _Stopped:
                    return
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
                    errors.append(exc)
                    self._stop.set()

        workers = [threading.Thread(target=work, name="backupfs-extract", daemon=True) for _ in range(_WORKERS)]
        for worker in workers:
            worker.start()
        try:
            for worker in workers:
                while worker.is_alive():
                    worker.join(0.2)  # a Ctrl-C reaches the main thread between joins, on every system
        except BaseException:
            self._stop.set()
            for worker in workers:
                worker.join()
            raise
        if errors:
            raise errors[0]

    def write_file(self, entry: _Entry, look: bool = False) -> None:
        """Write one file, or skip it when it is complete already; see the module docstring.

        A small file (one read's worth) that is not at DEST yet is written straight to its
        name, its modification time set last: until that time is set it shows the time it
        was written, which tells the next run it is unfinished. Two system calls fewer
        (no rename, no partial name to look for) is a fifth of the time of a small file.
        A larger file, or one that replaces what is at DEST, goes through a partial file.
        ``look``: look at DEST even in a folder this run made.
        """
        existing = None if not look and os.path.dirname(entry.target) in self._made else _lstat(entry.target)
        if existing is not None and self._complete(existing, entry):
            self._done(entry, "skipped")
            return
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise BackupfsError(f"{entry.target} is a folder where the backup has a file: move it away and run again")
        in_place = existing is None and entry.mtime_ns > 0 and entry.size <= _CHUNK
        path = entry.target if in_place else partial_name(entry.target)
        resume_from = 0 if in_place else _partial_length(path, entry.size)
        counted = [0]
        try:
            if not self._copy(entry, path, resume_from, counted, new=in_place) and not self._copy(
                entry, path, 0, counted
            ):
                raise BackupfsError(
                    f"{entry.target} differs from the backup after writing it twice: the disk it is on may be failing"
                )
        except _SourceFailed as exc:
            _remove(path)
            with self._lock:
                self.stats.failed.append((entry.path, str(exc)))
            self._done(entry, "failed", counted[0])
            return
        except FileExistsError:  # something took the name after all (on a disk that folds names together)
            self.write_file(entry, look=True)
            return
        if not in_place:
            try:
                os.replace(path, entry.target)
            except OSError as exc:
                raise BackupfsError(f"cannot write {entry.target}: {exc.strerror}") from None
        with self._lock:
            self.stats.files_resumed += resume_from > 0
        self._done(entry, "written", counted[0])

    def _complete(self, existing: os.stat_result, entry: _Entry) -> bool:
        """Whether the file at DEST is one an earlier run finished: same size and (when known) time."""
        return (
            stat.S_ISREG(existing.st_mode)
            and existing.st_size == entry.size
            and (not entry.mtime_ns or abs(existing.st_mtime_ns - entry.mtime_ns) < _MTIME_SLACK_NS)
        )

    def _copy(self, entry: _Entry, path: str, resume_from: int, counted: list[int], new: bool = False) -> bool:
        """Copy the file into ``path`` from ``resume_from`` on, read all of it back and, when it
        matches, give it its time; whether it matched.

        ``new``: ``path`` is made, never found (not even a link put there meanwhile).
        ``counted[0]`` is how far the bar was moved for this file so far.
        """
        reader = self._open(entry)
        try:
            fd = os.open(path, _NEW_FLAGS if new else _OPEN_FLAGS, FILE_MODE)
        except FileExistsError:
            raise
        except OSError as exc:
            raise BackupfsError(f"cannot write {path}: {exc.strerror}") from None
        with os.fdopen(fd, "r+b", buffering=0) as out:
            try:
                read = self._write(reader, out, entry, resume_from, counted)
                if not new:
                    out.truncate(entry.size)
                matched = read.held_by(out, entry.size)
                if matched and entry.mtime_ns and _TIMES_BY_FD:
                    os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            except OSError as exc:
                raise BackupfsError(f"cannot write {path}: {exc.strerror}") from None
        if matched and entry.mtime_ns and not _TIMES_BY_FD:
            try:
                os.utime(path, ns=(entry.mtime_ns, entry.mtime_ns))
            except OSError as exc:
                raise BackupfsError(f"cannot write {path}: {exc.strerror}") from None
        return matched

    def _open(self, entry: _Entry) -> Reader:
        try:
            return self.source.open(entry.node or self.source.node(entry.path))
        except Exception as exc:  # noqa: BLE001 - one file the mount would answer EIO for, not the extract
            raise _failure(entry, exc) from None

    def _write(
        self, reader: Reader, out: io.RawIOBase, entry: _Entry, resume_from: int, counted: list[int]
    ) -> _Expected:
        """Read the whole file from the backup, writing what lies past ``resume_from``; what the
        written file must hold: the bytes themselves when one read gave them all, else their hash."""
        digest = hashlib.blake2b()
        out.seek(resume_from)
        offset = 0
        while offset < entry.size:
            if self._stop.is_set():
                raise _Stopped
            try:
                chunk = reader.read(min(_CHUNK, entry.size - offset), offset)
            except Exception as exc:  # noqa: BLE001 - as above
                raise _failure(entry, exc) from None
            if not chunk:
                raise _SourceFailed(f"the backup gives {offset:,} of its {entry.size:,} bytes")
            whole = offset == 0 and len(chunk) == entry.size
            if not whole:
                digest.update(chunk)
            end = offset + len(chunk)
            if end > resume_from:
                out.write(memoryview(chunk)[max(resume_from - offset, 0):])
                with self._lock:
                    self.stats.bytes_written += end - max(resume_from, offset)
            offset = end
            step = min(len(chunk), entry.size - counted[0])
            if step > 0 and self.bar is not None:
                self.bar.advance(step)
                counted[0] += step
        return _Expected(chunk, None) if entry.size and whole else _Expected(None, digest.digest())

    def write_link(self, entry: _Entry) -> None:
        """A symlink, or on Windows a small file holding its target (see the module docstring)."""
        link = entry.link or ""
        existing = _lstat(entry.target)
        as_file = family(self.platform) == WINDOWS
        if existing is not None and (
            (as_file and self._complete(existing, entry) and _read(entry.target) == os.fsencode(link))
            or (not as_file and stat.S_ISLNK(existing.st_mode) and os.readlink(entry.target) == link)
        ):
            self._done(entry, "skipped")
            return
        partial = partial_name(entry.target)
        try:
            _remove(partial)
            if as_file:
                with open(os.open(partial, _OPEN_FLAGS, FILE_MODE), "wb") as out:
                    out.write(os.fsencode(link))
            else:
                os.symlink(link, partial)
            if entry.mtime_ns and (as_file or os.utime in os.supports_follow_symlinks):
                os.utime(partial, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=as_file)
            os.replace(partial, entry.target)
        except OSError as exc:
            raise BackupfsError(f"cannot write {entry.target}: {exc.strerror}") from None
        with self._lock:
            self.stats.bytes_written += entry.size
        self._done(entry, "written")

    # -- counting ------------------------------------------------------------------------

    def start(self, bar: Progress, total_files: int) -> None:
        """The bar to move, from now on."""
        self.bar, self.total_files, self._started = bar, total_files, time.monotonic()

    def _done(self, entry: _Entry, outcome: str, counted: int = 0) -> None:
        """Count one file (``outcome`` is "written", "skipped" or "failed"), and move the bar past it."""
        with self._lock:
            if outcome == "written":
                self.stats.files_written += 1
            elif outcome == "skipped":
                self.stats.files_skipped += 1
        if self.bar is not None:
            self.bar.advance(_FILE_COST + entry.size - counted)
        self.describe()

    def describe(self, force: bool = False) -> None:
        """Files and bytes so far, after the bar: a few times a second at most."""
        now = time.monotonic()
        if self.bar is None or (not force and now - self._described < _DESCRIBE_SECONDS):
            return
        self._described = now
        stats = self.stats
        done = stats.files_written + stats.files_skipped + len(stats.failed)
        rate = stats.bytes_written / max(now - self._started, 1e-3)
        self.bar.describe(f"{done:,}/{self.total_files:,} files, {_size(stats.bytes_written)} at {_size(rate)}/s")


def _payload_order(entry: _Entry) -> tuple[int, str]:
    """Where ``entry``'s payload is in the backups: files with none (rendered, notices) last."""
    node = entry.node
    if node is None or node.source is None:
        return (1 << 30, entry.path)
    return (node.backup, node.source)


def _failure(entry: _Entry, exc: Exception) -> _SourceFailed:
    """Why the backup cannot give ``entry``: an errno's words, or (a bug, logged in full) the exception's."""
    if isinstance(exc, OSError):
        return _SourceFailed(f"the backup cannot give it ({os.strerror(exc.errno or errno.EIO)})")
    log.error("cannot read %s", entry.path, exc_info=exc)
    return _SourceFailed(f"it cannot be read ({type(exc).__name__}: {exc})")


def _time(mtime_ns: int) -> int:
    """A modification time to give a copy: 0 when the backup records none."""
    return max(mtime_ns, 0)


def partial_name(target: str) -> str:
    """Where the file for ``target`` is written until verified: ``<name>.backupfs-partial``,
    its name cut (and tagged) when that would pass the 255 bytes a name may have."""
    folder, name = os.path.split(target)
    partial = name + PARTIAL_SUFFIX
    if len(partial.encode("utf-8", "surrogateescape")) > NAME_MAX:
        tag = "~" + hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:8] + PARTIAL_SUFFIX
        keep = name.encode("utf-8", "surrogateescape")[: NAME_MAX - len(tag)].decode("utf-8", "ignore")
        partial = keep + tag
    return os.path.join(folder, partial)


def _partial_length(partial: str, size: int) -> int:
    """How much of the file an earlier run left in ``partial`` to continue from (0: start afresh)."""
    existing = _lstat(partial)
    if existing is None:
        return 0
    if stat.S_ISDIR(existing.st_mode):
        raise BackupfsError(f"{partial} is a folder: move it away and run the extract again")
    if not stat.S_ISREG(existing.st_mode):  # a link (never followed) or anything odd: made anew
        _remove(partial)
        return 0
    return existing.st_size if existing.st_size <= size else 0


def _hash_of(handle: io.RawIOBase, size: int) -> bytes:
    """The BLAKE2b of the first ``size`` bytes read from ``handle``; of fewer when the file is shorter."""
    digest = hashlib.blake2b()
    buffer = bytearray(min(_CHUNK, max(size, 1)))
    view = memoryview(buffer)
    remaining = size
    while remaining > 0:
        got = handle.readinto(view[: min(len(buffer), remaining)])
        if not got:
            break
        digest.update(view[:got])
        remaining -= got
    return digest.digest()


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _size(count: float) -> str:
    """A byte count as a person reads it: 340 bytes, 1.2 MB, 3.4 GB."""
    for unit in ("bytes", "KB", "MB"):
        if count < 1000:
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"
