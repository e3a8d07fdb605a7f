"""Photos: every photo and video the backup holds, under its original name, by date, album and trash."""

from __future__ import annotations

import sqlite3

import pytest

from backupfs.demo import samples
from backupfs.demo.readable_photos import (
    DATABASE,
    DOMAIN,
    PhotosSample,
    ios12_photos,
    ios16_photos,
)
from backupfs.demo.sqlbuild import database_bytes
from backupfs.readable.base import Plan, safe_name
from backupfs.readable.photos import PHOTOS
from tests.readable.conftest import FixtureBackup
from tests.readable.helpers import NOT_A_DATABASE, garbage_pages, truncated

pytestmark = pytest.mark.usefixtures("utc")  # folders are named by local dates: expected paths are exact in UTC

GENERATIONS = {"iOS 12": ios12_photos, "iOS 16": ios16_photos}


def install(backup: FixtureBackup, sample: PhotosSample) -> FixtureBackup:
    backup.add_database(DOMAIN, DATABASE, sample.sql)
    for path, data in sample.files.items():
        backup.add(DOMAIN, path, data)
    return backup


def plan_of(backup: FixtureBackup) -> Plan:
    plan = PHOTOS.plan(backup)
    assert plan is not None
    return plan


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_held_asset_is_shown_as_itself_by_date_album_and_trash(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = plan_of(install(backup, sample))
    shown = {planned.path: planned for planned in plan.files}
    expected = {path: asset for asset in sample.assets for path in asset.shown}
    assert set(shown) == set(expected)
    assert len(plan.files) == len(shown)
    for path, asset in expected.items():
        planned = shown[path]
        assert planned.key is None and planned.same_as == (DOMAIN, asset.relative_path)
        assert planned.mtime == asset.mtime
        assert backup.read(*planned.same_as) == asset.data


@pytest.mark.parametrize("generation", GENERATIONS)
def test_assets_the_backup_lacks_are_counted_not_shown(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = plan_of(install(backup, sample))
    assert plan.summary == sample.summary
    missing = [asset for asset in sample.assets if asset.data is None]
    assert missing and all(not asset.shown for asset in missing)
    targets = {planned.same_as for planned in plan.files}
    assert all((DOMAIN, f"Media/{asset.directory}/{asset.filename}") not in targets for asset in missing)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_names_are_safe_and_unique_per_folder(backup: FixtureBackup, generation: str) -> None:
    plan = plan_of(install(backup, GENERATIONS[generation]()))
    paths = [planned.path for planned in plan.files]
    assert len({path.casefold() for path in paths}) == len(paths)
    assert all(safe_name(part) == part for path in paths for part in path.split("/"))


def test_trashed_albums_and_albums_the_user_did_not_make_are_not_shown(backup: FixtureBackup) -> None:
    plan = plan_of(install(backup, ios12_photos()))
    albums = {planned.path.split("/")[1] for planned in plan.files if planned.path.startswith("Albums/")}
    assert albums == {"Vacances d'été 🏖️", "Work_Receipts_ 2018", "_con"}


def test_the_demo_library_of_samples_reads_as_a_current_library(backup: FixtureBackup) -> None:
    backup.add(DOMAIN, DATABASE, samples.photos_sqlite())
    backup.add(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.HEIC", samples.heic())
    backup.add(DOMAIN, "Media/DCIM/100APPLE/IMG_0003.MOV", samples.mov())
    plan = plan_of(backup)
    assert {(p.path, p.same_as) for p in plan.files} == {
        ("2023/11 November/IMG_0001.HEIC", (DOMAIN, "Media/DCIM/100APPLE/IMG_0001.HEIC")),
        ("2023/11 November/IMG_0003.MOV", (DOMAIN, "Media/DCIM/100APPLE/IMG_0003.MOV"))}
    assert [p.mtime for p in plan.files] == [1_699_003_600, 1_699_010_800]
    assert plan.summary == "3 photos and videos, 0 albums; 1 not in the backup"


def test_one_asset_reads_in_the_singular(backup: FixtureBackup) -> None:
    backup.add(DOMAIN, DATABASE, samples.photos_sqlite([("DCIM/100APPLE", "IMG_0001.JPG")]))
    backup.add(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.JPG", samples.jpeg())
    assert plan_of(backup).summary == "1 photo or video, 0 albums"


def test_no_library_is_no_folder(backup: FixtureBackup) -> None:
    backup.add(DOMAIN, "Media/DCIM/100APPLE/IMG_0001.JPG", samples.jpeg())
    assert PHOTOS.plan(backup) is None


def test_an_empty_library_is_no_folder(backup: FixtureBackup) -> None:
    backup.add_database(DOMAIN, DATABASE, ios16_photos().sql + "DELETE FROM ZASSET;")
    assert PHOTOS.plan(backup) is None


def test_a_library_without_an_asset_table_raises(backup: FixtureBackup) -> None:
    backup.add_database(DOMAIN, DATABASE, ios12_photos().sql + "DROP TABLE ZGENERICASSET;")
    with pytest.raises(ValueError, match="ZGENERICASSET"):
        PHOTOS.plan(backup)


def test_garbage_raises(backup: FixtureBackup) -> None:
    backup.add(DOMAIN, DATABASE, NOT_A_DATABASE)
    with pytest.raises(sqlite3.DatabaseError):
        PHOTOS.plan(backup)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_truncated_library_raises(backup: FixtureBackup, generation: str) -> None:
    backup.add(DOMAIN, DATABASE, truncated(database_bytes(GENERATIONS[generation]().sql)))
    with pytest.raises(sqlite3.DatabaseError):
        PHOTOS.plan(backup)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_garbage_pages_raise(backup: FixtureBackup, generation: str) -> None:
    backup.add(DOMAIN, DATABASE, garbage_pages(database_bytes(GENERATIONS[generation]().sql)))
    with pytest.raises(sqlite3.DatabaseError):
        PHOTOS.plan(backup)


def test_nothing_is_rendered(backup: FixtureBackup) -> None:
    install(backup, ios16_photos())
    with pytest.raises(KeyError):
        PHOTOS.render(backup, "photos:anything")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_the_samples_are_deterministic(generation: str) -> None:
    first, second = GENERATIONS[generation](), GENERATIONS[generation]()
    assert first == second and database_bytes(first.sql) == database_bytes(second.sql)
    assert [spec.relative_path for spec in first.payloads()] == [DATABASE, *first.files]
