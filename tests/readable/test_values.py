"""The values every renderer shows: CSV cells that cannot run a formula, dates, durations, and the order of lists."""

from __future__ import annotations

import pytest

from backupfs.readable.values import (
    APPLE_EPOCH,
    cell,
    clock,
    csv_bytes,
    int_of,
    newest_first,
    oldest_first,
    plural,
    readable_link,
    text_of,
    unix_time,
)
from tests.readable.helpers import csv_rows


@pytest.mark.parametrize(("given", "shown"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("+A1+B1", "'+A1+B1"),
    ("-2+cmd|' /C calc'!A0", "'-2+cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("+44\ufffd", "'+44\ufffd"),  # not a plain number
    ("+1 (555) 010-0199", "+1 (555) 010-0199"),  # a phone number stays readable: no letter, nothing to run
    ("+447700900123", "+447700900123"),
    ("-12.5", "-12.5"),
    ("Anna = Ben", "Anna = Ben"),
    ("", ""),
])
def test_a_cell_that_would_run_as_a_formula_is_guarded(given: str, shown: str) -> None:
    assert cell(given) == shown
    assert csv_rows(csv_bytes(["Value"], [[given]])) == [["Value"], [shown]]


def test_every_csv_has_the_byte_order_mark_and_reads_back() -> None:
    rows = [["Léa 🎸", "a, \"quoted\"\nsecond line", "+33 6 12 34 56 78"]]
    assert csv_rows(csv_bytes(["Name", "Note", "Phone"], rows)) == [["Name", "Note", "Phone"], *rows]


@pytest.mark.parametrize(("value", "unix"), [
    (721_300_000, APPLE_EPOCH + 721_300_000), ("721300000", APPLE_EPOCH + 721_300_000), (b"721300000.5", APPLE_EPOCH + 721_300_000.5),
    (0, None), (None, None), ("yesterday", None), (9e300, None), (float("inf"), None), (-APPLE_EPOCH + 1e5, None),
])
def test_apple_dates_read_whatever_the_column_holds(value: object, unix: float | None) -> None:
    assert unix_time(value, APPLE_EPOCH) == unix


def test_values_of_any_type_read_as_text_and_numbers() -> None:
    assert text_of(b"Caf\xe9\x00") == "Caf\ufffd" and text_of(None) == "" and text_of(17) == "17"
    assert int_of("3.0") == 3 and int_of(b"12") == 12 and int_of(True) is None and int_of(b"\xff") is None
    assert clock(3725.4) == "1:02:05" and clock(-1) == "" and clock("long") == ""
    assert plural(1, "call") == "1 call" and plural(1204, "event") == "1,204 events"
    assert readable_link("../../MediaDomain/JR%20Pass%20%28T%C5%8Dky%C5%8D%29.pdf") == "../../MediaDomain/JR Pass (Tōkyō).pdf"


def test_lists_are_newest_first_and_names_go_oldest_first_undated_last() -> None:
    dates = [200.0, None, 100.0, 300.0]
    assert sorted(dates, key=newest_first) == [300.0, 200.0, 100.0, None]
    assert sorted(dates, key=oldest_first) == [100.0, 200.0, 300.0, None]
