"""Voice Memos: every recording of both database generations listed, and each audio held shown as itself under
its date and title."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backupfs.demo.readable_calls import (
    CLOUD_RECORDINGS_DB,
    MEDIA,
    VOICE_MEMOS_SHARED,
    DatabaseSample,
    SampleRecording,
    cloud_recordings,
    legacy_recordings,
)
from backupfs.demo.sqlbuild import database_bytes, sql_literal
from backupfs.readable.base import Plan, safe_name
from backupfs.readable.voice_memos import HEADER, LIST_NAME, VOICE_MEMOS
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

GENERATIONS: dict[str, Callable[[], DatabaseSample]] = {"ios15+": cloud_recordings, "ios11": legacy_recordings}
TABLES = {"ios15+": "ZCLOUDRECORDING", "ios11": "ZRECORDING"}


def install(backup: FixtureBackup, sample: DatabaseSample, sql: str = "") -> FixtureBackup:
    """The sample as the demo backup holds it (through its payloads), its database changed by ``sql``."""
    for spec in sample.payloads():
        assert spec.content is not None
        backup.add(spec.domain, spec.relative_path, spec.content)
    if sql:
        backup.add(sample.domain, sample.path, database_bytes(sample.sql + sql))
    return backup


def title(recording: SampleRecording) -> str:
    """The title shown: the recording's own, else its time of day."""
    return recording.title or stamp(recording.unix, "%H.%M.%S")


def audio_names(plan: Plan) -> dict[tuple[str, str], str]:
    return {p.same_as: p.path for p in plan.files if p.same_as is not None}


# --- plan -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_each_recording_held_is_shown_as_itself_under_its_date_and_title(backup: FixtureBackup,
                                                                       generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = planned(VOICE_MEMOS.plan(install(backup, sample)))
    assert plan.summary == f"{len(sample.records)} recordings"
    listing, *audio = plan.files
    assert (listing.path, listing.key, listing.mtime) == (LIST_NAME, "recordings:csv",
                                                          int(max(r.unix for r in sample.records)))
    assert all(p.key is None for p in audio)
    held = {r.audio for r in sample.records if r.audio is not None}
    assert {p.same_as for p in audio} == held == set(sample.files)
    for recording in sample.records:
        if recording.audio is not None:
            shown = next(p for p in audio if p.same_as == recording.audio)
            assert shown.path.startswith(safe_name(f"{stamp(recording.unix, '%Y-%m-%d')} {title(recording)}"))
            assert shown.path.endswith(".m4a")
            assert shown.mtime == int(recording.unix)
    assert_names_safe_and_unique(plan, flat=True)


def test_the_names_of_the_recordings(backup: FixtureBackup) -> None:
    names = audio_names(planned(VOICE_MEMOS.plan(install(backup, cloud_recordings()))))
    assert names == {
        (VOICE_MEMOS_SHARED, "Recordings/20231115 101523.m4a"): "2023-11-15 Chanson pour Léa 🎸.m4a",
        (VOICE_MEMOS_SHARED, "Recordings/20231116 100640.m4a"): "2023-11-16 Rue Oberkampf.m4a",
        (VOICE_MEMOS_SHARED, "Recordings/20231117 100000.m4a"): "2023-11-17 Interview — Mme Dubois.m4a",
        (VOICE_MEMOS_SHARED, "Recordings/20231117 101640.m4a"): "2023-11-17 10.16.40.m4a",
        (VOICE_MEMOS_SHARED, "Recordings/20231117 103320.m4a"): "2023-11-17 Idea.m4a",
        (VOICE_MEMOS_SHARED, "Recordings/20231117 105000.m4a"): "2023-11-17 Idea 2.m4a",
        (VOICE_MEMOS_SHARED, "Recordings/20231118 125640.m4a"): "2023-11-18 Q&A_ _why__ _ _draft_ _final_.m4a",
    }


def test_the_names_of_the_legacy_recordings(backup: FixtureBackup) -> None:
    names = audio_names(planned(VOICE_MEMOS.plan(install(backup, legacy_recordings()))))
    assert names == {
        (MEDIA, "Media/Recordings/20171114 101523.m4a"): "2017-11-14 Kitchen renovation ideas 🛠.m4a",
        (MEDIA, "Media/Recordings/20171120 183002.m4a"): "2017-11-20 18.30.02.m4a",
        (MEDIA, "Media/Recordings/20171123 100000.m4a"): "2017-11-23 Lecture_ Thermodynamics 3_12.m4a",
    }


@pytest.mark.parametrize(("given", "shown"), [
    ("CON", "2023-11-15 CON.m4a"),
    ("...", "2023-11-15.m4a"),
    ("   ", "2023-11-15 Rue de Rivoli 12.m4a"),
    ('a\\b|c:d"e?f*g<h>i/j', "2023-11-15 a_b_c_d_e_f_g_h_i_j.m4a"),
    ("tab\there\nnewline", "2023-11-15 tab_here_newline.m4a"),
    ("🎸" * 100, f"2023-11-15 {'🎸' * 42}.m4a"),
])
def test_titles_no_file_name_may_hold_become_safe_names(backup: FixtureBackup, given: str, shown: str) -> None:
    install(backup, cloud_recordings(), f"UPDATE ZCLOUDRECORDING SET ZENCRYPTEDTITLE = {sql_literal(given)} "
                                        "WHERE Z_PK = 1;")
    path = audio_names(planned(VOICE_MEMOS.plan(backup)))[VOICE_MEMOS_SHARED, "Recordings/20231115 101523.m4a"]
    assert path == shown
    assert path.removesuffix(".m4a") == safe_name(path.removesuffix(".m4a"))
    assert len(path.encode()) <= 255
    rows = csv_rows(VOICE_MEMOS.render(backup, "recordings:csv"))
    assert [row[3] for row in rows if row[0] == "2023-11-15 10:15:23"] == [path]


@pytest.mark.parametrize("stored", ["/var/mobile/Media/Recordings/20171114 101523.m4a",
                                    "/private/var/mobile/Media/Recordings/20171114 101523.m4a",
                                    "20171114 101523.m4a"])
def test_a_legacy_path_is_found_however_it_is_written(backup: FixtureBackup, stored: str) -> None:
    install(backup, legacy_recordings(), f"UPDATE ZRECORDING SET ZPATH = {sql_literal(stored)} WHERE Z_PK = 1;")
    names = audio_names(planned(VOICE_MEMOS.plan(backup)))
    assert names[MEDIA, "Media/Recordings/20171114 101523.m4a"] == "2017-11-14 Kitchen renovation ideas 🛠.m4a"


def test_an_ios12_database_in_media_domain_finds_its_audio_there(backup: FixtureBackup) -> None:
    sample = cloud_recordings()
    backup.add(MEDIA, "Media/Recordings/CloudRecordings.db", database_bytes(sample.sql))
    for (_, path), data in sample.files.items():
        backup.add(MEDIA, f"Media/{path}", data)
    plan = planned(VOICE_MEMOS.plan(backup))
    assert {p.same_as for p in plan.files[1:]} == {(MEDIA, f"Media/{path}") for _, path in sample.files}


def test_the_newest_database_wins(backup: FixtureBackup) -> None:
    install(backup, legacy_recordings())
    install(backup, cloud_recordings())
    plan = planned(VOICE_MEMOS.plan(backup))
    assert plan.summary == f"{len(cloud_recordings().records)} recordings"
    assert all(p.same_as[0] == VOICE_MEMOS_SHARED for p in plan.files[1:] if p.same_as)


# --- the list ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_list_holds_every_recording_and_where_its_audio_is(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    install(backup, sample)
    names = audio_names(planned(VOICE_MEMOS.plan(backup)))
    rows = csv_rows(VOICE_MEMOS.render(backup, "recordings:csv"))
    assert rows[0] == list(HEADER)
    assert rows[1:] == [[stamp(r.unix), title(r), r.duration, names[r.audio] if r.audio else "not in the backup"]
                        for r in reversed(sample.records)]  # the samples are oldest first, the list newest first
    assert sum(row[3] == "not in the backup" for row in rows) == sum(r.audio is None for r in sample.records) > 0


def test_a_recording_whose_audio_is_missing_is_listed_not_planned(backup: FixtureBackup) -> None:
    sample = cloud_recordings()
    install(backup, sample)
    backup.files.pop((VOICE_MEMOS_SHARED, "Recordings/20231116 100640.m4a"))
    plan = planned(VOICE_MEMOS.plan(backup))
    assert "2023-11-16 Rue Oberkampf.m4a" not in {p.path for p in plan.files}
    assert len(plan.files) == 1 + len(sample.files) - 1
    rows = csv_rows(VOICE_MEMOS.render(backup, "recordings:csv"))
    assert ["2023-11-16 10:06:40", "Rue Oberkampf", "0:01:03", "not in the backup"] in rows


# --- absence and damage -----------------------------------------------------------------------------

def test_no_database_is_no_folder(backup: FixtureBackup) -> None:
    for (domain, path), data in cloud_recordings().files.items():
        backup.add(domain, path, data)
    assert VOICE_MEMOS.plan(backup) is None


@pytest.mark.parametrize("generation", GENERATIONS)
def test_an_empty_database_is_no_folder(backup: FixtureBackup, generation: str) -> None:
    install(backup, GENERATIONS[generation](), f"DELETE FROM {TABLES[generation]};")
    assert VOICE_MEMOS.plan(backup) is None


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_database_raises(backup: FixtureBackup, generation: str, how: str) -> None:
    sample = GENERATIONS[generation]()
    backup.add(sample.domain, sample.path, damaged_table(database_bytes(sample.sql), TABLES[generation], how))
    with pytest.raises(DAMAGE):
        VOICE_MEMOS.plan(backup)
    with pytest.raises(DAMAGE):
        VOICE_MEMOS.render(backup, "recordings:csv")


@pytest.mark.parametrize(("path", "script", "message"), [
    (CLOUD_RECORDINGS_DB, "CREATE TABLE ZFOLDER (Z_PK INTEGER PRIMARY KEY);", "neither"),
    (CLOUD_RECORDINGS_DB, "CREATE TABLE ZCLOUDRECORDING (Z_PK INTEGER PRIMARY KEY, ZDATE TIMESTAMP);", "ZPATH"),
])
def test_a_database_of_another_shape_raises(backup: FixtureBackup, path: str, script: str, message: str) -> None:
    backup.add(VOICE_MEMOS_SHARED, path, database_bytes(script))
    with pytest.raises(ValueError, match=message):
        VOICE_MEMOS.plan(backup)


def test_render_of_a_foreign_key_raises(backup: FixtureBackup) -> None:
    install(backup, legacy_recordings())
    with pytest.raises(KeyError):
        VOICE_MEMOS.render(backup, "voicemail:csv")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_samples_are_deterministic(generation: str) -> None:
    first, second = GENERATIONS[generation](), GENERATIONS[generation]()
    assert first == second and first.payloads() == second.payloads()
