"""Complete an index from a process of its own, while the mount serves the rest.

Typing unnamed payloads and filling metadata are pure Python work over every file. Run in
the filesystem's process they would hold its interpreter lock for seconds, and every FUSE
call would wait behind them; in a fresh process they use the other core instead.
``python -m backupfs.finish typing|attributes INDEX`` is what the filesystem runs.

The child ends when the filesystem process does (it is unmounted): a completion left
running would go on reading the backup after the user was told it was done with, and
would keep a disk they want to eject busy. What it had not finished is done again by the
next mount.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from backupfs.build import fill_attributes, finish_typing
from backupfs.errors import BackupfsError
from backupfs.index import WRITING

STEPS = {"typing": finish_typing, "attributes": fill_attributes}
_PARENT = "BACKUPFS_FINISH_FOR"  # the process the child serves, by pid
_PARENT_CHECK_SECONDS = 0.5


def finish_apart(step: str, index_path: Path) -> None:
    """Run ``step`` of the completion of ``index_path`` in a child process, and wait for it."""
    command = [sys.executable, "-m", "backupfs.finish", step, str(index_path)]
    # The child imports this very package, wherever it was imported from (an install, a checkout).
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])),
        _PARENT: str(os.getpid()),
    }
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", env=env
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise BackupfsError(lines[-1] if lines else f"completing the index ({step}) failed")


def _end_with(parent: int) -> None:
    """Exit as soon as ``parent`` is gone (this process is then handed to another parent).

    At once, from this thread: worker processes are killed, and the index being written
    is removed, not finished.
    """
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    for worker in multiprocessing.active_children():  # typing's worker processes would linger
        worker.kill()
    for unfinished in list(WRITING):
        Path(unfinished).unlink(missing_ok=True)
    os._exit(0)


def main(argv: list[str]) -> int:
    step, index_path = argv
    if os.environ.get(_PARENT, "").isdigit():
        threading.Thread(target=_end_with, args=(int(os.environ[_PARENT]),), daemon=True).start()
    try:
        STEPS[step](Path(index_path), show_progress=False)
    except BackupfsError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
