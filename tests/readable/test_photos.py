"""Photos: every photo and video the backup holds, under its original name, by date, album and trash."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from backupfs.demo import samples
from backupfs.demo.readable_photos import (
    DATABASE,
    DOMAIN,
    PhotosSample,
    SampleAsset,
    ios12_photos,
    ios16_photos,
)
from backupfs.demo.sqlbuild import database_bytes
from backupfs.readable.base import Plan
from backupfs.readable.photos import PHOTOS, _stored_path
from tests.readable.conftest import FixtureBackup
from tests.readable.helpers import (
    NOT_A_DATABASE,
    assert_names_safe_and_unique,
    garbage_pages,
    truncated,
)

pytestmark = pytest.mark.usefixtures("utc")  # folders are named by local dates: expected paths are exact in UTC

GENERATIONS = {"iOS 12": ios12_photos, "iOS 16": ios16_photos}


def install(backup: FixtureBackup, sample: PhotosSample) -> FixtureBackup:
    backup.add_database(DOMAIN, DATABASE, sample.sql)
    for path, data in sample.files.items():
        backup.add(DOMAIN, path, data)
    return backup


def installed(folder: Path, sample: PhotosSample) -> dict[str, tuple[str, str] | None]:
    """Path in the folder -> (domain, relative path) of the backup file shown there, for a sample in a
    backup of its own."""
    return targets(plan_of(install(FixtureBackup(folder), sample)))


def plan_of(backup: FixtureBackup) -> Plan:
    plan = PHOTOS.plan(backup)
    assert plan is not None
    return plan


def targets(plan: Plan) -> dict[str, tuple[str, str] | None]:
    """Path in the folder -> (domain, relative path) of the backup file shown there."""
    return {planned.path: planned.same_as for planned in plan.files}


def expected_files(asset: SampleAsset) -> dict[str, str]:
    """Path in the folder -> relative path, of the asset's original and of its video and edit."""
    return {**{path: asset.relative_path for path in asset.shown}, **dict(asset.companions)}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_held_asset_is_shown_as_itself_by_date_album_and_trash(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = plan_of(install(backup, sample))
    shown = {planned.path: planned for planned in plan.files}
    expected = {path: (asset, target) for asset in sample.assets for path, target in expected_files(asset).items()}
    assert set(shown) == set(expected)
    assert len(plan.files) == len(shown)
    for path, (asset, target) in expected.items():
        planned = shown[path]
        assert planned.key is None and planned.same_as == (DOMAIN, target)
        assert planned.mtime == asset.mtime
        assert backup.read(*planned.same_as) == sample.files[target]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_live_photos_video_is_beside_its_still_under_its_stem_and_date(backup: FixtureBackup,
                                                                         generation: str) -> None:
    sample = GENERATIONS[generation]()
    shown = {planned.path: planned for planned in plan_of(install(backup, sample)).files}
    live = [asset for asset in sample.assets if asset.motion is not None]
    assert len(live) >= 2
    for asset in live:
        videos = [path for path, target in asset.companions if target == asset.motion_path]
        stills = [path for path in asset.shown if not path.startswith(("Hidden/", "Recently Deleted/"))] or asset.shown
        assert sorted(path.rpartition(".")[0] for path in videos) == sorted(p.rpartition(".")[0] for p in stills)
        for path in videos:
            assert path.endswith(".MOV") and shown[path].same_as == (DOMAIN, asset.motion_path)
            assert shown[path].mtime == asset.mtime
            assert backup.read(DOMAIN, asset.motion_path) == asset.motion


def test_live_photos_examples(tmp_path: Path) -> None:
    """The exact paths of three Live Photos: in a month and two albums, without a date, and numbered like
    its still when another photo of the month took the plain name."""
    shown = installed(tmp_path / "ios16", ios16_photos())
    cloud = "Media/PhotoData/CPLAssets/group412/5A3C004D-1D2E-4F3A-9B8C-7D6E5F4A3B79"
    assert shown["2023/07 July/IMG_4521.HEIC"] == (DOMAIN, f"{cloud}.HEIC")
    for folder in ("2023/07 July", "Albums/Summer 2023 ☀️", "Albums/Best of"):
        assert shown[f"{folder}/IMG_4521.MOV"] == (DOMAIN, f"{cloud}.MOV")
    shown = installed(tmp_path / "ios12", ios12_photos())
    assert shown["Unknown date/IMG_0006.MOV"] == (DOMAIN, "Media/DCIM/100APPLE/IMG_0006.MOV")
    assert shown["2018/09 September/IMG_0007.JPG"] == (DOMAIN, "Media/DCIM/100APPLE/IMG_0007.JPG")
    assert shown["2018/09 September/IMG_0007 2.JPG"] == (DOMAIN, "Media/DCIM/101APPLE/IMG_0007.JPG")
    assert shown["2018/09 September/IMG_0007 2.MOV"] == (DOMAIN, "Media/DCIM/101APPLE/IMG_0007.MOV")
    assert "2018/09 September/IMG_0007.MOV" not in shown


@pytest.mark.parametrize("generation", GENERATIONS)
def test_a_live_photo_whose_video_the_backup_lacks_shows_only_the_still(backup: FixtureBackup,
                                                                        generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = plan_of(install(backup, sample))
    lacking = [asset for asset in sample.assets if asset.live and asset.motion is None]
    assert lacking
    for asset in lacking:
        assert not asset.companions and not backup.has(DOMAIN, asset.motion_path)
        assert {p.path for p in plan.files if p.path.rpartition(".")[0] in
                {path.rpartition(".")[0] for path in asset.shown}} == set(asset.shown)


def test_a_video_the_library_lists_is_not_a_live_photos_video(backup: FixtureBackup) -> None:
    shown = targets(plan_of(install(backup, ios12_photos())))
    assert shown["2018/10 October/IMG_0016.MOV"] == (DOMAIN, "Media/DCIM/101APPLE/IMG_0016.MOV")
    assert shown["2018/10 October/IMG_0016.JPG"] == (DOMAIN, "Media/DCIM/101APPLE/IMG_0016.JPG")
    assert list(shown.values()).count((DOMAIN, "Media/DCIM/101APPLE/IMG_0016.MOV")) == 1


@pytest.mark.parametrize("generation", GENERATIONS)
def test_hidden_assets_are_only_in_hidden(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    plan = plan_of(install(backup, sample))
    hidden = [asset for asset in sample.assets if asset.hidden and not asset.trashed]
    assert hidden
    for asset in hidden:
        files = {asset.relative_path, asset.motion_path}
        paths = {p.path for p in plan.files if p.same_as is not None and p.same_as[1] in files}
        assert paths == set(expected_files(asset)) and all(path.startswith("Hidden/") for path in paths)
    assert {p.path for p in plan.files if p.path.startswith("Hidden/")} == {
        path for asset in hidden for path in expected_files(asset)}


def test_hidden_examples(tmp_path: Path) -> None:
    """IMG_0012 is in an album and IMG_4621 in another: both only in Hidden, with their videos."""
    shown = installed(tmp_path / "ios12", ios12_photos())
    assert shown["Hidden/IMG_0012.JPG"] == (DOMAIN, "Media/DCIM/101APPLE/IMG_0012.JPG")
    assert shown["Hidden/IMG_0012.MOV"] == (DOMAIN, "Media/DCIM/101APPLE/IMG_0012.MOV")
    assert not any("IMG_0012" in path for path in shown if not path.startswith("Hidden/"))
    shown = installed(tmp_path / "ios16", ios16_photos())
    assert shown["Hidden/IMG_4621.HEIC"] == (DOMAIN, "Media/DCIM/100APPLE/IMG_4621.HEIC")
    assert shown["Hidden/IMG_4621.MOV"] == (DOMAIN, "Media/DCIM/100APPLE/IMG_4621.MOV")
    assert not any("IMG_4621" in path for path in shown if not path.startswith("Hidden/"))


@pytest.mark.parametrize(("generation", "name"), [("iOS 12", "IMG_0013"), ("iOS 16", "IMG_4622")])
def test_a_hidden_trashed_asset_is_in_recently_deleted_only(backup: FixtureBackup, generation: str,
                                                            name: str) -> None:
    sample = GENERATIONS[generation]()
    asset = next(asset for asset in sample.assets if asset.filename == f"{name}.JPG")
    assert asset.hidden and asset.trashed
    shown = targets(plan_of(install(backup, sample)))
    assert {path for path in shown if name in path} == set(expected_files(asset))
    assert all(path.startswith("Recently Deleted/") for path in expected_files(asset))
    assert shown[f"Recently Deleted/{name}.JPG"] == (DOMAIN, asset.relative_path)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_an_edit_is_beside_its_original(backup: FixtureBackup, generation: str) -> None:
    sample = GENERATIONS[generation]()
    shown = {planned.path: planned for planned in plan_of(install(backup, sample)).files}
    edited = [asset for asset in sample.assets if asset.adjusted and asset.render is not None]
    assert len(edited) >= 2
    for asset in edited:
        assert asset.render is not None
        render = f"{asset.adjustments}/{asset.render[0]}"
        paths = [path for path, target in asset.companions if target == render]
        assert paths and all(path.rpartition(".")[2] == asset.render[0].rpartition(".")[2] for path in paths)
        for path in paths:
            assert " (edited)." in path and shown[path].same_as == (DOMAIN, render)
            assert shown[path].mtime == asset.mtime and backup.read(DOMAIN, render) == asset.render[1]


def test_edit_examples(tmp_path: Path) -> None:
    """A still's and a video's edits, in a month and in an album; an edit of an iCloud photo; a HEIF edit."""
    shown = installed(tmp_path / "ios12", ios12_photos())
    mutations = "Media/PhotoData/Mutations/DCIM/100APPLE"
    assert shown["2018/07 July/IMG_0001 (edited).jpg"] == (
        DOMAIN, f"{mutations}/IMG_0001/Adjustments/FullSizeRender.jpg")
    assert shown["Albums/Vacances d'été 🏖️/IMG_0002 (edited).mov"] == (
        DOMAIN, f"{mutations}/IMG_0002/Adjustments/FullSizeRender.mov")
    shown = installed(tmp_path / "ios16", ios16_photos())
    cloud = "PhotoData/CPLAssets/group412/5A3C004D-1D2E-4F3A-9B8C-7D6E5F4A3B79"
    assert shown["Albums/Best of/IMG_4521 (edited).jpg"] == (
        DOMAIN, f"Media/PhotoData/Mutations/{cloud}/Adjustments/FullSizeRender.jpg")
    assert shown["2023/09 September/Anniversaire 🎂 de Léa (edited).heic"] == (
        DOMAIN, f"{mutations}/IMG_4602/Adjustments/FullSizeRender.heic")
    assert shown["2023/10 October/img_4610 2 (edited).jpg"] == (
        DOMAIN, f"{mutations}/IMG_4611/Adjustments/FullSizeRender.jpg")


@pytest.mark.parametrize("generation", GENERATIONS)
def test_no_edit_is_shown_without_both_the_flag_and_the_render(backup: FixtureBackup, generation: str) -> None:
    """A render left by a reverted edit (ZHASADJUSTMENTS 0) is not an edit; an edit the backup lacks is not shown."""
    sample = GENERATIONS[generation]()
    plan = plan_of(install(backup, sample))
    unedited = [asset for asset in sample.assets if asset.data is not None and not (asset.adjusted and asset.render)]
    assert any(asset.render for asset in unedited) or generation == "iOS 16"
    assert any(asset.adjusted for asset in unedited)
    assert not [p for p in plan.files if "Mutations/" in str(p.same_as) and p.same_as not in {
        (DOMAIN, target) for asset in sample.assets for _, target in asset.companions}]
    assert not [p for p in plan.files if p.path.endswith("Adjustments.plist") or "Adjustments.plist" in str(p.same_as)]
    for asset in unedited:
        stems = {path.rpartition(".")[0] for path in asset.shown}
        assert not [p for p in plan.files if " (edited)." in p.path and p.path.rpartition(" (edited)")[0] in stems]


def test_summaries_count_live_photos_whose_video_is_shown(tmp_path: Path) -> None:
    assert plan_of(install(FixtureBackup(tmp_path / "ios12"), ios12_photos())).summary == (
        "18 photos and videos (4 live), 3 albums; 1 not in the backup")
    assert plan_of(install(FixtureBackup(tmp_path / "ios16"), ios16_photos())).summary == (
        "14 photos and videos (2 live), 3 albums; 2 not in the backup")


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
    assert_names_safe_and_unique(plan, flat=False)


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


def test_a_full_device_path_in_zdirectory_is_read_as_the_harvester_names_it() -> None:
    assert _stored_path("/var/mobile/Media/DCIM/100APPLE", "IMG_0001.JPG") == "Media/DCIM/100APPLE/IMG_0001.JPG"
    assert _stored_path("DCIM/100APPLE/", "IMG_0001.JPG") == "Media/DCIM/100APPLE/IMG_0001.JPG"
    assert _stored_path(None, "IMG_0001.JPG") == "Media/IMG_0001.JPG" and _stored_path("DCIM", "") is None
