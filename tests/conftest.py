"""Shared fixtures: real FUSE mounts through the real command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from pathlib import Path

import pytest

from backupfs.mounttable import is_mounted


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
    the ``note:`` lines it printed. Every mount is undone at teardown.
    """

    def __init__(self, tmp_path: Path, index_dir: Path) -> None:
        self._tmp_path, self._index_dir = tmp_path, index_dir
        self.mounted: list[Path] = []
        self.seconds = 0.0
        self.notes: list[str] = []

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
