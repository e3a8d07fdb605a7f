"""Device paths -> backup domain candidates, and bundle ids inferred from container contents."""

from __future__ import annotations

import pytest

from backupfs.naming.domains import (
    STYLE_ABSOLUTE,
    STYLE_FILESYSTEM,
    STYLE_ROOT_RELATIVE,
    candidates_for_device_path,
    detect_listing_style,
    infer_container_ids,
    normalise_listing_path,
    split_container,
)
from backupfs.source.manifest.records import file_id

APP = "/private/var/mobile/Containers/Data/Application"
GROUP = "/private/var/mobile/Containers/Shared/AppGroup"
UUID_A = "0B468A6F-8837-4A85-BF4D-1EF523683946"
UUID_B = "1230FD03-05C0-4635-9E3E-24F2929EC772"
UUID_C = "222B0C0C-9278-4833-B043-F2A5CDAE849D"


@pytest.mark.parametrize(
    ("raw", "style", "expected"),
    [
        ("/private/var/mobile/Library/SMS/sms.db", STYLE_ABSOLUTE, "/private/var/mobile/Library/SMS/sms.db"),
        ("private/var/mobile/Library/SMS/sms.db", STYLE_ROOT_RELATIVE, "/private/var/mobile/Library/SMS/sms.db"),
        ("Library/Audio/Tunings/x.plist", STYLE_ROOT_RELATIVE, "/Library/Audio/Tunings/x.plist"),
        ("filesystem2/mobile/Library/SMS/sms.db", STYLE_FILESYSTEM, "/private/var/mobile/Library/SMS/sms.db"),
        ("filesystem1/System/Library/x.plist", STYLE_FILESYSTEM, "/System/Library/x.plist"),
        ("extra/KeychainDump/backup_keychain_v2.plist", STYLE_FILESYSTEM, None),
        ("/var/mobile//Library/SMS/sms.db", STYLE_ABSOLUTE, "/private/var/mobile/Library/SMS/sms.db"),
        ("relative/but/absolute/style", STYLE_ABSOLUTE, None),
        ("", STYLE_ABSOLUTE, None),
    ],
)
def test_normalise_listing_path(raw: str, style: str, expected: str | None) -> None:
    assert normalise_listing_path(raw, style) == expected


def test_normalise_rejects_unknown_style() -> None:
    with pytest.raises(ValueError, match="style"):
        normalise_listing_path("/x", "weird")


@pytest.mark.parametrize(
    ("rows", "style"),
    [
        (["filesystem1/.file", "filesystem2/mobile/x"], STYLE_FILESYSTEM),
        (["extra/KeychainDump/a.plist", "filesystem1/.file"], STYLE_FILESYSTEM),
        (["/private/var/Keychains/keychain-2.db"], STYLE_ABSOLUTE),
        (["Library/Wallpaper/a.plist", "private/var/mobile/x"], STYLE_ROOT_RELATIVE),
    ],
)
def test_detect_listing_style(rows: list[str], style: str) -> None:
    assert detect_listing_style(rows) == style


def candidates(path: str, ids: dict[str, list[str]] | None = None) -> set[tuple[str, str]]:
    return set(candidates_for_device_path(path, ids))


def test_sms_db_is_home_domain_with_the_published_hash() -> None:
    found = candidates("/private/var/mobile/Library/SMS/sms.db")
    assert ("HomeDomain", "Library/SMS/sms.db") in found
    assert "3d0d7e5fb2ce288813306e4d4636395e047a3d28" in {file_id(d, p) for d, p in found}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC", ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC")),
        ("/private/var/mobile/Media/PhotoData/Photos.sqlite", ("CameraRollDomain", "Media/PhotoData/Photos.sqlite")),
        ("/private/var/mobile/Media/Recordings/Recordings.db", ("MediaDomain", "Media/Recordings/Recordings.db")),
        ("/private/var/mobile/Library/SMS/Attachments/9e/14/G/a.jpg", ("MediaDomain", "Library/SMS/Attachments/9e/14/G/a.jpg")),
        ("/private/var/mobile/Library/Keyboard/en-dynamic.lm/x", ("KeyboardDomain", "Library/Keyboard/en-dynamic.lm/x")),
        ("/private/var/mobile/Library/Health/healthdb.sqlite", ("HealthDomain", "Health/healthdb.sqlite")),
        ("/private/var/mobile/Library/homed/datastore.sqlite", ("HomeKitDomain", "Library/homed/datastore.sqlite")),
        ("/private/var/mobile/Library/Caches/com.apple.x/Cache.db", ("HomeDomain", "Library/Caches/com.apple.x/Cache.db")),
        ("/private/var/root/Library/Caches/locationd/consolidated.db", ("RootDomain", "Library/Caches/locationd/consolidated.db")),
        ("/private/var/wireless/Library/Databases/DataUsage.sqlite", ("WirelessDomain", "Library/Databases/DataUsage.sqlite")),
        ("/private/var/preferences/SystemConfiguration/com.apple.wifi.plist", ("SystemPreferencesDomain", "SystemConfiguration/com.apple.wifi.plist")),
        ("/private/var/db/timezone/localtime", ("DatabaseDomain", "timezone/localtime")),
        ("/private/var/Keychains/keychain-2.db", ("KeychainDomain", "keychain-2.db")),
        ("/private/var/protected/trustd/private/TrustStore.sqlite3", ("KeychainDomain", "TrustStore.sqlite3")),
        ("/private/var/protected/trustd/private/TrustStore.sqlite3", ("ProtectedDomain", "trustd/private/TrustStore.sqlite3")),
        ("/private/var/Managed Preferences/mobile/com.apple.webcontentfilter.plist", ("ManagedPreferencesDomain", "mobile/com.apple.webcontentfilter.plist")),
        ("/private/var/installd/Library/MobileInstallation/x.plist", ("InstallDomain", "Library/MobileInstallation/x.plist")),
    ],
)
def test_device_folders_map_to_their_domains(path: str, expected: tuple[str, str]) -> None:
    assert expected in candidates(path)


def test_media_files_also_try_home_domain() -> None:
    found = candidates("/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC")
    assert {d for d, _ in found} == {"HomeDomain", "MediaDomain", "CameraRollDomain"}


@pytest.mark.parametrize(
    "path",
    [
        "/System/Library/CoreServices/SystemVersion.plist",
        "/private/var/containers/Bundle/Application/X/App.app/App",
        "/private/var/mobile/tmp/file",
        "/private/var/MobileSoftwareUpdate/x",
        f"{APP}/{UUID_A}/Library/Preferences/com.example.app.plist",  # no id known for it
    ],
)
def test_paths_without_a_domain_give_nothing(path: str) -> None:
    assert candidates(path) == set()


def test_container_paths_use_the_inferred_id() -> None:
    root = f"{APP}/{UUID_A}"
    ids = {root: ["com.example.app"]}
    assert candidates(f"{root}/Documents/db.sqlite", ids) == {("AppDomain-com.example.app", "Documents/db.sqlite")}
    assert candidates(f"{root}/tmp/scratch", ids) == set()
    group_root = f"{GROUP}/{UUID_B}"
    assert candidates(f"{group_root}/NoteStore.sqlite", {group_root: ["group.com.apple.notes"]}) == {
        ("AppDomainGroup-group.com.apple.notes", "NoteStore.sqlite")
    }


def test_split_container() -> None:
    split = split_container(f"{APP}/{UUID_A}/Library/Preferences/a.b.plist")
    assert split is not None
    assert (split.prefix, split.root, split.inner) == ("AppDomain", f"{APP}/{UUID_A}", "Library/Preferences/a.b.plist")
    assert split_container(f"{APP}/{UUID_A}") is None
    assert split_container("/private/var/mobile/Library/SMS/sms.db") is None


def test_infer_container_ids_weighs_evidence_and_ignores_shared_sdks() -> None:
    a, b, c = (f"{APP}/{u}" for u in (UUID_A, UUID_B, UUID_C))
    group = f"{GROUP}/{UUID_A}"
    sdk = "Library/Preferences/com.google.gmp.measurement.plist"
    paths = [
        # a: its own preferences plus an SDK plist every app has
        f"{a}/Library/Preferences/com.example.alpha.plist",
        f"{a}/{sdk}",
        f"{a}/Library/Preferences/Mixpanel.plist",
        # b: a SplashBoard snapshot outweighs a stray preferences file
        f"{b}/Library/SplashBoard/Snapshots/com.example.beta - {{DEFAULT GROUP}}/main.ktx",
        f"{b}/Library/Preferences/org.other.thing.plist",
        f"{b}/{sdk}",
        # c: scene snapshots carry a suffix; SDK evidence alone is not enough
        f"{c}/Library/SplashBoard/Snapshots/sceneID:com.example.gamma-default/x.ktx",
        f"{c}/{sdk}",
        f"{group}/Library/Preferences/group.com.example.alpha.plist",
        f"{group}/Library/Preferences/com.example.alpha.plist",
    ]
    ids = infer_container_ids(paths)
    assert ids[a] == ["com.example.alpha"]
    assert ids[b] == ["com.example.beta"]
    assert ids[c] == ["com.example.gamma"]
    assert ids[group] == ["group.com.example.alpha"]

    only_sdk = infer_container_ids([f"{a}/{sdk}", f"{b}/{sdk}", f"{a}/Library/Preferences/Settings.plist"])
    assert only_sdk == {}
