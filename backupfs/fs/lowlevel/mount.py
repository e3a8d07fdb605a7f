"""Serving a mount through the low-level backend: libfuse's session, its options, signals and loop.

:func:`serve` takes the options :func:`backupfs.fs.mounting.fuse_options` makes for the
mfusepy backend and keeps their meaning: the mount options go to libfuse
(``fuse_session_new`` parses them), the high-level API's own (``attr_timeout``,
``entry_timeout``, ``negative_timeout``, ``kernel_cache``, and ``readdirplus=yes|no|auto``
of its connection options) become the server's replies, and the loop's (``max_threads``,
``max_idle_threads``) its threads. An option libfuse does not know is refused by libfuse,
with its own message on stderr.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from backupfs.content.mount_source import MountSource
from backupfs.errors import MountError
from backupfs.fs.lowlevel import ffi
from backupfs.fs.lowlevel.server import DAY, READDIRPLUS, LowLevelServer

# Threads answering requests. Python runs one at a time, but a request that waits (a
# folder still being filled, a slow disk) must not hold up the others; libfuse's default.
MAX_THREADS = 10
_TIMEOUTS = ("attr_timeout", "entry_timeout", "negative_timeout")
T = TypeVar("T", int, float)


def why_unusable(allow_newer: bool = False) -> str | None:
    """Why the low-level backend cannot serve on this system, or None when it can.

    It needs Linux on x86_64 or aarch64 and libfuse3 3.10 to 3.17 (a newer 3.x with
    ``allow_newer``, taken as 3.17). Loading libfuse3 to know its version is all it does.
    """
    try:
        ffi.load(allow_newer)
    except OSError as exc:
        return str(exc)
    return None


def serve(
    source: MountSource,
    mountpoint: str,
    on_ready: Callable[[], None] | None = None,
    allow_newer: bool = False,
    **options: str | bool,
) -> None:
    """Serve ``source`` at ``mountpoint`` until it is unmounted: ``fusermount3 -u``, SIGINT, SIGTERM or SIGHUP.

    Runs in the calling thread, as mfusepy's ``FUSE(..., foreground=True)`` does; the
    background mount is :func:`backupfs.fs.mounting.mount`'s fork. Raises RuntimeError
    when libfuse refuses the options or the mount (it says why on stderr), or when its loop
    ends with an error: the signal that ended it, as libfuse reports one. An option value
    this backend reads itself (a timeout, a number of threads) that it cannot use is a
    :class:`MountError`.
    """
    libfuse = ffi.load(allow_newer)
    settings = dict(options)
    timeouts = {name: _number(settings, name, float, DAY) for name in _TIMEOUTS}
    max_threads = _number(settings, "max_threads", int, MAX_THREADS)
    max_idle_threads = _number(settings, "max_idle_threads", int, MAX_THREADS)
    keep_cache = settings.pop("kernel_cache", False) is True
    readdirplus = settings.pop("readdirplus", "yes")
    if readdirplus not in READDIRPLUS:
        raise MountError(f"-o readdirplus={readdirplus}: give one of {', '.join(READDIRPLUS)}.")
    server = LowLevelServer(source, libfuse, keep_cache=keep_cache, readdirplus=str(readdirplus), on_ready=on_ready,
                            **timeouts)
    args = libfuse.arguments(_argv(settings))
    try:
        session = libfuse.session_new(args, server.operations)
        if not session:
            raise RuntimeError("libfuse refused the mount options")
        try:
            result = _mounted(libfuse, session, mountpoint, max_threads, max_idle_threads)
        finally:
            libfuse.fuse_session_destroy(session)
    finally:
        libfuse.fuse_opt_free_args(ctypes.byref(args))
    if result != 0:
        raise RuntimeError(result)


def _mounted(libfuse: ffi.Libfuse, session: int, mountpoint: str, max_threads: int, max_idle_threads: int) -> int:
    """Mount, run the loop until unmounted, unmount: the loop's result (0, or the signal that ended it)."""
    # libfuse takes only the signals left at their default, and Python's SIGINT handler would
    # wait, unheard, for this thread to come back from C: Ctrl-C goes to libfuse meanwhile.
    in_main_thread = threading.current_thread() is threading.main_thread()
    python_sigint = signal.getsignal(signal.SIGINT)
    if in_main_thread:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        if in_main_thread and libfuse.fuse_set_signal_handlers(session) != 0:
            raise RuntimeError("libfuse could not set its signal handlers")
        try:
            if libfuse.fuse_session_mount(session, os.fsencode(mountpoint)) != 0:
                raise RuntimeError(f"libfuse could not mount on {mountpoint}")
            try:
                return libfuse.loop_mt(session, max_threads, max_idle_threads)
            finally:
                libfuse.fuse_session_unmount(session)
        finally:
            if in_main_thread:
                libfuse.fuse_remove_signal_handlers(session)
    finally:
        if in_main_thread and python_sigint is not None:  # None: a handler set outside Python, gone with libfuse's
            signal.signal(signal.SIGINT, python_sigint)


def _number(settings: dict[str, str | bool], name: str, kind: type[T], default: T) -> T:
    """The value of option ``name``, taken out of ``settings``; a MountError saying what to give instead."""
    value = settings.pop(name, default)
    try:
        if not isinstance(value, bool):  # "-o attr_timeout" alone
            return kind(value)  # type: ignore[call-arg]
    except ValueError:
        pass
    raise MountError(f"-o {name}: give a number (e.g. -o {name}={default:g}).")


def _argv(options: dict[str, str | bool]) -> list[str]:
    """``backupfs -o a,b=c``: the options as libfuse's parser takes them, commas and backslashes in values escaped."""
    parts = []
    for name, value in options.items():
        if value is True:
            parts.append(name)
        elif value is not False:
            parts.append(f"{name}=" + str(value).replace("\\", "\\\\").replace(",", "\\,"))
    return ["backupfs", "-o", ",".join(parts)] if parts else ["backupfs"]
