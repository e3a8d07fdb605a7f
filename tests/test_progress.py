"""The progress line a user sees while the first index of a large backup is built."""

from __future__ import annotations

import io

from backupfs.progress import Progress


def test_known_total_shows_count_rate_and_time_left() -> None:
    out = io.StringIO()
    with Progress("Typing unnamed files", 200, stream=out, enabled=True) as bar:
        bar.advance(50)
        bar.advance(150)
    last = out.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("Typing unnamed files: [" + "#" * 30 + "] 200/200 ")
    assert "/s," in last and "s left" in last
    assert out.getvalue().endswith("\n")


def test_unknown_total_shows_count_and_rate_only() -> None:
    out = io.StringIO()
    with Progress("Listing payloads", 0, stream=out, enabled=True) as bar:
        bar.update(4096, 0)
    last = out.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("Listing payloads: 4,096 ") and last.rstrip().endswith("/s")
    assert "left" not in last and "[" not in last


def test_silent_when_not_asked_or_not_on_a_terminal() -> None:
    out = io.StringIO()  # not a terminal
    with Progress("Naming files", 10, stream=out) as bar:
        bar.advance(10)
    assert out.getvalue() == ""
