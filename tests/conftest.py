"""Shared fixtures: real FUSE mounts through the real command line."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backupfs.mounting import is_mounted


def run_cli(*args: str | os.PathLike[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python -m backupfs`` as a user would; fail loudly with its output."""
    result = subprocess.run(
        [sys.executable, "-m", "backupfs", *map(str, args)], capture_output=True, text=True, timeout=300
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


@pytest.fixture
def mount(tmp_path: Path, index_dir: Path) -> Iterator[Callable[..., Path]]:
    """``mount(source)`` mounts with the CLI and returns the mount point; unmounted at teardown."""
    mounted: list[Path] = []

    def do_mount(source: Path, *extra: str) -> Path:
        mountpoint = tmp_path / f"mnt{len(mounted)}"
        mountpoint.mkdir()
        run_cli("mount", source, mountpoint, "--index-dir", index_dir, *extra)
        assert is_mounted(mountpoint)
        mounted.append(mountpoint)
        return mountpoint

    yield do_mount
    for mountpoint in mounted:
        if is_mounted(mountpoint):
            with contextlib.suppress(AssertionError):
                run_cli("unmount", mountpoint)
        assert not is_mounted(mountpoint), f"{mountpoint} could not be unmounted"
