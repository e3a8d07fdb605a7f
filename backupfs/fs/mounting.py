"""Mounting and unmounting: the process side of the FUSE filesystem.

Without ``--foreground`` the filesystem runs in a forked child and ``mount`` returns only
once the kernel has the mount (the child's FUSE ``init`` writes to a pipe), so scripts
can use the mount point right after the command. Failures in the child come back
through the same pipe as one line.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from backupfs.errors import MountError
from backupfs.index.store import Index
from backupfs.source.mounttable import FSNAME, is_mounted, mount_at

if TYPE_CHECKING:
    from backupfs.content.mount_source import Completion

log = logging.getLogger(__name__)


_READY = b"ready\n"
_READY_TIMEOUT = 60.0
# libfuse 3.14 prints "Ignoring invalid max threads value 4294967295" on every mount unless
# the number of idle threads is set; 10 was libfuse's own default before 3.14.
_IDLE_THREADS = "10"


def parse_options(text: str | None) -> dict[str, str | bool]:
    """``-o a=b,c`` as FUSE keyword options."""
    options: dict[str, str | bool] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if item:
            key, sep, value = item.partition("=")
            options[key] = value if sep else True
    return options


# Mark the mount as backupfs's in the mount table (see mounttable): not the user's to change.
_OWN_OPTIONS = ("fsname", "subtype")


def fuse_options(volume_name: str, user_options: dict[str, str | bool]) -> dict[str, str | bool]:
    """Options for an immutable, read-only source; the user's ``-o`` wins, but for the marks of a backupfs mount."""
    reserved = [name for name in _OWN_OPTIONS if name in user_options]
    if reserved:
        raise MountError(
            f"-o {reserved[0]} is set by backupfs itself (it tells 'backupfs unmount' which mounts are its own): "
            "leave it out."
        )
    options: dict[str, str | bool] = {
        "ro": True,
        "fsname": FSNAME,
        "kernel_cache": True,
        "attr_timeout": str(86400),
        "entry_timeout": str(86400),
        "negative_timeout": str(86400),
        "default_permissions": True,
    }
    if sys.platform.startswith("linux"):
        options["subtype"] = FSNAME
    if sys.platform == "darwin":
        options.update(volname=volume_name, noappledouble=True, noapplexattr=True, local=True)
    options.update(user_options)
    return options


def check_mountpoint(mountpoint: Path) -> None:
    """Refuse mount points that would fail later with a less helpful message."""
    if is_mounted(mountpoint):
        raise MountError(f"{mountpoint} is already a mount point: run 'backupfs unmount {mountpoint}' first.")
    try:
        if not stat.S_ISDIR(os.stat(mountpoint).st_mode):
            raise MountError(f"mount point {mountpoint} is not a folder: give an empty folder to mount on.")
        if os.listdir(mountpoint):
            raise MountError(f"mount point {mountpoint} is not empty: give an empty folder to mount on.")
    except (FileNotFoundError, NotADirectoryError):
        raise MountError(f"mount point {mountpoint} does not exist: create it with 'mkdir -p {mountpoint}'.") from None
    except PermissionError:
        raise MountError(f"cannot read mount point {mountpoint}: check its permissions.") from None
    except OSError as exc:  # e.g. below a stale mount: "Transport endpoint is not connected"
        raise MountError(f"cannot use mount point {mountpoint}: {exc.strerror or exc}.") from None


def _run(
    index: Index,
    mountpoint: Path,
    options: dict[str, str | bool],
    completion: Completion | None,
    on_ready: Callable[[], None] | None,
) -> None:
    """Serve until unmounted, whether by ``backupfs unmount`` or by a signal (Ctrl-C, SIGTERM).

    libfuse catches SIGINT, SIGTERM and SIGHUP itself, unmounts, and then reports the
    signal as a failure of its loop, which mfusepy raises as a bare ``RuntimeError``; once
    the mount was up and is gone, that is the normal end of a foreground mount.
    """
    # Here, not above: commands that do not mount never load libfuse.
    from backupfs.content.mount_source import MountSource
    from backupfs.fs.kernel_cache import KernelCachingFUSE
    from backupfs.fs.libfuse import fuse
    from backupfs.fs.operations import BackupFS

    served = threading.Event()

    def ready() -> None:
        served.set()
        if on_ready is not None:
            on_ready()

    if fuse.fuse_version_major == 3:
        options = {"max_idle_threads": _IDLE_THREADS, **options}
    operations = BackupFS(MountSource(index, completion), on_ready=ready)
    try:
        KernelCachingFUSE(operations, str(mountpoint), foreground=True, **options)
    except RuntimeError as exc:
        if not served.is_set():
            raise MountError(f"could not mount on {mountpoint}: libfuse refused (error {exc}).") from None
        if is_mounted(mountpoint):
            raise MountError(
                f"the filesystem at {mountpoint} stopped (libfuse error {exc}): run 'backupfs unmount {mountpoint}'."
            ) from None
        log.info("%s was unmounted by a signal", mountpoint)


def mount(
    index: Index,
    mountpoint: Path,
    options: dict[str, str | bool],
    foreground: bool,
    keep_stderr: bool = False,
    completion: Completion | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Mount ``index`` at ``mountpoint``; in the background unless ``foreground``.

    ``completion`` completes, once mounted, an index whose :attr:`Index.pending_dirs` are
    not known yet, then fills what the index left to be read lazily; the mount is usable
    meanwhile. ``on_ready`` is called once the mount can be used: from the filesystem in
    the foreground, before ``mount`` returns in the background.

    A background filesystem keeps writing its log to the terminal's stderr only when
    ``keep_stderr`` (``-v``) asks for it; otherwise it is silent once mounted.
    """
    if foreground:
        _run(index, mountpoint, options, completion, on_ready)
        return
    index.close()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the filesystem process
        os.close(read_end)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        log_target = os.dup(2) if keep_stderr else devnull
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(write_end, 2)  # libfuse explains mount failures on stderr

        def ready() -> None:
            os.write(write_end, _READY)
            os.dup2(log_target, 2)

        code = 0
        try:
            _run(index, mountpoint, options, completion, ready)
        except BaseException as exc:  # the parent turns this into one line
            os.write(write_end, f"error: {exc}\n".encode(errors="replace"))
            code = 1
        os._exit(code)
    os.close(write_end)
    _wait_ready(read_end, pid, mountpoint)
    if on_ready is not None:
        on_ready()


def _wait_ready(read_end: int, pid: int, mountpoint: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    message = b""
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 0.5)
            if ready:
                chunk = os.read(read_end, 4096)
                message += chunk
                if _READY in message:
                    return
                if not chunk:
                    break
            elif os.waitpid(pid, os.WNOHANG) != (0, 0):
                break
    finally:
        os.close(read_end)
    lines = [line.strip() for line in message.decode(errors="replace").splitlines() if line.strip()]
    libfuse = [line for line in lines if not line.startswith("error: ")]
    prefix = f"error: could not mount on {mountpoint}: "  # the child's own MountError
    ours = [line.removeprefix(prefix).removeprefix("error: ") for line in lines if line.startswith("error: ")]
    if libfuse:  # libfuse said why (an unknown -o option, no /dev/fuse, ...): that is the news
        raise MountError(f"could not mount on {mountpoint}: {'; '.join(libfuse)}.")
    detail = ours[0] if ours else "the filesystem process ended before the mount was ready"
    raise MountError(f"could not mount on {mountpoint}: {detail} (is FUSE installed? try 'apt-get install fuse3').")


def unmount(mountpoint: Path) -> None:
    """Unmount a backupfs mount, also a stale one whose process is gone; refuse any other mount."""
    mounted = mount_at(mountpoint)
    if mounted is None:
        raise MountError(f"{mountpoint} is not mounted: there is nothing to unmount.")
    if not mounted.is_backupfs:
        raise MountError(
            f"{mountpoint} is not a backupfs mount (it is a {mounted.fstype} mount of {mounted.source}), so backupfs "
            f"leaves it alone: unmount it with 'umount {mountpoint}' if that is what you mean."
        )
    if sys.platform.startswith("linux"):
        tool = shutil.which("fusermount3") or shutil.which("fusermount")
        commands = [[tool, "-u", str(mountpoint)], [tool, "-u", "-z", str(mountpoint)]] if tool else []
        commands.append(["umount", str(mountpoint)])
    else:
        commands = [["umount", str(mountpoint)], ["diskutil", "unmount", "force", str(mountpoint)]]
    errors = []
    for command in commands:
        if shutil.which(command[0]) is None and not os.path.isabs(command[0]):
            continue
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 and not is_mounted(mountpoint):
            return
        errors.append(result.stderr.strip())
    detail = next((e for e in errors if e), "unknown reason")
    raise MountError(f"could not unmount {mountpoint}: {detail} (close programs using it and try again).")
