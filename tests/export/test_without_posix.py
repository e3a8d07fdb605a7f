"""``backupfs extract`` and ``info`` in a Python that has only what Windows' CPython has (issue 15).

What it does: every test runs backupfs in a subprocess whose ``sitecustomize`` (:data:`PRELUDE`,
first on PYTHONPATH, so that worker processes start with it too) takes away, before
backupfs is imported, what CPython on Windows lacks or does otherwise: ``os.supports_dir_fd``,
``os.supports_fd`` and ``os.supports_follow_symlinks`` are empty, and the calls refuse a
descriptor, ``dir_fd`` or ``follow_symlinks=False`` as Windows does; ``os.open`` of a folder
fails with EACCES; ``os.fork``, ``os.pread``, ``os.getuid`` and their kin, the ``O_*`` flags
Windows lacks and the signals it lacks are gone; ``fcntl``, ``resource``, ``termios``,
``pwd``, ``grp`` and ``mfusepy`` cannot be imported; ``/proc`` is not there. Two behaviours
of Windows are imitated too: a descriptor opened without ``O_BINARY`` is in text mode, as
the C runtime opens it (``os.read`` turns CRLF into LF and stops at Ctrl-Z, ``os.write``
turns LF into CRLF), and a file this process holds open cannot be replaced, renamed or
removed (Windows opens files without FILE_SHARE_DELETE).

What it proves: the commands take no POSIX-only path; on the path-based branch, links
planted in a backup are refused without ``O_NOFOLLOW``; every ``os.open`` that reads the
backup asks for binary mode; an index is closed before it is replaced; the bytes written
are those an extract by the ordinary path writes; the backup is unchanged, but for access
times (there is no O_NOATIME on Windows, nor in this Python).

What it does not prove: that it runs on Windows. The interpreter, SQLite, mmap and the C
runtime are still Linux's; paths are POSIX paths (no drive letters, no ``\\\\?\\`` long
paths, no case folding, no reserved names); ``sys.platform`` is still "linux", so code that
decides by platform takes its Linux branch (``--names windows`` covers the names extract
writes); junctions cannot be made here; share modes are imitated for files this process
opened only, and text mode for ``os.read`` and ``os.write`` only (a file object writes
through the C runtime directly). ``contrib/windows_check.sh`` runs the same commands with
Windows' own CPython under Wine, which found what this cannot: Windows' SQLite reads no
URI in an ATTACH unless the connection was opened with ``uri=True``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backupfs.demo.writer import PayloadSpec
from backupfs.source.manifest.records import file_id
from tests.backups import (
    UNNAMEABLE_APP,
    BuiltBackup,
    build,
    fingerprint,
    standard_specs,
)
from tests.conftest import REPO, run_cli

PRELUDE = r'''
"""Take away what CPython on Windows lacks, before anything imports backupfs (see test_without_posix)."""

import builtins
import errno
import io
import os
import signal
import stat
import sys

for _name in ("fcntl", "resource", "termios", "pwd", "grp", "mfusepy"):
    sys.modules[_name] = None  # importing it raises ImportError

os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks = set(), set(), set()
for _name in ("fork", "forkpty", "register_at_fork", "pread", "pwrite", "getuid", "geteuid", "getgid", "getegid",
              "sync", "getxattr", "setxattr", "listxattr", "removexattr", "statvfs", "fstatvfs", "posix_fadvise",
              "O_NOFOLLOW", "O_DIRECTORY", "O_NOATIME", "O_CLOEXEC", "O_NONBLOCK", "O_DIRECT", "O_SYNC", "O_DSYNC"):
    if hasattr(os, _name):
        delattr(os, _name)
for _name in ("SIGHUP", "SIGQUIT", "SIGKILL", "SIGPIPE", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGWINCH",
              "alarm", "pause", "setitimer", "siginterrupt", "pthread_kill"):
    if hasattr(signal, _name):
        delattr(signal, _name)
os.O_BINARY, os.O_TEXT = 0x8000, 0x4000  # the C runtime's values

_PATH_CALLS = ("stat", "lstat", "scandir", "listdir", "utime", "unlink", "rmdir", "mkdir", "rename", "replace",
               "readlink", "symlink", "link", "chmod", "access")
_real = {name: getattr(os, name) for name in ("open", "read", "write", "close", *_PATH_CALLS)}


def _as_on_windows(name):
    real = _real[name]

    def call(*args, **kwargs):
        for key in ("dir_fd", "src_dir_fd", "dst_dir_fd"):
            if kwargs.get(key) is not None:
                raise NotImplementedError(f"{name}: {key} unavailable on this platform")
        if kwargs.get("follow_symlinks") is False and name not in ("stat", "link"):
            raise NotImplementedError(f"{name}: follow_symlinks unavailable on this platform")
        if args and isinstance(args[0], int) and name != "stat":  # only stat takes a descriptor there
            raise TypeError(f"{name}: path should be string, bytes or os.PathLike, not int")
        return real(*args, **kwargs)

    return call


for _name in _PATH_CALLS:
    setattr(os, _name, _as_on_windows(_name))

_TEXT_MODE = {}  # descriptor -> (device, inode) of a file opened without O_BINARY


def _open(path, flags, mode=0o777, *, dir_fd=None):
    if dir_fd is not None:
        raise NotImplementedError("open: dir_fd unavailable on this platform")
    try:
        folder = stat.S_ISDIR(_real["stat"](path).st_mode)
    except OSError:
        folder = False
    if folder:
        raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
    fd = _real["open"](path, flags & ~(os.O_BINARY | os.O_TEXT), mode)
    if not flags & os.O_BINARY:
        st = os.fstat(fd)
        _TEXT_MODE[fd] = (st.st_dev, st.st_ino)
    return fd


def _in_text_mode(fd):
    seen = _TEXT_MODE.get(fd)
    if seen is None:
        return False
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != seen:  # closed by other means, and the number taken again
        del _TEXT_MODE[fd]
        return False
    return True


def _read(fd, size):
    data = _real["read"](fd, size)
    return data.partition(b"\x1a")[0].replace(b"\r\n", b"\n") if _in_text_mode(fd) else data


def _write(fd, data):
    if not _in_text_mode(fd):
        return _real["write"](fd, data)
    view = memoryview(bytes(data).replace(b"\n", b"\r\n"))
    while view:
        view = view[_real["write"](fd, view):]
    return len(data)


def _close(fd):
    _TEXT_MODE.pop(fd, None)
    _real["close"](fd)


os.open, os.read, os.write, os.close = _open, _read, _write, _close


def _open_here(path):
    target = os.path.realpath(path)
    for fd in _real["listdir"]("/proc/self/fd"):
        try:
            if _real["readlink"](f"/proc/self/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def _refusing_open_files(name, *positions):
    real = getattr(os, name)

    def call(*args, **kwargs):
        for position in positions:
            if len(args) > position and _open_here(args[position]):
                raise PermissionError(errno.EACCES, "The process cannot access the file because it is being used "
                                      "by another process", os.fsdecode(args[position]))
        return real(*args, **kwargs)

    return call


os.replace, os.rename = _refusing_open_files("replace", 0, 1), _refusing_open_files("rename", 0, 1)
os.unlink = os.remove = _refusing_open_files("unlink", 0)

_builtin_open = builtins.open


def _open_file(file, *args, **kwargs):
    if isinstance(file, (str, bytes, os.PathLike)) and os.fsdecode(file).startswith("/proc/"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", os.fsdecode(file))
    return _builtin_open(file, *args, **kwargs)


builtins.open = io.open = _open_file
if "shutil" in sys.modules:
    sys.modules["shutil"]._use_fd_functions = False
'''

CRLF = b"first line\r\nsecond line\r\n\x1a after a Ctrl-Z, where a read in text mode stops\r\n" * 3
SECRET = b"bytes from OUTSIDE the backup, never to be written\n" * 10
HOSTILE = "AppDomain-org.backupfs.hostile"


@pytest.fixture(scope="module")
def prelude(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding :data:`PRELUDE` as ``sitecustomize.py``, to put first on PYTHONPATH."""
    folder = tmp_path_factory.mktemp("without-posix")
    (folder / "sitecustomize.py").write_text(PRELUDE)
    return folder


def without_posix(prelude: Path, *args: str | os.PathLike[str], code: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m backupfs ARGS`` (or ``python -c CODE ARGS``) in the Python of :data:`PRELUDE`."""
    command = ["-c", code] if code is not None else ["-m", "backupfs"]
    return subprocess.run(
        [sys.executable, *command, *map(str, args)], check=False, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.pathsep.join((str(prelude), str(REPO)))},
    )


def phone_specs() -> list[PayloadSpec]:
    """The standard phone, and a text file with CRLF line ends and a Ctrl-Z."""
    return standard_specs() + [PayloadSpec(UNNAMEABLE_APP, "Documents/notes/crlf.txt", CRLF)]


def phone(path: Path, index: str) -> BuiltBackup:
    return build(path, phone_specs(), index=index)


def spec_id(spec: PayloadSpec) -> str:
    return file_id(spec.domain, spec.relative_path)


def unchanged(top: Path) -> dict[str, tuple]:
    """:func:`fingerprint` but for access times: Windows has no O_NOATIME, and neither has this Python."""
    return {rel: print_[:3] + print_[4:] for rel, print_ in fingerprint(top).items()}


def tree(top: Path, older_than: float = 0) -> dict[str, tuple]:
    """Everything below ``top``: each file's bytes, each link's target, each folder; and the
    modification time of a file when it is older than ``older_than`` (one the backup recorded)."""
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, top)
            st = os.lstat(path)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("folder",)
            else:
                found[rel] = ("file", Path(path).read_bytes(), st.st_mtime_ns if st.st_mtime < older_than else None)
    return found


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``result``, once it is known to have succeeded; its output in the failure otherwise."""
    assert result.returncode == 0, f"{result.args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def test_the_prelude_takes_away_what_windows_lacks(prelude) -> None:
    """Without this, every other test here could pass on a prelude that never loaded."""
    code = """
import os
import backupfs.cli  # every module a command imports
from backupfs.source import safe_open
for name in ("fcntl", "resource", "termios", "pwd", "grp", "mfusepy"):
    try:
        __import__(name)
    except ImportError:
        continue
    raise SystemExit(f"{name} imports")
assert not any(hasattr(os, name) for name in ("fork", "pread", "getuid", "O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC"))
try:
    os.open(".", os.O_RDONLY)
except PermissionError:
    pass
else:
    raise SystemExit("a folder opens")
try:
    os.scandir(0)
except TypeError:
    pass
else:
    raise SystemExit("scandir takes a descriptor")
assert safe_open.FOLDERS_BY_DESCRIPTOR is False
print("taken away")
"""
    assert checked(without_posix(prelude, code=code)).stdout == "taken away\n"


@pytest.mark.parametrize("index", ["db", "none"])
def test_extract_writes_what_an_ordinary_extract_writes_and_changes_nothing(tmp_path, prelude, index) -> None:
    started = time.time()
    backup = phone(tmp_path / "backup", index)
    before = unchanged(backup.root)
    result = checked(without_posix(prelude, "extract", backup.root, tmp_path / "out", "--index-dir", tmp_path / "idx"))
    assert "Wrote " in result.stdout
    assert unchanged(backup.root) == before
    run_cli("extract", backup.root, tmp_path / "ordinary", "--index-dir", tmp_path / "ordinary-idx")
    written = tree(tmp_path / "out", older_than=started)
    assert written == tree(tmp_path / "ordinary", older_than=started)
    assert any(entry[0] == "file" and entry[1] == CRLF for entry in written.values())
    if index == "db":  # every payload at its name, with the backup's bytes (a database is shown merged with its -wal)
        for spec in backup.files:
            if not spec.relative_path.endswith((".db", "-wal")):
                assert written[os.path.join(spec.domain, spec.relative_path)][1] == spec.content, spec.relative_path
    again = checked(without_posix(prelude, "extract", backup.root, tmp_path / "out", "--index-dir", tmp_path / "idx"))
    assert "Wrote 0 files" in again.stdout  # the index reused, every file found complete
    assert unchanged(backup.root) == before


def test_extract_with_worker_processes_and_windows_names(tmp_path, prelude) -> None:
    """Typing and measuring in spawned processes, as for a large backup; names as Windows needs them."""
    backup = phone(tmp_path / "backup", "none")
    before = unchanged(backup.root)
    code = """
import sys
import backupfs.index.readable, backupfs.index.sorting
backupfs.index.sorting._TYPING_IN_PROCESSES = backupfs.index.readable._MEASURED_IN_PROCESSES = 0
from backupfs.cli import main
raise SystemExit(main(sys.argv[1:]))
"""
    args = ("extract", "--names", "windows", backup.root)
    checked(without_posix(prelude, *args, tmp_path / "out", "--index-dir", tmp_path / "idx", code=code))
    run_cli(*args, tmp_path / "ordinary", "--index-dir", tmp_path / "ordinary-idx")
    assert tree(tmp_path / "out") == tree(tmp_path / "ordinary")
    assert unchanged(backup.root) == before


@pytest.mark.parametrize("index", ["db", "none"])
def test_extract_as_backup_writes_the_same_repaired_backup(tmp_path, prelude, index) -> None:
    backup = phone(tmp_path / "backup", index)
    before = unchanged(backup.root)
    checked(without_posix(prelude, "extract", "--as", "backup", backup.root, tmp_path / "out", "--index-dir", tmp_path / "idx"))
    run_cli("extract", "--as", "backup", backup.root, tmp_path / "ordinary", "--index-dir", tmp_path / "ordinary-idx")
    assert tree(tmp_path / "out") == tree(tmp_path / "ordinary")
    assert unchanged(backup.root) == before


@pytest.mark.parametrize("index", ["db", "none"])
def test_info_says_what_it_says_on_posix(tmp_path, prelude, index) -> None:
    backup = phone(tmp_path / "backup", index)
    before = unchanged(backup.root)
    said = checked(without_posix(prelude, "info", backup.root, "--index-dir", tmp_path / "idx")).stdout
    ordinary = run_cli("info", backup.root, "--index-dir", tmp_path / "ordinary-idx").stdout

    def facts(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("Indexed in:")]  # timings differ

    assert "Payloads:" in said
    assert facts(said) == facts(ordinary)
    assert unchanged(backup.root) == before


@pytest.mark.parametrize("index", ["db", "none"])
def test_links_planted_in_the_backup_are_refused_without_nofollow(tmp_path, prelude, index) -> None:
    """Without O_NOFOLLOW ``os.open`` follows a link: the path-based branch must refuse it by ``lstat``."""
    outside = tmp_path / "outside"
    (outside / "bucket").mkdir(parents=True)
    (outside / "secret.bin").write_bytes(SECRET)
    specs = phone_specs()
    taken = {spec_id(s)[:2] for s in specs}
    alone = next(f"Documents/bucket-{n}" for n in range(1000) if file_id(HOSTILE, f"Documents/bucket-{n}")[:2] not in taken)
    specs += [PayloadSpec(HOSTILE, "Documents/secret", b"to become a link"), PayloadSpec(HOSTILE, alone, b"moved out")]
    backup = build(tmp_path / "backup", specs, index=index)
    linked = backup.payload_path(specs[-2])
    linked.unlink()
    linked.symlink_to(outside / "secret.bin")
    fid = file_id(HOSTILE, alone)
    (backup.root / fid[:2] / fid).rename(outside / "bucket" / fid)
    (backup.root / fid[:2]).rmdir()
    (backup.root / fid[:2]).symlink_to(outside / "bucket")
    (outside / "bucket" / fid).write_bytes(SECRET)
    before = unchanged(backup.root), unchanged(outside)

    result = without_posix(prelude, "extract", backup.root, tmp_path / "out", "--index-dir", tmp_path / "idx")
    ordinary = run_cli("extract", backup.root, tmp_path / "ordinary", "--index-dir", tmp_path / "ordinary-idx", check=False)

    def failures(stderr: str) -> list[str]:  # the warnings before them name the file each its own way
        return [line for line in stderr.splitlines() if "could not write" in line]

    assert result.returncode == ordinary.returncode == 1
    assert failures(result.stderr) == failures(ordinary.stderr) != []  # the linked payload: the backup cannot give it
    written = tree(tmp_path / "out")
    assert written == tree(tmp_path / "ordinary")
    assert not any(entry[0] == "file" and SECRET[:40] in entry[1] for entry in written.values())
    assert (unchanged(backup.root), unchanged(outside)) == before


def test_a_bucket_swapped_for_a_link_after_listing_is_not_entered(tmp_path, prelude) -> None:
    """The files of a bucket are opened by path there: each folder on the way is checked anew."""
    backup = phone(tmp_path / "backup", "db")
    spec = next(s for s in backup.files if s.relative_path.endswith("springboard.plist"))
    relpath = os.path.relpath(backup.payload_path(spec), backup.root)
    bucket, outside = backup.root / relpath[:2], tmp_path / "outside"
    code = f"""
import errno, os
from pathlib import Path
from backupfs.source.safe_open import SourceFolders, SourceFile
folders = SourceFolders({str(backup.root)!r})
print(SourceFile({relpath!r}, folders).read(1 << 20, 0) == {spec.content!r})
os.rename({str(bucket)!r}, {str(outside)!r})
for decoy in Path({str(outside)!r}).iterdir():
    decoy.write_bytes({SECRET!r})
os.symlink({str(outside)!r}, {str(bucket)!r})
try:
    SourceFile({relpath!r}, folders)
except OSError as exc:
    print(errno.errorcode[exc.errno])
"""
    assert checked(without_posix(prelude, code=code)).stdout.split() == ["True", "ENOTDIR"]
    assert (bucket / spec_id(spec)).read_bytes() == SECRET  # the path alone leads outside


def test_a_crlf_payload_is_read_byte_for_byte(tmp_path, prelude) -> None:
    """Every way backupfs opens a file of the source gives CRLF and Ctrl-Z back as they are.

    Only Windows proves O_BINARY: its C runtime opens without it in text mode. Here the
    prelude imitates that text mode on ``os.read``, which checks that backupfs asks for
    binary mode on every open, not that Windows honours it; the first line printed shows
    that the imitation bites, so the rest is no vacuous pass.
    """
    backup = phone(tmp_path / "backup", "db")
    spec = next(s for s in backup.files if s.content == CRLF)
    relpath = os.path.relpath(backup.payload_path(spec), backup.root)
    path = str(backup.payload_path(spec))
    code = f"""
import os
from backupfs.source.safe_open import SourceFile, SourceFolders, open_source, read_head
size = {len(CRLF)}
fd = os.open({path!r}, os.O_RDONLY)
print(os.read(fd, size) == {CRLF!r})  # text mode, as a file opened without O_BINARY reads on Windows
os.close(fd)
fd = open_source({path!r})
print(os.read(fd, size) == {CRLF!r})
os.close(fd)
print(read_head({path!r}, size)[0] == {CRLF!r}, read_head({relpath!r}, size, SourceFolders({str(backup.root)!r}))[0] == {CRLF!r})
print(SourceFile({path!r}).read(size, 0) == {CRLF!r}, SourceFile({relpath!r}, SourceFolders({str(backup.root)!r})).read(size, 0) == {CRLF!r})
"""
    assert checked(without_posix(prelude, code=code)).stdout.split() == ["False", "True", "True", "True", "True", "True"]
