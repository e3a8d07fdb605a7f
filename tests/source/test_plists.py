"""Reading the root plists of real and damaged backups: every problem is a note, never a raise."""

from __future__ import annotations

import os
import plistlib
import signal
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backupfs.source import plists
from backupfs.source.plists import read_backup_info

INFO = {
    "Device Name": "Anna's iPhone",
    "Display Name": "Anna display",
    "Product Type": "iPhone14,2",
    "Product Version": "17.3.1",
    "Build Version": "21D61",
    "Unique Identifier": "00008030-001A2B3C4D5E6F70",
    "Target Identifier": "00008030-001A2B3C4D5E6F70",
    "Serial Number": "F2LXK0ABCDEF",
    "Last Backup Date": datetime(2024, 3, 1, 9, 30, 0),
    "Installed Applications": ["net.whatsapp.WhatsApp", "com.example.app", "not a bundle id", 42],
    "Applications": {"com.example.app": {"iTunesMetadata": b"..."}, "org.signal.Signal": {}},
    "iTunes Version": "12.13",
}
MANIFEST = {
    "IsEncrypted": False,
    "WasPasscodeSet": True,
    "Version": "10.0",
    "Date": datetime(2024, 2, 1, 0, 0, 0),
    "Lockdown": {
        "DeviceName": "Lockdown name",
        "ProductType": "iPhone9,3",
        "ProductVersion": "16.0",
        "BuildVersion": "20A362",
        "UniqueDeviceID": "ab" * 20,
        "SerialNumber": "LOCKDOWNSERIAL",
    },
    "Applications": {
        "com.apple.mobilesafari": {},
        "group.com.apple.notes": {},
        "com.example.app.widget": {},
        "../../etc": {},
        "": {},
    },
}
STATUS = {
    "BackupState": "new",
    "Date": datetime(2024, 1, 15, 12, 0, 0),
    "IsFullBackup": False,
    "SnapshotState": "finished",
    "UUID": "B5E1A1D2-0000-4000-8000-000000000000",
    "Version": "3.3",
}
PLIST_NAMES = ("Info.plist", "Manifest.plist", "Status.plist")


def write_plist(path: Path, value: object, fmt: plistlib.PlistFormat = plistlib.FMT_XML) -> None:
    path.write_bytes(plistlib.dumps(value, fmt=fmt))


def write_all(root: Path, info=INFO, manifest=MANIFEST, status=STATUS) -> None:
    write_plist(root / "Info.plist", info, plistlib.FMT_XML)
    write_plist(root / "Manifest.plist", manifest, plistlib.FMT_BINARY)
    write_plist(root / "Status.plist", status, plistlib.FMT_BINARY)


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging forever if something blocks (e.g. opening a FIFO)."""

    def expired(signum, frame):
        raise TimeoutError(f"took more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_reads_every_field_from_xml_and_binary_plists(tmp_path: Path) -> None:
    write_all(tmp_path)
    info = read_backup_info(tmp_path)
    assert info.device_name == "Anna's iPhone"
    assert info.product_type == "iPhone14,2"
    assert info.ios_version == "17.3.1"
    assert info.build_version == "21D61"
    assert info.udid == "00008030-001A2B3C4D5E6F70"
    assert info.serial_number == "F2LXK0ABCDEF"
    assert info.last_backup_date == datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)
    assert info.last_backup_date.tzinfo is not None
    assert info.encrypted is False
    assert info.snapshot_state == "finished"
    assert info.bundle_ids == (
        "com.apple.mobilesafari",
        "com.example.app",
        "com.example.app.widget",
        "group.com.apple.notes",
        "net.whatsapp.WhatsApp",
        "org.signal.Signal",
    )
    assert info.notes == ()


def test_falls_back_to_manifest_lockdown_and_status_date(tmp_path: Path) -> None:
    write_plist(tmp_path / "Manifest.plist", {**MANIFEST, "IsEncrypted": True}, plistlib.FMT_XML)
    write_plist(tmp_path / "Status.plist", STATUS, plistlib.FMT_XML)
    info = read_backup_info(tmp_path)
    assert info.device_name == "Lockdown name"
    assert info.product_type == "iPhone9,3"
    assert info.ios_version == "16.0"
    assert info.build_version == "20A362"
    assert info.udid == "ab" * 20
    assert info.serial_number == "LOCKDOWNSERIAL"
    assert info.last_backup_date == datetime(2024, 1, 15, 12, 0, tzinfo=timezone.utc)
    assert info.encrypted is True
    assert info.notes == ("Info.plist is missing.",)


def test_display_name_and_target_identifier_fill_in_for_missing_keys(tmp_path: Path) -> None:
    write_plist(tmp_path / "Info.plist", {"Display Name": "iPad", "Target Identifier": "c" * 40})
    info = read_backup_info(tmp_path)
    assert info.device_name == "iPad"
    assert info.udid == "c" * 40


def test_manifest_date_is_the_last_resort(tmp_path: Path) -> None:
    write_plist(tmp_path / "Manifest.plist", MANIFEST)
    assert read_backup_info(tmp_path).last_backup_date == datetime(2024, 2, 1, tzinfo=timezone.utc)


def test_no_plists_at_all(tmp_path: Path) -> None:
    info = read_backup_info(tmp_path)
    assert info.device_name is None and info.last_backup_date is None
    assert info.encrypted is None
    assert info.bundle_ids == ()
    assert info.notes == ("Info.plist is missing.", "Manifest.plist is missing.", "Status.plist is missing.")


def _binary(value: object) -> bytes:
    return plistlib.dumps(value, fmt=plistlib.FMT_BINARY)


def _xml(value: object) -> bytes:
    return plistlib.dumps(value, fmt=plistlib.FMT_XML)


DAMAGE = {
    "empty": (b"", "is empty (0 bytes)"),
    "truncated binary": (_binary(INFO)[: len(_binary(INFO)) // 2], "damaged binary plist"),
    "binary trailer cut": (_binary(INFO)[:-5], "damaged binary plist"),
    "truncated xml": (_xml(INFO)[: len(_xml(INFO)) // 2], "damaged XML plist"),
    "zeros": (bytes(4096), "holds only zero bytes"),
    "garbage": (os.urandom(2048).replace(b"bplist", b"xxxxxx").replace(b"<", b"x"), "is not a plist"),
    "xml list": (_xml(["a", "b"]), "holds a list instead of a dictionary"),
    "binary string": (_binary("hello"), "holds text instead of a dictionary"),
    "entity bomb": (
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<plist><dict><key>Device Name</key><string>&b;</string></dict></plist>",
        "damaged XML plist",
    ),
}


@pytest.mark.parametrize("name", PLIST_NAMES)
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_each_damaged_plist_becomes_a_note(tmp_path: Path, name: str, damage: str) -> None:
    write_all(tmp_path)
    data, words = DAMAGE[damage]
    (tmp_path / name).write_bytes(data)
    info = read_backup_info(tmp_path)
    assert len(info.notes) == 1
    assert info.notes[0].startswith(name) and words in info.notes[0]
    # the other two plists still count
    if name == "Info.plist":
        assert info.device_name == "Lockdown name"
        assert info.last_backup_date == datetime(2024, 1, 15, 12, tzinfo=timezone.utc)
    else:
        assert info.device_name == "Anna's iPhone"
    assert info.encrypted is (None if name == "Manifest.plist" else False)
    assert info.snapshot_state == (None if name == "Status.plist" else "finished")


def test_wrong_types_inside_plists_are_noted_and_skipped(tmp_path: Path) -> None:
    info = {
        "Device Name": 12,
        "Display Name": "Fallback name",
        "Product Type": ["iPhone"],
        "Last Backup Date": "yesterday",
        "Installed Applications": "com.example.app",
        "Applications": ["com.example.app"],
    }
    manifest = {"IsEncrypted": "yes", "Lockdown": "not a dict", "Applications": {"com.ok.app": 1}}
    status = {"SnapshotState": 3, "Date": datetime(2023, 5, 6)}
    write_all(tmp_path, info, manifest, status)
    result = read_backup_info(tmp_path)
    assert result.device_name == "Fallback name"
    assert result.product_type is None
    assert result.last_backup_date == datetime(2023, 5, 6, tzinfo=timezone.utc)
    assert result.encrypted is None
    assert result.snapshot_state is None
    assert result.bundle_ids == ("com.ok.app",)
    assert set(result.notes) == {
        "Manifest.plist key 'Lockdown' holds text instead of a dictionary; it was ignored.",
        "Info.plist key 'Device Name' holds a number instead of text; it was ignored.",
        "Info.plist key 'Product Type' holds a list instead of text; it was ignored.",
        "Info.plist key 'Last Backup Date' holds text instead of a date; it was ignored.",
        "Manifest.plist key 'IsEncrypted' holds text instead of a boolean; it was ignored.",
        "Info.plist key 'Installed Applications' holds text instead of a list; it was ignored.",
        "Info.plist key 'Applications' holds a list instead of a dictionary; it was ignored.",
        "Status.plist key 'SnapshotState' holds a number instead of text; it was ignored.",
    }


@pytest.mark.parametrize("fmt", [plistlib.FMT_XML, plistlib.FMT_BINARY])
def test_keys_of_an_encrypted_backup_are_read_not_shown(tmp_path: Path, fmt: plistlib.PlistFormat) -> None:
    keybag, manifest_key = b"VERS\x00\x00\x00\x04\x00\x00\x00\x05" + bytes(range(60)), b"\x04\x00\x00\x00" + bytes(40)
    write_plist(tmp_path / "Manifest.plist", {**MANIFEST, "IsEncrypted": True, "BackupKeyBag": keybag,
                                              "ManifestKey": manifest_key}, fmt)
    info = read_backup_info(tmp_path)
    assert (info.encrypted, info.keybag, info.manifest_key) == (True, keybag, manifest_key)
    assert not any("Manifest.plist" in note for note in info.notes)
    assert keybag.hex() not in repr(info) and "keybag" not in repr(info) and "manifest_key" not in repr(info)


def test_backup_without_keys_has_none(tmp_path: Path) -> None:
    """Before iOS 10.2 there is no ManifestKey (Manifest.db is not encrypted); unencrypted, no keybag either."""
    write_all(tmp_path)
    assert (read_backup_info(tmp_path).keybag, read_backup_info(tmp_path).manifest_key) == (None, None)
    write_plist(tmp_path / "Manifest.plist", {**MANIFEST, "IsEncrypted": True, "BackupKeyBag": b"SALT"})
    info = read_backup_info(tmp_path)
    assert (info.keybag, info.manifest_key, info.notes) == (b"SALT", None, ())


def test_keys_of_the_wrong_type_are_noted_and_skipped(tmp_path: Path) -> None:
    write_plist(tmp_path / "Manifest.plist", {**MANIFEST, "IsEncrypted": True, "BackupKeyBag": "c2VjcmV0",
                                              "ManifestKey": 44})
    info = read_backup_info(tmp_path)
    assert (info.encrypted, info.keybag, info.manifest_key) == (True, None, None)
    assert {note for note in info.notes if note.startswith("Manifest.plist")} == {
        "Manifest.plist key 'BackupKeyBag' holds text instead of binary data; it was ignored.",
        "Manifest.plist key 'ManifestKey' holds a number instead of binary data; it was ignored.",
    }


def test_manifest_without_is_encrypted_is_unknown(tmp_path: Path) -> None:
    write_plist(tmp_path / "Manifest.plist", {"Version": "9.1"})
    info = read_backup_info(tmp_path)
    assert info.encrypted is None
    assert any("IsEncrypted" in note for note in info.notes)


def test_symlinked_plist_is_ignored(tmp_path: Path) -> None:
    outside = tmp_path / "outside.plist"
    write_plist(outside, {"Device Name": "EVIL", "Unique Identifier": "evil"})
    root = tmp_path / "backup"
    root.mkdir()
    write_all(root)
    (root / "Info.plist").unlink()
    (root / "Info.plist").symlink_to(outside)
    (root / "Status.plist").unlink()
    (root / "Status.plist").symlink_to("/etc/passwd")
    info = read_backup_info(root)
    assert info.device_name == "Lockdown name"
    assert info.udid == "ab" * 20
    assert info.snapshot_state is None
    assert "Info.plist is a symbolic link; it was ignored." in info.notes
    assert "Status.plist is a symbolic link; it was ignored." in info.notes


def test_fifo_and_folder_named_like_plists_do_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Info.plist")
    (tmp_path / "Status.plist").mkdir()
    write_plist(tmp_path / "Manifest.plist", MANIFEST)
    with deadline(10):
        info = read_backup_info(tmp_path)
    assert info.device_name == "Lockdown name"
    assert "Info.plist is not a regular file; it was ignored." in info.notes
    assert "Status.plist is not a regular file; it was ignored." in info.notes


def test_oversized_plist_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_all(tmp_path)
    monkeypatch.setattr(plists, "MAX_PLIST_BYTES", 100)
    info = read_backup_info(tmp_path)
    assert info.device_name is None
    assert len(info.notes) == 3 and all("too large" in note for note in info.notes)


def test_reading_keeps_access_times(tmp_path: Path) -> None:
    write_all(tmp_path)
    old = 1_000_000_000_000_000_000  # 2001: older than mtime, so relatime would update it
    for name in PLIST_NAMES:
        os.utime(tmp_path / name, ns=(old, os.lstat(tmp_path / name).st_mtime_ns))
    read_backup_info(tmp_path)
    if os.geteuid() == 0 or all(os.lstat(tmp_path / n).st_uid == os.geteuid() for n in PLIST_NAMES):
        assert [os.lstat(tmp_path / n).st_atime_ns for n in PLIST_NAMES] == [old] * 3


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600), st.sampled_from(PLIST_NAMES), st.booleans())
def test_arbitrary_bytes_never_raise(tmp_path: Path, data: bytes, name: str, as_binary: bool) -> None:
    write_all(tmp_path)
    if as_binary:
        data = b"bplist00" + data
    (tmp_path / name).write_bytes(data)
    info = read_backup_info(tmp_path)
    assert isinstance(info.notes, tuple)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0), st.binary(min_size=1, max_size=1))
def test_mutated_binary_plists_never_raise(tmp_path: Path, position: int, byte: bytes) -> None:
    data = bytearray(_binary(INFO))
    data[position % len(data)] = byte[0]
    (tmp_path / "Info.plist").write_bytes(bytes(data))
    read_backup_info(tmp_path)
