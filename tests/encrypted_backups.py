"""Encrypted test backups whose every secret is known, for the mount tests of encrypted backups.

Each payload carries a marker of its own (random per build), the sms.db holds marked
messages both in its main file and only in its ``-wal``, and one file has a name that is
written nowhere but in Manifest.db: so a test can look for any byte of plaintext, any key
and the password wherever backupfs might have left them.
"""

from __future__ import annotations

import os
import plistlib
import random
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from backupfs.demo import readable_messages, samples
from backupfs.demo.encrypted import EncryptionKeys, write_encrypted_backup
from backupfs.demo.sqlbuild import insert
from backupfs.demo.writer import PayloadSpec
from backupfs.source.manifest.records import Kind, file_id
from tests.conftest import REPO

SIZES = (0, 1, 15, 16, 17, 4099, 1_000_003)  # around the AES block, a page, and a megabyte
SMS = ("HomeDomain", "Library/SMS/sms.db")
SECRET_DOMAIN = "AppDomain-org.example.hidden"


def token() -> str:
    """Twelve random hex digits: a marker no other file on the machine holds by chance."""
    return secrets.token_hex(6)


@dataclass
class EncryptedPhone:
    """An encrypted backup written by :func:`write_encrypted_backup`, and every secret in it."""

    root: Path
    specs: list[PayloadSpec]
    keys: EncryptionKeys
    password: str
    markers: list[bytes]  # one per payload (a 0- or 1-byte file holds only its start), in sms.db rows too
    secret_name: str  # a path component that only Manifest.db names
    wal_only_texts: list[str] = field(default_factory=list)  # messages committed to sms.db-wal only

    @property
    def files(self) -> list[PayloadSpec]:
        return [spec for spec in self.specs if spec.kind is Kind.FILE]

    def plaintext(self) -> dict[str, bytes]:
        """fileID -> the bytes the mount must show."""
        return {file_id(s.domain, s.relative_path): s.content or b"" for s in self.files}

    def forbidden(self) -> list[bytes]:
        """Every byte string that must never reach a disk: markers, the hidden name, the password, every key
        (raw and as lowercase hex)."""
        keys = [self.keys.password_key, self.keys.manifest_key, *self.keys.class_keys.values(),
                *self.keys.file_keys.values()]
        return [*self.markers, self.secret_name.encode(), self.password.encode(),
                *keys, *(key.hex().encode() for key in keys)]


def marked_body(marker: bytes, length: int, seed: int) -> bytes:
    """``length`` bytes beginning (and, when long, also ending) with ``marker``; random bytes between.

    Shorter than the marker: its first bytes (a 0- or 1-byte file cannot carry a marker).
    """
    if length <= len(marker):
        return marker[:length]
    filler = random.Random(seed).randbytes(length - len(marker))
    body = marker + filler
    if length >= 2 * len(marker) + 16:
        body = body[:-len(marker)] + marker
    return body


def wal_sms(folder: Path, main_marker: str, wal_marker: str) -> tuple[bytes, bytes, list[str]]:
    """(sms.db, sms.db-wal, texts only in the -wal) of a real iOS 17 sms.db in WAL mode.

    The sample conversations and a message carrying ``main_marker`` are checkpointed into
    the main file; two more messages carrying ``wal_marker`` are committed after, with
    checkpoints off, so they live in the ``-wal`` only. Both files are copied while the
    connection is open, as a device leaves them.
    """
    sample = readable_messages.ios17_sms()
    rowid = len(sample.messages)
    path = folder / "sms.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.executescript(sample.sql)
        conn.executescript(_message(rowid + 1, f"Checkpointed {main_marker}"))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        late = [f"Only in the journal {wal_marker} #{n}" for n in (1, 2)]
        for offset, text in enumerate(late, 2):
            conn.executescript(_message(rowid + offset, text))
        main, wal = path.read_bytes(), Path(f"{path}-wal").read_bytes()
    finally:
        conn.close()
    assert len(wal) > 32 and wal_marker.encode() in wal and wal_marker.encode() not in main
    return main, wal, late


def _message(rowid: int, text: str) -> str:
    """A message from Emma in the first chat of the iOS 17 sample (chat 1, handle 1)."""
    date = (1_699_700_000 + rowid - samples.APPLE_EPOCH) * 1_000_000_000
    return "\n".join([
        "BEGIN;",
        insert("message", ROWID=rowid, guid=f"MARKED-{rowid}-{token()}", text=text, handle_id=1,
               service="iMessage", account="e:me@example.com", date=date, date_read=date, date_delivered=date,
               is_delivered=1, is_finished=1, is_from_me=0, is_read=1),
        insert("chat_message_join", chat_id=1, message_id=rowid, message_date=date),
        "COMMIT;",
    ])


def phone_specs(folder: Path, *, sizes: Iterable[int] = SIZES) -> tuple[list[PayloadSpec], list[bytes], str, list[str]]:
    """(specs, markers, secret name component, wal-only texts) of a small encrypted phone."""
    markers: list[bytes] = []

    def marker() -> bytes:
        markers.append(f"M{token()}".encode())  # 13 bytes: fits in a 15-byte file
        return markers[-1]

    secret_name = f"secret-name-{token()}"
    main_marker, wal_marker = marker().decode(), marker().decode()
    sms, wal, late = wal_sms(folder, main_marker, wal_marker)
    specs = [
        PayloadSpec("HomeDomain", "", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library", kind=Kind.DIR),
        PayloadSpec("HomeDomain", "Library/SMS", kind=Kind.DIR),
        PayloadSpec(*SMS, sms),
        PayloadSpec(SMS[0], SMS[1] + "-wal", wal),
        PayloadSpec("HomeDomain", "Library/Messages-link", kind=Kind.SYMLINK, target="SMS/sms.db"),
        PayloadSpec("HomeDomain", "Library/Preferences/org.example.marked.plist",
                    plistlib.dumps({"Marker": marker().decode(), "Count": 3}, fmt=plistlib.FMT_BINARY)),
        PayloadSpec("MediaDomain", "Media", kind=Kind.DIR),
        PayloadSpec(SECRET_DOMAIN, f"Documents/{secret_name}", kind=Kind.DIR),
        PayloadSpec(SECRET_DOMAIN, f"Documents/{secret_name}/notes.txt", b"notes " + marker() + b"\n"),
    ]
    for length in sizes:
        specs.append(PayloadSpec("MediaDomain", f"Media/len-{length}.bin", marked_body(marker(), length, length)))
    return specs, markers, secret_name, late


def encrypted_phone(folder: Path, *, seed: int = 0, sizes: Iterable[int] = SIZES) -> EncryptedPhone:
    """Write the phone of :func:`phone_specs` into ``folder/backup``, locked by a random password."""
    scratch = folder / "scratch"
    scratch.mkdir(parents=True)
    specs, markers, secret_name, late = phone_specs(scratch, sizes=sizes)
    shutil.rmtree(scratch)  # the plaintext database: a scan for leftovers must find none but backupfs's
    password = f"pw-{token()}"
    root = folder / "backup" / "00008030-001A2B3C4D5E6F70"
    keys = write_encrypted_backup(root, specs, password, iterations=2, dpic=2, seed=seed)
    return EncryptedPhone(root, specs, keys, password, markers, secret_name, late)


def cli(
    *args: str | os.PathLike[str], env: Mapping[str, str | None] | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m backupfs ARGS`` with stdin from /dev/null (no terminal to ask a password on).

    ``env`` changes the environment: a value None removes the variable.
    """
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        [sys.executable, "-m", "backupfs", *map(str, args)], check=False, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, env=environment,
    )


def changed_files(tops: Iterable[Path], reference: Path) -> list[Path]:
    """Regular files under ``tops`` modified or changed (ctime: a time set back by hand cannot hide a file)
    after ``reference``'s modification time, as ``find -newer`` sees them, never crossing into another mount.

    Each folder at the top is searched by a ``find`` of its own, several at once: a crowded
    shared /tmp or /var/tmp is searched in a few seconds instead of half a minute.
    """
    changed = ["-type", "f", "(", "-newer", str(reference), "-o", "-cnewer", str(reference), ")", "-print0"]
    searches = []
    for top in tops:
        device = top.lstat().st_dev
        searches.append(["find", str(top), "-maxdepth", "1", *changed])
        with os.scandir(top) as entries:
            searches += [["find", entry.path, "-xdev", *changed] for entry in entries
                         if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_dev == device]

    def run(command: list[str]) -> bytes:
        return subprocess.run(command, check=False, capture_output=True, timeout=300).stdout

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = b"".join(pool.map(run, searches))
    return [Path(os.fsdecode(raw)) for raw in found.split(b"\0") if raw]


def every_file(top: Path) -> list[Path]:
    """Every regular file under ``top``, whatever its time (links not followed)."""
    return [Path(d) / name for d, _, names in os.walk(top) for name in names
            if stat.S_ISREG((Path(d) / name).lstat().st_mode)]


def secrets_in(path: Path, patterns: list[bytes], chunk: int = 16 << 20) -> list[bytes]:
    """Which of ``patterns`` occur in the file at ``path`` (read in overlapping chunks)."""
    overlap = max(map(len, patterns)) - 1
    found: set[bytes] = set()
    tail = b""
    try:
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                window = tail + block
                found.update(p for p in patterns if p not in found and p in window)
                tail = window[-overlap:] if overlap else b""
    except OSError:  # gone, or a file no one may read
        return []
    return [p for p in patterns if p in found]
