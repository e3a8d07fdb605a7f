"""Complete an index from a process of its own, while the mount serves the rest.

Typing unnamed payloads and filling metadata are pure Python work over every file. Run in
the filesystem's process they would hold its interpreter lock for seconds, and every FUSE
call would wait behind them; in a fresh process they use the other core instead.
``python -m backupfs.finish typing|attributes INDEX`` is what the filesystem runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backupfs.build import fill_attributes, finish_typing
from backupfs.errors import BackupfsError

STEPS = {"typing": finish_typing, "attributes": fill_attributes}


def finish_apart(step: str, index_path: Path) -> None:
    """Run ``step`` of the completion of ``index_path`` in a child process, and wait for it."""
    command = [sys.executable, "-m", "backupfs.finish", step, str(index_path)]
    # The child imports this very package, wherever it was imported from (an install, a checkout).
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", env=env
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise BackupfsError(lines[-1] if lines else f"completing the index ({step}) failed")


def main(argv: list[str]) -> int:
    step, index_path = argv
    try:
        STEPS[step](Path(index_path), show_progress=False)
    except BackupfsError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
