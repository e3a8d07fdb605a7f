"""The progress bars a user sees while the first index of a large backup is built, and the status file.

A terminal is stood for by a text stream that says it is one; ``test_terminal.py`` runs the
real command on a real pseudo-terminal.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import backupfs.progress
from backupfs.index.build import build_index
from backupfs.progress import Progress, StatusFile, read_status
from backupfs.source.discover import find_backups
from tests.backups import build


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def states(output: str, label: str) -> list[str]:
    return [piece for piece in re.split(r"\r|\n", output) if piece.startswith(f"{label}: ")]


@pytest.fixture
def shown_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bars from the first moment, so that the phases of a small backup show too."""
    monkeypatch.setattr(backupfs.progress, "_SHOW_AFTER_SECONDS", 0)


def test_known_total_shows_count_rate_and_time_left_and_ends_at_100_percent(shown_at_once: None) -> None:
    out = Terminal()
    with Progress("Sorting unnamed files by type", 225_000, stream=out) as bar:
        for _ in range(225):
            bar.advance(1000)
    final = states(out.getvalue(), "Sorting unnamed files by type")[-1]
    assert re.fullmatch(r"Sorting unnamed files by type: 100%\|.*\| 225,000/225,000 files \[00:00<00:00, [\d,]+/s\]", final)
    assert out.getvalue().endswith(final + "\n")


def test_redraws_are_limited_however_fast_the_work_goes(shown_at_once: None) -> None:
    out = Terminal()
    started = time.monotonic()
    with Progress("Listing files", 1_000_000, stream=out) as bar:
        while time.monotonic() - started < 0.6:
            bar.advance(1)
    assert 2 <= len(states(out.getvalue(), "Listing files")) <= 6  # at most every 0.2 s, and the last state


def test_unknown_total_shows_count_and_rate_then_a_bar_once_known(shown_at_once: None) -> None:
    out = Terminal()
    with Progress("Reading Manifest.db", None, unit="rows", stream=out) as bar:
        time.sleep(0.25)
        bar.update(4096)
        first = states(out.getvalue(), "Reading Manifest.db")[-1]
        time.sleep(0.25)
        bar.update(8192, 8192)
    assert re.fullmatch(r"Reading Manifest.db: 4,096 rows \[00:00, [\d,]+/s\]", first)
    assert "100%|" in states(out.getvalue(), "Reading Manifest.db")[-1]


def test_steps_of_unequal_size_show_no_count_or_rate(shown_at_once: None) -> None:
    out = Terminal()
    with Progress("Naming files", 4, unit=None, stream=out) as bar:
        bar.update(2.5)
        bar.describe("generating camera roll names")
        time.sleep(0.25)
        bar.update(4)
    final = states(out.getvalue(), "Naming files")[-1]
    assert re.fullmatch(r"Naming files: 100%\|.*\| \[00:00<00:00, generating camera roll names\]", final)


def test_a_short_phase_or_a_stream_that_is_no_terminal_shows_nothing() -> None:
    quick, log = Terminal(), io.StringIO()
    with Progress("Naming files", 10, stream=quick) as bar:  # over within half a second
        bar.advance(10)
    with Progress("Naming files", 10, stream=log) as bar:  # not a terminal
        time.sleep(0.6)
        bar.advance(10)
    assert quick.getvalue() == "" and log.getvalue() == ""


def test_every_phase_of_a_first_build_ends_at_100_percent(
    tmp_path: Path, shown_at_once: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in ("db", "none"):
        backup = build(tmp_path / index, index=index)
        build_index(find_backups(backup.root), tmp_path / f"cache-{index}", show_progress=True)
        shown = capsys.readouterr().err
        phases = ["Listing files", "Naming files", "Writing the index", "Reading file sizes"]
        phases += ["Reading Manifest.db", "Reading metadata from Manifest.db"] if index == "db" else [
            "Sorting unnamed files by type"]
        for label in phases:
            assert states(shown, label), f"no {label!r} bar ({index}):\n{shown}"
            final = states(shown, label)[-1]
            assert " 100%|" in final, final
            assert sum(f"{label}: 100%|" in line for line in shown.split("\n")) == 1, shown
        assert re.search(r"Listing files: 100%\|.*\| (\d+)/\1 folders \[.*, \d+ files\]", shown)


def test_the_status_file_says_how_far_a_living_process_is(tmp_path: Path) -> None:
    status = StatusFile(tmp_path / "index.progress", "/home/me/iphone")
    with Progress("Sorting unnamed files by type", 200, stream=io.StringIO(), status=status) as bar:
        bar.advance(50)
        seen = read_status(status.path)
    assert seen is not None and (seen.pid, seen.done, seen.total) == (os.getpid(), 50, 200)
    assert seen.label == "Sorting unnamed files by type" and seen.mountpoint == "/home/me/iphone"
    assert seen.seconds_left(seen.started + 10) == pytest.approx(30)
    status.remove()
    assert read_status(status.path) is None


def test_a_status_file_left_by_a_dead_process_is_ignored(tmp_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", (
            "import sys, time; from pathlib import Path; from backupfs.progress import StatusFile; "
            "StatusFile(Path(sys.argv[1]), '/mnt').write('Sorting unnamed files by type', 5, 10, time.time())"
        ), str(tmp_path / "left.progress")],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, check=True,
    )
    assert child.returncode == 0 and (tmp_path / "left.progress").exists()
    assert read_status(tmp_path / "left.progress") is None  # its process has ended: nobody is at it
