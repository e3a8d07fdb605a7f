"""Complete an index from a process of its own, while the mount serves the rest.

Typing unnamed payloads and filling metadata are pure Python work over every file. Run in
the filesystem's process they would hold its interpreter lock for seconds, and every FUSE
call would wait behind them; in a fresh process they use the other core instead.
:class:`Completion` is the filesystem's side; ``python -m backupfs.finish STEP INDEX
MOUNTPOINT [--progress]`` is the child it runs.

The child ends when the filesystem stops it or is gone (unmounted, or killed): a
completion left running would go on reading the backup after the user was told it was
done with, and would keep a disk they want to eject busy. What it had not finished is done
again by the next mount. Both ends come down to one signal: the child's stdin is a pipe
from the filesystem, which reaches end-of-file when the filesystem closes it or exits, however.

While it works, the child says how far it is in a status file beside the index
(:func:`backupfs.build.running_completion`), which ``backupfs info`` reads; with
``--progress`` (``mount -f`` on a terminal) it also draws its bars on the terminal.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from backupfs.build import completion_status_path, fill_attributes, finish_typing
from backupfs.errors import BackupfsError
from backupfs.index import WRITING
from backupfs.progress import StatusFile, close_all

STEPS = {"typing": finish_typing, "attributes": fill_attributes}
_STOP_SECONDS = 5.0


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
        """Run ``step`` ("typing" or "attributes") in a child process and wait for it; one-line error on failure."""
        command = [sys.executable, "-m", "backupfs.finish", step, str(self.index_path), str(self.mountpoint)]
        if self.show_progress:
            command.append("--progress")
        # The child imports this very package, wherever it was imported from (an install, a checkout).
        package_parent = str(Path(__file__).resolve().parent.parent)
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
