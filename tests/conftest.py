"""Shared fixtures: real FUSE mounts through the real command line."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.mounttable import is_mounted

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def run_cli(
    *args: str | os.PathLike[str], check: bool = True, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m backupfs`` as a user would, under ``prefix`` (e.g. setpriv); fail loudly with its output."""
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "backupfs", *map(str, args)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"backupfs {args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(autouse=True, scope="session")
def private_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the indexes of commands run without ``--index-dir`` out of the user's own cache folder."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if saved is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index-cache"


def within(seconds: float, action: Callable[[], T], what: str = "the call") -> T:
    """``action()``, failing the test if it has not returned after ``seconds`` (a hung mount)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise AssertionError(f"{what} did not finish within {seconds:.0f} s: the mount hangs")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class Mounter:
    """``mount(source, *options)`` mounts with the real CLI and returns the mount point.

    ``at`` and ``index_dir`` replace the test's defaults, ``prefix`` runs the CLI under
    another command (setpriv). ``seconds`` is how long the last mount took and ``notes``
    the ``note:`` lines it printed, ``said`` what it printed on stdout. Every mount is undone at teardown.
    """

    def __init__(self, tmp_path: Path, index_dir: Path) -> None:
        self._tmp_path, self._index_dir = tmp_path, index_dir
        self.mounted: list[Path] = []
        self.seconds = 0.0
        self.notes: list[str] = []
        self.said = ""

    def __call__(
        self, source: Path, *options: str, at: Path | None = None, index_dir: Path | None = None,
        prefix: Sequence[str] = (),
    ) -> Path:
        mountpoint = at or self._tmp_path / f"mnt{len(self.mounted)}"
        mountpoint.mkdir(exist_ok=True)
        started = time.monotonic()
        result = run_cli("mount", source, mountpoint, "--index-dir", index_dir or self._index_dir, *options, prefix=prefix)
        self.seconds = time.monotonic() - started
        assert is_mounted(mountpoint) and "Traceback" not in result.stderr, result.stderr
        self.mounted.append(mountpoint)
        self.notes = [line.split(": note: ", 1)[1] for line in result.stderr.splitlines() if ": note: " in line]
        self.said = result.stdout
        return mountpoint

    def unmount_all(self) -> None:
        for mountpoint in self.mounted:
            if is_mounted(mountpoint):
                with contextlib.suppress(AssertionError):
                    run_cli("unmount", mountpoint)
            assert not is_mounted(mountpoint), f"{mountpoint} could not be unmounted"


@pytest.fixture
def mount(tmp_path: Path, index_dir: Path) -> Iterator[Mounter]:
    mounter = Mounter(tmp_path, index_dir)
    yield mounter
    mounter.unmount_all()


def run_on_terminal(
    *args: str | os.PathLike[str],
    interrupt_when: Callable[[str], bool] | None = None,
    seconds: float = 120,
    answer: tuple[str, bytes] | None = None,
) -> tuple[str, int]:
    """Run ``python -m backupfs`` on a pseudo-terminal 100 columns wide, as a person in a terminal does.

    Returns everything the terminal received (``\\r`` included, line ends as ``\\r\\n``) and the
    exit status. ``interrupt_when(output so far)`` true presses Ctrl-C, once. ``answer``
    (prompt, keys) types the keys once the output shows the prompt.
    """
    pid, terminal = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and stderr are the terminal
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            os.execve(sys.executable, [sys.executable, "-m", "backupfs", *map(str, args)], env)
        finally:
            os._exit(127)
    received = b""
    interrupted = False
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if interrupt_when is not None and not interrupted and interrupt_when(received.decode(errors="replace")):
                os.write(terminal, b"\x03")
                interrupted = True
            if answer is not None and answer[0] in received.decode(errors="replace"):
                os.write(terminal, answer[1])
                answer = None
            ready, _, _ = select.select([terminal], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(terminal, 65536)
                except OSError:  # the terminal is gone with the last process that held it
                    break
                if not chunk:
                    break
                received += chunk
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"backupfs {args} did not end within {seconds:.0f} s:\n{received.decode(errors='replace')}")
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return received.decode(errors="replace"), os.waitstatus_to_exitcode(status)


@pytest.fixture(scope="session")
def many_unnamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup of 50,000 files no source can name: sorting them by type takes seconds. Never change it."""
    from backupfs.demo.writer import PayloadSpec
    from tests.backups import build

    specs = [PayloadSpec(f"AppDomain-org.example.{n % 7}", f"Documents/{n:06d}.bin", b"%06d" % n) for n in range(50_000)]
    return build(tmp_path_factory.mktemp("many-unnamed") / "backup", specs, index="none").root


def proc_stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name: state, parent pid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def completion_processes(index_dir: Path) -> list[int]:
    """Pids of the ``backupfs.index.complete`` processes working on an index in ``index_dir``, and of their workers."""
    parents: dict[int, int] = {}
    finishing = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                parents[int(entry)] = int(proc_stat(int(entry))[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"backupfs.index.complete" in command and any(os.fsencode(index_dir) in part for part in command):
                finishing.append(int(entry))
    workers = [pid for pid, parent in parents.items() if parent in finishing]
    return finishing + workers


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running: an ended process stays listed (a zombie) until reaped."""
    running = []
    for pid in pids:
        try:
            state = proc_stat(pid)[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.append(pid)
    return running


def walk_outside_readable(
    top: str | bytes | os.PathLike[str], onerror: Callable[[OSError], None] | None = None
) -> Iterator[tuple]:
    """``os.walk(top)`` without the readable folders: everywhere else each payload is shown exactly once.

    The readable folder shows some payloads a second time, under a human name (a photo by
    date, a voicemail by caller), as it is meant to.
    """
    skip = os.fsencode(READABLE_FOLDER) if isinstance(top, bytes) else READABLE_FOLDER
    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror):
        dirnames[:] = [name for name in dirnames if name != skip]
        yield dirpath, dirnames, filenames


MVT = "mvt==2026.10.26"


@pytest.fixture(scope="session")
def mvt_ios(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mvt-ios``, installed from PyPI once into a virtual environment of its own (kept in pytest's cache)."""
    cache = getattr(pytestconfig, "cache", None)
    folder = cache.mkdir(MVT.replace("==", "-")) if cache is not None else tmp_path_factory.mktemp("mvt")
    tool = folder / "bin" / "mvt-ios"
    if not tool.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", folder], check=True, timeout=120)
        installed = subprocess.run([folder / "bin" / "pip", "install", "--quiet", MVT], check=False, capture_output=True,
                                   text=True, timeout=900)
        assert installed.returncode == 0, f"pip install {MVT} failed:\n{installed.stderr[-3000:]}"
    return tool
