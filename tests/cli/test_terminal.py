"""What a person at a terminal sees: progress bars, Ctrl-C, a mount in the foreground, info on a mount.

Every command runs for real on a pseudo-terminal (``run_on_terminal``), so the bars are
drawn as a terminal receives them; the backup of 50,000 unnamable files makes sorting by
type last seconds, long enough to watch and to interrupt.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.mounttable import is_mounted
from tests.conftest import completion_processes, run_cli, run_on_terminal

SORTING = "Sorting unnamed files by type"
DEADLINE = 60


def drawn(output: str, label: str) -> list[str]:
    """Every state of the bar ``label`` the terminal was sent, in order."""
    return [piece for piece in re.split(r"\r\n|\r|\n", output) if piece.startswith(f"{label}: ")]


def sorting_started(output: str) -> bool:
    return any("100%" not in state for state in drawn(output, SORTING))


def assert_ends_at_100_percent(output: str, label: str) -> None:
    states = drawn(output, label)
    assert states, f"no {label!r} bar was drawn:\n{output}"
    assert re.match(rf"{re.escape(label)}: 100%\|.*\| 50,000/50,000 files \[", states[-1]), states[-1]
    assert f"{states[-1]}\r\n" in output  # left as it ended, on a line of its own
    lines = output.split("\r\n")
    assert sum(f"{label}: 100%|" in line for line in lines) == 1  # and on one line only, not printed twice


def test_info_on_a_terminal_shows_each_phase_once_ending_at_100_percent(many_unnamed: Path, index_dir: Path) -> None:
    started = time.monotonic()
    output, code = run_on_terminal("info", many_unnamed, "--index-dir", index_dir)
    seconds = time.monotonic() - started
    assert code == 0, output
    assert_ends_at_100_percent(output, SORTING)
    # Redrawn at most five times a second, however many files pass.
    for label in {piece.split(":", 1)[0] for piece in re.split(r"\r\n|\r", output) if "%|" in piece}:
        assert len(drawn(output, label)) <= 5 * seconds + 2, (label, drawn(output, label))
    assert "Payloads:     50,000" in output and "  unnamed:    50,000 (text 50,000)" in output


def test_no_bar_when_stderr_is_not_a_terminal(many_unnamed: Path, index_dir: Path) -> None:
    result = run_cli("info", many_unnamed, "--index-dir", index_dir)
    assert result.stderr == "" and "%|" not in result.stdout


def test_ctrl_c_leaves_a_clean_line_and_nothing_behind(many_unnamed: Path, index_dir: Path) -> None:
    output, code = run_on_terminal("info", many_unnamed, "--index-dir", index_dir, interrupt_when=sorting_started)
    assert code == 130, output
    # The bar is left where it stopped, and the news is on a line of its own: nothing drawn after it.
    assert output.endswith("\rbackupfs: interrupted\r\n"), output[-400:]
    last_state = drawn(output, SORTING)[-1]
    assert "100%" not in last_state and f"{last_state}\r\n" in output
    assert "Traceback" not in output and "Warning" not in output
    assert not list(index_dir.glob("*.tmp")), "a half-written index was left in the cache"
    assert not typing_processes(), "typing's worker processes outlived the command"


def typing_processes() -> list[int]:
    """Typing workers (spawned Python processes of multiprocessing) still running, besides pytest's own."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if b"multiprocessing" in command and b"spawn" in command and state != "Z":
                found.append(int(entry))
    return found


def test_mount_in_the_foreground_says_how_to_stop_and_shows_the_sorting(
    many_unnamed: Path, index_dir: Path, tmp_path: Path
) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        output, code = run_on_terminal(
            "mount", "-f", many_unnamed, mnt, "--index-dir", index_dir,
            interrupt_when=lambda said: any(" 100%|" in state for state in drawn(said, SORTING)),
        )
    finally:
        if is_mounted(mnt):
            run_cli("unmount", mnt)
    assert code == 0, output
    assert f"Mounted on {mnt}. Press Ctrl-C here to unmount it (or run '" in output
    assert "50,000 files without a proven name are being sorted by type into other-data/" in output
    assert_ends_at_100_percent(output, SORTING)
    assert output.endswith(f"\rUnmounted {mnt}.\r\n"), output[-400:]
    assert not is_mounted(mnt) and "Traceback" not in output


def test_info_on_a_mounted_backup_says_how_far_the_sorting_is(
    many_unnamed: Path, index_dir: Path, tmp_path: Path, mount
) -> None:
    mnt = mount(many_unnamed)
    [index] = index_dir.glob("*.index.sqlite")
    status_file = index.with_name(index.name + ".progress")
    completion = None
    deadline = time.monotonic() + DEADLINE
    while completion is None and time.monotonic() < deadline:  # once the sorting has said how far it is
        if status_file.exists():
            completion = next(iter(completion_processes(index_dir)), None)
        time.sleep(0.01)
    assert completion is not None, "the mount's sorting never said how far it was"
    os.kill(completion, signal.SIGSTOP)  # held mid-way, so what info says can be checked
    try:
        info = run_cli("info", many_unnamed, "--index-dir", index_dir).stdout
    finally:
        os.kill(completion, signal.SIGCONT)
    working = re.search(
        rf"^Working:      the mount at {re.escape(str(mnt))}: sorting unnamed files by type, ([\d,]+) of 50,000 "
        r"\((\d+)%\)", info, re.M,
    )
    assert working, info
    assert 0 < int(working[1].replace(",", "")) < 50_000
    assert "  unnamed:    50,000, not sorted by type yet" in info
    # info did not sort them itself: the mount finishes, and other-data is whole.
    assert len(os.listdir(mnt / "other-data" / "text")) == 50_000


def test_a_mount_in_the_background_says_other_data_is_being_sorted(many_unnamed: Path, mount) -> None:
    mount(many_unnamed)
    assert (
        f"Your data in readable form ({READABLE_FOLDER}/: messages, contacts, notes...) is being prepared in the "
        "background, and 50,000 files without a proven name are being sorted by type into other-data/; each folder "
        f"opens once it is ready ('{sys.executable} -m backupfs info {many_unnamed}' says how far it is)."
    ) in mount.said
