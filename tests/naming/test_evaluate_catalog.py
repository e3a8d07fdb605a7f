"""Leave-one-device-out evaluation of the catalog, on three tiny listings with known answers."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "contrib"))

import evaluate_catalog
from build_catalog import build

from backupfs.naming.catalog import Catalog
from backupfs.source.manifest.records import file_id

APP = "private/var/mobile/Containers/Data/Application/0B468A6F-8837-4A85-BF4D-1EF523683946"
DOC_UUID = "1230FD03-05C0-4635-9E3E-24F2929EC772"

# Held-out device, root-relative style. Six files a backup would name:
HELD_OUT = [
    "private/var/mobile/Library/SMS",  # a folder (prefix of the next row): no payload
    "private/var/mobile/Library/SMS/sms.db",  # named: well-known list
    "private/var/mobile/Library/Shared/common.plist",  # named: the absolute-style device has it
    "private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC",  # unnamed; IMG_0002 exists elsewhere
    f"{APP}/Library/Preferences/com.example.alpha.plist",  # named only given the app id
    f"{APP}/Documents/{DOC_UUID}.dat",  # unnamed, device-specific
    "private/var/mobile/Library/Caches/only-here.bin",  # unnamed, a cache
    "System/Library/CoreServices/SystemVersion.plist",  # outside backed-up folders
]
ABSOLUTE = ["/private/var/mobile/Library/Shared/common.plist", "/private/var/root/Library/x.plist"]
FILESYSTEM = ["filesystem2/mobile/Media/DCIM/100APPLE/IMG_0002.HEIC", "extra/KeychainDump/k.plist"]


def make_listing(folder: Path, name: str, rows: list[str]) -> Path:
    """A listing zip shaped like the real ones: CSV with header, plus macOS litter."""
    text = "path,date_modified,date_accessed,date_created\r\n" + "".join(f"{row},1673667330,,\r\n" for row in rows)
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name.removesuffix(".zip"), text)
        archive.writestr(f"__MACOSX/._{name.removesuffix('.zip')}", b"\x00\x05\x16\x07junk")
    return path


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    folder = tmp_path / "lists"
    folder.mkdir()
    make_listing(folder, "a-rootrel.csv.zip", HELD_OUT)
    make_listing(folder, "b-absolute.csv.zip", ABSOLUTE)
    make_listing(folder, "c-filesystem.csv.zip", FILESYSTEM)
    return folder


def test_held_out_names_are_the_canonical_backup_names(lists: Path) -> None:
    device = evaluate_catalog.device_names(lists / "a-rootrel.csv.zip")
    assert sorted(device.names.values()) == sorted([
        ("HomeDomain", "Library/SMS/sms.db"),
        ("HomeDomain", "Library/Shared/common.plist"),
        ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC"),
        ("AppDomain-com.example.alpha", "Library/Preferences/com.example.alpha.plist"),
        ("AppDomain-com.example.alpha", f"Documents/{DOC_UUID}.dat"),
        ("HomeDomain", "Library/Caches/only-here.bin"),
    ])
    assert all(file_id(*pair) == fid for fid, pair in device.names.items())
    assert device.skipped == {"outside backed-up folders": 1}
    assert device.ids(("AppDomain",)) == ["com.example.alpha"]


def test_shares_named_without_the_held_out_device(lists: Path, tmp_path: Path) -> None:
    out = tmp_path / "others.bin"
    build([lists / "b-absolute.csv.zip", lists / "c-filesystem.csv.zip"], out)
    fold = evaluate_catalog.evaluate(evaluate_catalog.device_names(lists / "a-rootrel.csv.zip"), Catalog.load(out))

    assert fold.total == 6
    named = lambda fids: sorted(fold.device.names[f] for f in fids)
    assert named(fold.by_lookup) == [("HomeDomain", "Library/SMS/sms.db"), ("HomeDomain", "Library/Shared/common.plist")]
    assert len(fold.with_app_ids) == len(fold.with_all_ids) == 3
    assert ("AppDomain-com.example.alpha", "Library/Preferences/com.example.alpha.plist") in named(fold.with_app_ids)
    assert fold.unnamed() == sorted([
        ("AppDomain-com.example.alpha", f"Documents/{DOC_UUID}.dat"),
        ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC"),
        ("HomeDomain", "Library/Caches/only-here.bin"),
    ])
    assert fold.share_without_caches(fold.by_lookup) == (2, 5)
    assert fold.share_without_caches(fold.with_all_ids) == (3, 5)


def test_report_prints_the_shares_and_the_breakdown(lists: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_catalog.main(["--lists", str(lists)]) == 0
    report = capsys.readouterr().out
    held_out = report.split("=== held out: a-rootrel.csv.zip")[1].split("=== held out:")[0]
    assert "named by catalog lookup:" in held_out and " 33.3%" in held_out and " 50.0%" in held_out
    kind_table = held_out.split("by domain kind")[1].split("unnamed by path pattern")[0]
    kinds = {line.split()[0]: line.split() for line in kind_table.splitlines()[2:] if line.strip()}
    # kind, files, lookup, +all ids, unnamed, % of unnamed, path elsewhere, shape elsewhere, ..numbers only
    assert kinds["CameraRollDomain"][1:] == ["1", "0.0%", "0.0%", "1", "33.3%", "0", "1", "1"]
    assert kinds["AppDomain-*"][1:5] == ["2", "0.0%", "50.0%", "1"]
    summary = report.split("=== summary")[1]
    row = next(line.split() for line in summary.splitlines() if "a-rootrel" in line)
    assert row[1:7] == ["6", "33.3%", "50.0%", "50.0%", "3", "40.0%"]
    # Only Documents/<UUID>.dat holds an id no other device shows: 1 of 6 is out of reach.
    assert row[-2:] == ["1", "83.3%"]


def test_unreachable_names_hold_a_random_id_outside_harvested_folders(lists: Path) -> None:
    device = evaluate_catalog.device_names(lists / "a-rootrel.csv.zip")
    other = evaluate_catalog.DeviceNames("other", {"x": ("HomeDomain", f"Library/Shared/{DOC_UUID.lower()}/b")})
    assert {device.names[f] for f in evaluate_catalog.unreachable(device, [])} == {
        ("AppDomain-com.example.alpha", f"Documents/{DOC_UUID}.dat")
    }
    # The same id on another device makes it a shared (catalogue-able) token, not a random one.
    assert evaluate_catalog.unreachable(device, [other]) == set()
    harvested = evaluate_catalog.DeviceNames("h", {"y": ("MediaDomain", f"Library/SMS/Attachments/0a/10/{DOC_UUID}/x.jpg")})
    assert evaluate_catalog.unreachable(harvested, []) == set()


def test_shapes_blank_only_device_specific_parts() -> None:
    assert evaluate_catalog.shape("AppDomain-com.x.y", "Library/Caches/com.x.y/IMG_0001.JPG") == (
        "AppDomain-{id} Library/Caches/{id}/IMG_<N>.JPG"
    )
    uuid_shape = evaluate_catalog.shape("HomeDomain", f"Library/UserNotifications/{DOC_UUID}/a.plist")
    assert uuid_shape == "HomeDomain Library/UserNotifications/<UUID>/a.plist"
    assert not evaluate_catalog.enumerable(uuid_shape)
    assert evaluate_catalog.enumerable(evaluate_catalog.shape("DatabaseDomain", "timezone/tz/2022a.1.0/zoneinfo/UTC"))
    assert evaluate_catalog.domain_kind("SysSharedContainerDomain-systemgroup.x") == "Sys*"
    assert evaluate_catalog.domain_kind("AppDomainPlugin-com.x.widget") == "AppDomainPlugin-*"
    assert evaluate_catalog.domain_kind("RootDomain") == "other"
