"""Run a function in a child process of its own, and take back only its result: one line of text.

A build holds every name of a backup in Python objects; the process that goes on to serve
the mount would keep that memory for its whole life (a forked server inherits it too). So
such work runs in a process that exits when done. Errors come back as the same one-line
:class:`BackupfsError`; anything else the child meets comes back as a crash with its
traceback; Ctrl-C ends both. A system that cannot fork (Windows) does the work in this
process: the memory it takes is the price, and ``extract`` and ``info`` never ask for it.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable

from backupfs.errors import BackupfsError


def run_apart(work: Callable[[], str]) -> str:
    """``work()``'s result, computed in a forked child where the system can fork."""
    if not hasattr(os, "fork"):
        return work()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        code, reply = 0, b""
        try:
            reply = b"ok\0" + os.fsencode(work())
        except BackupfsError as exc:
            code, reply = 1, b"error\0" + str(exc).encode(errors="replace")
        except KeyboardInterrupt:
            code = 130
        except BaseException:  # noqa: BLE001 - the child reports whatever ends it, as a crash
            code, reply = 2, b"crash\0" + traceback.format_exc().encode(errors="replace")
        with os.fdopen(write_end, "wb") as out:
            out.write(reply)
        os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as replies:
            reply = replies.read()
    finally:  # also on Ctrl-C, which the child gets too: it closes its progress bars before we say more
        os.waitpid(pid, 0)
    kind, _, detail = reply.partition(b"\0")
    if kind == b"ok":
        return os.fsdecode(detail)
    if kind == b"error":
        raise BackupfsError(detail.decode())
    if kind == b"crash":
        raise RuntimeError(f"the work done apart failed:\n{detail.decode()}")
    raise KeyboardInterrupt
