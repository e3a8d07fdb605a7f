"""The readable folder in real mounts: what a person opens, through the kernel, as they would.

The renderers have their own tests (tests/readable); these check what only a mount shows:
every kind of data appears in its folder with a true size, links lead to files of the
mount, photos and voicemails are the backup's own bytes, a damaged database gives a note
and a working mount, and ``backupfs info`` says what was rendered.
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import icalendar
import pytest
import vobject

from backupfs.demo import (
    readable_calendar,
    readable_calls,
    readable_contacts,
    readable_messages,
    readable_notes,
    readable_photos,
    readable_safari,
    readable_whatsapp,
)
from backupfs.demo.sqlbuild import database_bytes
from backupfs.demo.writer import PayloadSpec
from backupfs.index.store import MEASURED_IN, Index
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.manifest.records import file_id
from tests.backups import build
from tests.conftest import REPO, run_cli, within

SMS = ("HomeDomain", "Library/SMS/sms.db")
FOLDERS = ["Calendar", "Calls", "Contacts", "Messages", "Notes", "Photos", "Safari", "Voice Memos", "Voicemail",
           "WhatsApp"]


def everything() -> tuple[list[PayloadSpec], dict[str, object]]:
    """A backup holding one of each kind of data, from the renderers' fixtures, and those fixtures."""
    sms = readable_messages.ios17_sms()
    notes = readable_notes.note_store_ios16()
    fixtures = {
        "sms": sms, "notes": notes, "contacts": readable_contacts.address_book_ios16(),
        "calendar": readable_calendar.calendar_ios13(), "calls": readable_calls.call_history(),
        "voicemail": readable_calls.voicemail(), "memos": readable_calls.cloud_recordings(),
        "photos": readable_photos.ios16_photos(), "safari": readable_safari.ios16_safari(),
        "whatsapp": readable_whatsapp.current_chat_storage(),
    }
    specs = [PayloadSpec(*SMS, sms.database()), *(PayloadSpec(*file) for file in sms.files),
             PayloadSpec(notes.domain, notes.path, database_bytes(notes.sql)),
             *(PayloadSpec(notes.domain, path, data) for path, data in notes.files)]
    for name in ("contacts", "calendar", "calls", "voicemail", "memos", "photos", "safari", "whatsapp"):
        specs += fixtures[name].payloads()
    return specs, fixtures


class Page(HTMLParser):
    """The links and images of an HTML page, and whether its tags balance."""

    VOID: ClassVar[set[str]] = {"meta", "img", "br", "hr", "link", "source", "input", "wbr"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attribute in ("href", "src"):
            if values.get(attribute) and not values[attribute].startswith(("data:", "http:", "https:", "mailto:", "#")):
                self.targets.append(values[attribute])
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def mounted(tmp_path: Path, mount) -> tuple[Path, dict[str, object], Path]:
    specs, fixtures = everything()
    backup = build(tmp_path / "backup", specs)
    return mount(backup.root), fixtures, backup.root


def files_under(folder: Path) -> list[Path]:
    return sorted(Path(d) / f for d, _, names in os.walk(folder) for f in names)


def test_every_kind_of_data_has_its_folder_and_true_sizes(mounted) -> None:
    mnt, _, _ = mounted
    home = mnt / READABLE_FOLDER
    assert min(os.listdir(mnt)) == READABLE_FOLDER  # it sorts first, before the domains
    assert sorted(os.listdir(home)) == FOLDERS
    files = within(60, lambda: files_under(home), what="walking the readable folder")
    assert len(files) > 30
    for path in files:
        data = path.read_bytes()
        assert os.stat(path).st_size == len(data) > 0, path  # the size a file manager shows is the real one
        assert os.stat(path).st_mtime > 0, path


def test_messages_show_every_text_and_link_to_files_of_the_mount(mounted) -> None:
    mnt, fixtures, _ = mounted
    folder = mnt / READABLE_FOLDER / "Messages"
    text = "\n".join(path.read_text() for path in folder.glob("*.txt"))
    for message in fixtures["sms"].messages:
        assert message.text in text, message
    pages = list(folder.glob("*.html"))
    assert pages
    resolved = 0
    for page in pages:
        parsed = Page(page.read_text())
        assert parsed.open == [], page
        for target in parsed.targets:
            shown = mnt / posixpath.normpath(posixpath.join(f"{READABLE_FOLDER}/Messages", unquote(target)))
            assert shown.is_file(), f"{page.name}: {target} leads nowhere"
            resolved += 1
    present = [a for m in fixtures["sms"].messages for a in m.attachments if a.data is not None]
    assert resolved >= len(present) > 0


def test_contacts_calendar_and_calls_parse_and_hold_every_record(mounted) -> None:
    mnt, fixtures, _ = mounted
    home = mnt / READABLE_FOLDER
    cards = list(vobject.readComponents((home / "Contacts/Contacts.vcf").read_text()))
    assert len(cards) == len(fixtures["contacts"].people)
    summaries = set()
    for ics in (home / "Calendar").glob("*.ics"):
        summaries |= {str(c.get("SUMMARY")) for c in icalendar.Calendar.from_ical(ics.read_bytes()).walk()
                      if c.name in ("VEVENT", "VTODO")}
    assert {event.summary for event in fixtures["calendar"].events if event.summary} <= summaries
    rows = list(csv.DictReader(io.StringIO((home / "Calls/Calls.csv").read_text("utf-8-sig"))))
    assert len(rows) == len(fixtures["calls"].records)
    notes = "\n".join(path.read_text() for path in (home / "Notes").rglob("*.txt"))
    for note in fixtures["notes"].notes:
        assert note.title in notes


def test_photos_and_voicemail_are_the_backups_own_bytes(mounted) -> None:
    mnt, fixtures, _ = mounted
    home = mnt / READABLE_FOLDER
    photos = files_under(home / "Photos")
    assert photos
    by_file_id = {file_id(readable_photos.DOMAIN, path): (path, data) for path, data in fixtures["photos"].files.items()}
    for photo in photos:
        path, data = by_file_id[os.getxattr(photo, "user.backupfs.fileid").decode()]
        assert photo.read_bytes() == data == (mnt / readable_photos.DOMAIN / path).read_bytes()
    audio = [path for path in files_under(home / "Voicemail") if path.suffix != ".csv"]
    assert len(audio) == sum(v.audio is not None for v in fixtures["voicemail"].records)


def test_info_says_what_was_rendered(mounted, index_dir: Path) -> None:
    mnt, fixtures, root = mounted
    os.listdir(mnt / READABLE_FOLDER)  # once listed, the folder is planned
    info = run_cli("info", root, "--index-dir", index_dir).stdout
    conversations = len(fixtures["sms"].conversations)
    assert f"Messages:    {conversations} conversations, {len(fixtures['sms'].messages)} messages" in info, info
    assert f"Contacts:    {len(fixtures['contacts'].people)} contacts" in info, info


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_database_gives_a_note_and_a_working_mount(tmp_path: Path, mount, damage: str) -> None:
    specs, fixtures = everything()
    database = fixtures["sms"].database()
    if damage == "truncated":
        database = database[: len(database) // 3 + 100]
    else:
        page = 4096
        database = database[:page] + bytes(range(256)) * (len(database[page:]) // 256 + 1)
        database = database[: len(fixtures["sms"].database())]
    specs = [PayloadSpec(*SMS, database) if (s.domain, s.relative_path) == SMS else s for s in specs]
    mnt = mount(build(tmp_path / "backup", specs).root)
    home = mnt / READABLE_FOLDER
    note = (home / "Messages" / "Could not be read.txt").read_text()
    assert "backupfs could not read messages" in note and "domain folders" in note
    assert len(list((home / "Messages").iterdir())) == 1
    assert (home / "Contacts" / "Contacts.vcf").stat().st_size > 0  # the rest of the folder is there
    assert (mnt / SMS[0] / SMS[1]).read_bytes() == database  # the database itself, as it is
    for path in files_under(home):
        assert len(path.read_bytes()) == path.stat().st_size


def test_an_encrypted_backup_or_one_without_such_data_says_so(tmp_path: Path, mount) -> None:
    encrypted = mount(build(tmp_path / "encrypted", index="none", encrypted=True).root)  # its keys are gone
    assert os.listdir(encrypted / READABLE_FOLDER) == ["About this folder.txt"]
    assert "This backup is encrypted" in (encrypted / READABLE_FOLDER / "About this folder.txt").read_text()
    plain = [PayloadSpec("HomeDomain", "Library/Preferences/com.apple.example.plist", b"bplist00\x08\x00")]
    nothing = mount(build(tmp_path / "nothing", plain).root)
    about = (nothing / READABLE_FOLDER / "About this folder.txt").read_text()
    assert os.listdir(nothing / READABLE_FOLDER) == ["About this folder.txt"]
    assert "found none of those databases" in about and len(about.encode()) == (
        nothing / READABLE_FOLDER / "About this folder.txt").stat().st_size


def test_sizes_measured_in_another_time_zone_are_not_trusted(
    tmp_path: Path, mount, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, _ = everything()
    root = build(tmp_path / "backup", specs).root
    monkeypatch.setenv("TZ", "UTC")
    run_cli("info", root, "--index-dir", index_dir)  # completes the index: every page measured in UTC
    [index_path] = index_dir.glob("*.index.sqlite")
    index = Index(index_path)
    measured = {node.path: node.size for node in index.walk() if node.view is not None}
    index.close()
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: other days, other day names, other lengths
    mnt = mount(root)
    home = mnt / READABLE_FOLDER
    lengths = {}
    for path in files_under(home):
        data = path.read_bytes()
        assert path.stat().st_size == len(data), path
        if data.startswith(b"<!DOCTYPE html>"):  # whole: a size measured in UTC would cut the page (or pad it)
            assert data.endswith(b"</html>\n"), path
        lengths[str(path.relative_to(mnt))] = len(data)
    assert any(lengths[path] != size for path, size in measured.items()), "no page changed: the test proves nothing"
    deadline = time.monotonic() + 60
    while Index(index_path).meta.get(MEASURED_IN) != local_zone_of("Pacific/Kiritimati"):
        assert time.monotonic() < deadline, "the mount never measured the pages again in its own time zone"
        time.sleep(0.2)
    index = Index(index_path)
    assert {node.path: node.size for node in index.walk() if node.view is not None} == {
        path: lengths[path] for path in measured}
    index.close()


def local_zone_of(zone: str) -> str:
    """What index.readable.local_zone says in a process whose TZ is ``zone``."""
    code = "from backupfs.index.readable import local_zone; print(local_zone(), end='')"
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, "TZ": zone, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, check=True).stdout
