"""Calls and Voicemail: every call of both call-log generations in the page and the spreadsheet, every voicemail
listed and its audio shown under a name that says when and who."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest

from backupfs.demo import samples
from backupfs.demo.backup import demo_specs
from backupfs.demo.readable_calls import (
    CALL_HISTORY,
    HOME,
    LEGACY_CALL_HISTORY,
    VOICEMAIL_DB,
    WIRELESS,
    DatabaseSample,
    SampleCall,
    SampleVoicemail,
    call_history,
    legacy_call_history,
    voicemail,
)
from backupfs.demo.sqlbuild import database_bytes, sql_literal
from backupfs.readable.addressbook import ADDRESS_BOOK
from backupfs.readable.calls import CALL_HEADER, CALLS, VOICEMAIL, VOICEMAIL_HEADER
from tests.readable.conftest import FixtureBackup
from tests.readable.helpers import (
    DAMAGE,
    assert_names_safe_and_unique,
    csv_rows,
    damaged_table,
    planned,
    stamp,
)

pytestmark = pytest.mark.usefixtures("utc")  # dates are shown in local time: expected ones are exact in UTC

CALL_LOGS = {"ios10-17": call_history, "ios8-9": lambda: call_history(service_provider=False),
             "ios7": legacy_call_history}
VOICEMAILS = {"ios4+": voicemail, "ios3": lambda: voicemail(trashed_date=False)}


def install(backup: FixtureBackup, sample: DatabaseSample, address_book: bool = True) -> FixtureBackup:
    """The sample as the demo backup holds it: through its payloads."""
    for spec in sample.payloads():
        assert spec.content is not None
        backup.add(spec.domain, spec.relative_path, spec.content)
    if address_book:
        backup.add(HOME, ADDRESS_BOOK, samples.address_book())
    return backup


class Table(HTMLParser):
    """The title and table cells of a page; fails on any unbalanced tag."""

    VOID = frozenset({"meta", "br", "img", "hr", "link"})

    def __init__(self, data: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.title = ""
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.feed(data.decode("utf-8"))
        self.close()
        assert not self.stack, f"unclosed tags: {self.stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag == "thead":
            self.header = self.rows.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] in ("td", "th"):
            self.rows[-1][-1] += data
        elif self.stack and self.stack[-1] == "h1":
            self.title += data


def call_row(call: SampleCall) -> list[str]:
    return [stamp(call.unix), call.direction, call.name, call.number, call.duration, call.kind]


def newest_first(dates: list[str]) -> bool:
    """Whether the dates of a list go from newest to oldest, the undated ones last."""
    dated = [date for date in dates if date]
    return dated == sorted(dated, reverse=True) and dates == dated + [""] * (len(dates) - len(dated))


# --- calls: every call, in both forms ---------------------------------------------------------------

@pytest.mark.parametrize("generation", CALL_LOGS)
def test_plan_lists_the_page_and_the_spreadsheet_dated_by_the_last_call(backup: FixtureBackup,
                                                                       generation: str) -> None:
    sample = CALL_LOGS[generation]()
    plan = planned(CALLS.plan(install(backup, sample)))
    newest = int(max(call.unix for call in sample.records if call.unix is not None))
    assert [(p.path, p.key, p.same_as, p.mtime) for p in plan.files] == [
        ("Calls.csv", "calls:csv", None, newest), ("Calls.html", "calls:html", None, newest)]
    assert plan.summary == f"{len(sample.records)} calls"


@pytest.mark.parametrize("generation", CALL_LOGS)
def test_the_spreadsheet_holds_every_call_newest_first(backup: FixtureBackup, generation: str) -> None:
    sample = CALL_LOGS[generation]()
    rows = csv_rows(CALLS.render(install(backup, sample), "calls:csv"))
    assert rows[0] == list(CALL_HEADER)
    assert sorted(rows[1:]) == sorted(call_row(call) for call in sample.records)
    assert newest_first([row[0] for row in rows[1:]])


@pytest.mark.parametrize("generation", CALL_LOGS)
def test_the_page_holds_every_call_as_the_spreadsheet_does(backup: FixtureBackup, generation: str) -> None:
    sample = CALL_LOGS[generation]()
    install(backup, sample)
    page = Table(CALLS.render(backup, "calls:html"))
    assert page.title == "Calls"
    assert page.header == list(CALL_HEADER)
    assert sorted(page.rows) == sorted(call_row(call) for call in sample.records)
    assert page.rows == csv_rows(CALLS.render(backup, "calls:csv"))[1:]


def test_the_kinds_and_directions_of_calls_are_all_shown(backup: FixtureBackup) -> None:
    rows = csv_rows(CALLS.render(install(backup, call_history()), "calls:csv"))[1:]
    assert {row[1] for row in rows} == {"incoming", "outgoing", "missed"}
    assert {row[5] for row in rows} == {"Phone", "FaceTime Video", "FaceTime Audio", "WhatsApp"}
    assert ["2023-11-16 08:10:00", "outgoing", "Boulangerie Paul – Bastille", "+33612345678", "0:00:33",
            "Phone"] in rows  # the address a BLOB, the name the call log's own


def test_without_an_address_book_the_call_log_names_are_kept(backup: FixtureBackup) -> None:
    rows = csv_rows(CALLS.render(install(backup, call_history(), address_book=False), "calls:csv"))[1:]
    assert {row[2] for row in rows} == {"", "Boulangerie Paul – Bastille", "Anna Müller 🌻", "Sam (old number)"}
    assert {row[3] for row in rows} >= {"+15550100123", "emma.laurent@example.com", "+15550100999"}


def test_dates_are_shown_in_local_time(backup: FixtureBackup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    rows = csv_rows(CALLS.render(install(backup, call_history()), "calls:csv"))[1:]
    assert rows[-2][:3] == ["2023-11-14 03:00:00", "outgoing", "Emma Laurent"]  # 08:00 UTC


def test_the_demo_backups_call_log_is_read(backup: FixtureBackup) -> None:
    backup.add(HOME, CALL_HISTORY, samples.call_history())
    backup.add(HOME, ADDRESS_BOOK, samples.address_book())
    plan = planned(CALLS.plan(backup))
    assert plan.summary == "4 calls"
    assert {p.mtime for p in plan.files} == {1_699_950_000 + 4 * 7_200}
    expected = [[stamp(1_699_950_000 + 7_200 * pk), direction, name, number, duration, "Phone"]
                for pk, direction, name, number, duration in (
                    (4, "outgoing", "Emma Laurent", "+15550100123", "0:20:04"),
                    (3, "missed", "Dr. Priya Shah", "+15550100999", "0:00:00"),
                    (2, "incoming", "Alex Martin", "+15550100456", "0:00:48"),
                    (1, "outgoing", "Emma Laurent", "+15550100123", "0:05:12"))]
    assert csv_rows(CALLS.render(backup, "calls:csv"))[1:] == expected
    assert Table(CALLS.render(backup, "calls:html")).rows == expected


def test_a_legacy_call_log_in_home_domain_is_read(backup: FixtureBackup) -> None:
    sample = legacy_call_history()
    backup.add(HOME, LEGACY_CALL_HISTORY, database_bytes(sample.sql))
    backup.add(HOME, ADDRESS_BOOK, samples.address_book())
    rows = csv_rows(CALLS.render(backup, "calls:csv"))[1:]
    assert sorted(rows) == sorted(call_row(call) for call in sample.records)


def test_the_newer_call_log_wins_over_the_legacy_one(backup: FixtureBackup) -> None:
    install(backup, legacy_call_history())
    install(backup, call_history())
    assert planned(CALLS.plan(backup)).summary == "12 calls"
    numbers = {row[3] for row in csv_rows(CALLS.render(backup, "calls:csv"))[1:]}
    assert "0612345678" not in numbers and "+447700900123" in numbers


def test_odd_values_show_what_they_can(backup: FixtureBackup) -> None:
    odd = ("INSERT INTO ZCALLRECORD (Z_PK, Z_ENT, ZDATE, ZDURATION, ZADDRESS, ZORIGINATED, ZANSWERED, ZCALLTYPE, "
           "ZSERVICE_PROVIDER) VALUES (90, 2, 'yesterday', 'long', X'2B3434FF', NULL, NULL, 'x', 'com.example.Talk'),"
           "(91, 2, 9e300, -5, 12345, 1, 0, 8, NULL), (92, 2, 722000000, 1e400, '+15550100456', 0, NULL, 1, NULL);")
    backup.add(HOME, CALL_HISTORY, database_bytes(call_history().sql + odd))
    backup.add(HOME, ADDRESS_BOOK, samples.address_book())
    rows = csv_rows(CALLS.render(backup, "calls:csv"))[1:]
    assert len(rows) == 15
    assert ["", "missed", "", "'+44\ufffd", "", "com.example.Talk"] in rows  # not a plain number: guarded
    assert ["", "outgoing", "", "12345", "", "FaceTime Video"] in rows
    assert [stamp(722_000_000 + samples.APPLE_EPOCH), "missed", "Alex Martin", "+15550100456", "",
            "Phone"] in rows


# --- calls: absence and damage ------------------------------------------------------------------------

def test_no_call_log_is_no_folder(backup: FixtureBackup) -> None:
    backup.add(HOME, ADDRESS_BOOK, samples.address_book())
    assert CALLS.plan(backup) is None


@pytest.mark.parametrize("generation", CALL_LOGS)
def test_an_empty_call_log_is_no_folder(backup: FixtureBackup, generation: str) -> None:
    sample = CALL_LOGS[generation]()
    table = "call" if sample.path == LEGACY_CALL_HISTORY else "ZCALLRECORD"
    backup.add(sample.domain, sample.path, database_bytes(f"{sample.sql}DELETE FROM {table};"))
    assert CALLS.plan(backup) is None


@pytest.mark.parametrize("generation", CALL_LOGS)
@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_call_log_raises(backup: FixtureBackup, generation: str, how: str) -> None:
    sample = CALL_LOGS[generation]()
    table = "call" if sample.path == LEGACY_CALL_HISTORY else "ZCALLRECORD"
    backup.add(sample.domain, sample.path, damaged_table(database_bytes(sample.sql), table, how))
    with pytest.raises(DAMAGE):
        CALLS.plan(backup)
    with pytest.raises(DAMAGE):
        CALLS.render(backup, "calls:csv")


@pytest.mark.parametrize(("domain", "path", "script"), [
    (HOME, CALL_HISTORY, "CREATE TABLE ZCALLRECORDS (Z_PK INTEGER PRIMARY KEY, ZDATE TIMESTAMP);"),
    (WIRELESS, LEGACY_CALL_HISTORY, "CREATE TABLE calls (ROWID INTEGER PRIMARY KEY, date INTEGER);"),
])
def test_a_call_log_of_another_shape_raises(backup: FixtureBackup, domain: str, path: str, script: str) -> None:
    backup.add(domain, path, database_bytes(script))
    with pytest.raises(ValueError, match="no .* table"):
        CALLS.plan(backup)


def test_render_of_a_foreign_key_raises(backup: FixtureBackup) -> None:
    install(backup, call_history())
    with pytest.raises(KeyError):
        CALLS.render(backup, "voicemail:csv")


# --- voicemail --------------------------------------------------------------------------------------

def voicemail_row(record: SampleVoicemail, audio: str) -> list[str]:
    name = "" if record.caller in (record.number, "Unknown caller") else record.caller
    return [stamp(record.unix), name, record.number, record.duration, stamp(record.deleted), audio]


@pytest.mark.parametrize("generation", VOICEMAILS)
def test_each_voicemail_held_is_shown_as_itself_named_by_date_and_caller(backup: FixtureBackup,
                                                                        generation: str) -> None:
    sample = VOICEMAILS[generation]()
    plan = planned(VOICEMAIL.plan(install(backup, sample)))
    assert plan.summary == f"{len(sample.records)} voicemails"
    listing, *audio = plan.files
    assert (listing.path, listing.key, listing.mtime) == ("Voicemail.csv", "voicemail:csv",
                                                          max(int(r.unix) for r in sample.records))
    assert all(p.key is None for p in audio)
    assert {p.same_as for p in audio} == set(sample.files) == {(HOME, r.audio) for r in sample.records if r.audio}
    for record in sample.records:
        if record.audio is not None:
            shown = next(p for p in audio if p.same_as == (HOME, record.audio))
            assert shown.path.startswith(f"{stamp(record.unix, '%Y-%m-%d %H.%M')} {record.caller}")
            assert shown.path.endswith(".amr")
            assert shown.mtime == int(record.unix)
    assert_names_safe_and_unique(plan, flat=True)


def test_voicemails_of_the_same_minute_and_caller_get_numbered_names(backup: FixtureBackup) -> None:
    plan = planned(VOICEMAIL.plan(install(backup, voicemail())))
    names = {p.same_as: p.path for p in plan.files if p.same_as}
    assert names[HOME, "Library/Voicemail/1.amr"] == "2023-11-12 14.40 Alex Martin.amr"  # the older one
    assert names[HOME, "Library/Voicemail/6.amr"] == "2023-11-12 14.40 Alex Martin 2.amr"
    assert names[HOME, "Library/Voicemail/5.amr"] == "2023-11-17 05.46 Unknown caller.amr"
    assert names[HOME, "Library/Voicemail/3.amr"] == "2023-11-14 22.13 +447700900123.amr"


@pytest.mark.parametrize("generation", VOICEMAILS)
def test_the_list_holds_every_voicemail_and_where_its_audio_is(backup: FixtureBackup, generation: str) -> None:
    sample = VOICEMAILS[generation]()
    install(backup, sample)
    names = {p.same_as: p.path for p in planned(VOICEMAIL.plan(backup)).files if p.same_as}
    rows = csv_rows(VOICEMAIL.render(backup, "voicemail:csv"))
    assert rows[0] == list(VOICEMAIL_HEADER)
    assert sorted(rows[1:]) == sorted(
        voicemail_row(r, names[HOME, r.audio] if r.audio else "not in the backup") for r in sample.records)
    assert newest_first([row[0] for row in rows[1:]])
    assert any(row[4] for row in rows[1:]) == (generation == "ios4+")  # the date a voicemail was deleted


def test_a_caller_no_file_name_may_hold_gets_a_safe_name(backup: FixtureBackup) -> None:
    sample = voicemail()
    odd = "UPDATE voicemail SET sender = {}, callback_num = NULL WHERE ROWID = {};"
    backup.add(HOME, VOICEMAIL_DB, database_bytes(sample.sql + odd.format(sql_literal('Mum <home>/"work"?*'), 2)
                                                  + odd.format("X'00'", 5)))
    for path, data in sample.files.items():
        backup.add(*path, data)
    names = {p.same_as: p.path for p in planned(VOICEMAIL.plan(backup)).files if p.same_as}
    assert names[HOME, "Library/Voicemail/2.amr"] == "2023-11-13 18.26 Mum _home___work___.amr"
    assert names[HOME, "Library/Voicemail/5.amr"] == "2023-11-17 05.46 Unknown caller.amr"
    rows = csv_rows(VOICEMAIL.render(backup, "voicemail:csv"))
    assert ["2023-11-13 18:26:40", "", 'Mum <home>/"work"?*', "0:00:31", "", "2023-11-13 18.26 Mum _home___work___.amr"
            ] in rows


def test_the_demo_backups_voicemail_is_read(backup: FixtureBackup) -> None:
    audio = set()
    for spec in demo_specs():
        if spec.domain == HOME and spec.content is not None and spec.relative_path.startswith(
                ("Library/Voicemail/", "Library/AddressBook/")):
            backup.add(spec.domain, spec.relative_path, spec.content)
            if spec.relative_path.endswith(".amr"):
                audio.add((HOME, spec.relative_path))
    plan = planned(VOICEMAIL.plan(backup))
    assert audio and {p.same_as for p in plan.files[1:]} == audio
    assert len(csv_rows(VOICEMAIL.render(backup, "voicemail:csv"))) > len(audio)


def test_no_voicemail_db_is_no_folder(backup: FixtureBackup) -> None:
    backup.add(HOME, "Library/Voicemail/1.amr", samples.amr())
    assert VOICEMAIL.plan(backup) is None


def test_an_empty_voicemail_db_is_no_folder(backup: FixtureBackup) -> None:
    backup.add(HOME, VOICEMAIL_DB, database_bytes(voicemail().sql + "DELETE FROM voicemail;"))
    assert VOICEMAIL.plan(backup) is None


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_voicemail_db_raises(backup: FixtureBackup, how: str) -> None:
    sample = voicemail()
    install(backup, sample)
    backup.add(HOME, VOICEMAIL_DB, damaged_table(database_bytes(sample.sql), "voicemail", how))
    with pytest.raises(DAMAGE):
        VOICEMAIL.plan(backup)
    with pytest.raises(DAMAGE):
        VOICEMAIL.render(backup, "voicemail:csv")


def test_a_voicemail_db_of_another_shape_raises(backup: FixtureBackup) -> None:
    backup.add(HOME, VOICEMAIL_DB, database_bytes("CREATE TABLE voicemails (ROWID INTEGER PRIMARY KEY, date INT);"))
    with pytest.raises(ValueError, match="no voicemail table"):
        VOICEMAIL.plan(backup)
    with pytest.raises(KeyError):
        VOICEMAIL.render(backup, "calls:csv")


@pytest.mark.parametrize("builder", [*CALL_LOGS.values(), *VOICEMAILS.values()])
def test_the_samples_are_deterministic(builder: object) -> None:
    assert callable(builder)
    first, second = builder(), builder()
    assert first == second and first.payloads() == second.payloads()
