"""Command line: ``backupfs mount | unmount | info | demo``.

Every expected failure is a ``BackupfsError`` and is printed as one line; exit status 1.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import shutil
import sqlite3
import sys
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from backupfs import __version__
from backupfs.apart import run_apart
from backupfs.content.contents import Contents
from backupfs.content.mount_source import MountSource
from backupfs.errors import BackupfsError
from backupfs.export.backup_view import backup_view
from backupfs.export.extract import extract
from backupfs.export.repaired import write_repaired_backup
from backupfs.fs.mounting import (
    check_mountpoint,
    fuse_options,
    mount,
    parse_options,
    unmount,
)
from backupfs.index.build import build_index, build_index_apart
from backupfs.index.complete import (
    Completion,
    InProcessCompletion,
    complete_index,
    running_completion,
)
from backupfs.index.notices import ENCRYPTED_NO_INDEX
from backupfs.index.store import Index
from backupfs.password import HOW_TO_GIVE, obtain_password, wipe
from backupfs.progress import Progress, Status
from backupfs.readable.base import READABLE_FOLDER
from backupfs.source.crypto import ClassKeys, Keybag, WrongPasswordError
from backupfs.source.discover import Backup, find_backups
from backupfs.source.manifest.records import Kind
from backupfs.source.mounttable import is_mounted
from backupfs.source.sqlite import in_memory, readonly_uri

log = logging.getLogger("backupfs")

LOCKED_NOTE = (
    "This backup is encrypted and no password was given: its files are shown as the encrypted bytes they are, "
    "marked '.encrypted'. To see them decrypted, give its password: "
)


# Back to the start of the line a Ctrl-C left "^C" on, so that the line says what happened instead.
_LINE_START = "\r"
VERBOSE_HELP = "say more of what is being done (-vv: everything, for a bug report)"


def _absolute_path(text: str) -> Path:
    """A path given on the command line, made absolute: a background mount leaves the current folder."""
    return Path(text).absolute()


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps the description's paragraphs to the terminal; keeps example lines (indented) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            line if line.startswith("  ") else textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
            for line in text.splitlines()
        )


def _command(
    commands: argparse._SubParsersAction, name: str, summary: str, description: str, examples: str
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name, help=summary, description=description, epilog="example:\n" + textwrap.indent(examples.strip(), "  "),
        formatter_class=_HelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backupfs",
        description=(
            "Mount an iPhone or iPad backup made by Finder or iTunes as a read-only folder, also one they call "
            "corrupt or not compatible. Every file whose name can be proven appears at its path on the device, "
            "every other one under other-data/, sorted by type. Nothing is copied and the backup is never changed."
        ),
        epilog=(
            "example:\n"
            "  backupfs info  ~/Backup/00008030-001A2B3C4D5E6F70\n"
            "  backupfs mount ~/Backup/00008030-001A2B3C4D5E6F70 ~/iphone\n"
            "  backupfs unmount ~/iphone\n\n"
            "'backupfs COMMAND --help' says more of each command."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"backupfs {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def source_argument(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "source", type=_absolute_path, metavar="SOURCE",
            help="the backup folder (named by the device id, it holds Manifest.plist and folders 00 to ff), a "
            "folder that holds one, or a MobileSync Backup folder holding several",
        )

    def index_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--password-file", type=_absolute_path, metavar="FILE",
            help="for an encrypted backup: read its password from the first line of FILE (or set BACKUPFS_PASSWORD; "
            "'mount' asks for it on the terminal otherwise). It is used in memory only, never kept",
        )
        sub.add_argument(
            "--index-dir", type=_absolute_path, metavar="DIR",
            help="keep backupfs's index of the backup (the names and types the first run works out) in DIR "
            "instead of your cache folder; never inside the backup",
        )
        sub.add_argument(
            "--catalog", type=_absolute_path, metavar="FILE",
            help="name files with this catalog of paths seen on real iPhones instead of the built-in one "
            "(contrib/build_catalog.py builds one from device listings)",
        )
        sub.add_argument(
            "--names-from", type=_absolute_path, action="append", default=[], metavar="PATH",
            help="another backup folder, or its Manifest.db, whose file names may name files of this one (an "
            "older backup of the same phone, say); repeat it for several",
        )

    sub = _command(
        commands, "mount", "mount a backup read-only",
        "Mount the backup(s) in SOURCE read-only on MOUNTPOINT, and return once the files can be read. The first "
        "mount of a backup works out names and types and keeps them in an index in your cache folder (a minute "
        "for a large backup, with a progress bar); later mounts of the same backup are ready at once. Files "
        "without a proven name are sorted by type in the background once the mount is ready: other-data/ opens "
        "when that is done, and 'backupfs info SOURCE' says how far it is. An encrypted backup asks for its password "
        "(or takes it from BACKUPFS_PASSWORD or --password-file) and is shown decrypted; what is decrypted stays in "
        "memory, never on a disk, so such a mount works it all out again each time.",
        """
backupfs mount ~/Backup/00008030-001A2B3C4D5E6F70 ~/iphone
backupfs mount -f /media/usb/MobileSync/Backup ~/iphone    # stays in the foreground: Ctrl-C unmounts
""",
    )
    source_argument(sub)
    sub.add_argument(
        "mountpoint", type=_absolute_path, metavar="MOUNTPOINT",
        help="an empty folder to show the backup in (create it first, e.g. mkdir ~/iphone)",
    )
    sub.add_argument(
        "-f", "--foreground", action="store_true",
        help="stay in the foreground, showing the progress of the background work, until Ctrl-C or "
        "'backupfs unmount' ends the mount",
    )
    sub.add_argument(
        "-o", dest="options", metavar="OPTIONS",
        help="FUSE mount options, separated by commas: -o allow_other lets the other users of this computer "
        "read the mount (see the README first)",
    )
    sub.add_argument(
        "--as", dest="view", choices=("tree", "backup"), default="tree",
        help="'tree' (the default): every file at its path on the device; 'backup': the repaired backup, a backup "
        "folder with a synthesised Manifest.db that tools such as mvt, iLEAPP and iOSbackup (and a restore) accept, "
        "its files served from the source without a copy",
    )
    index_options(sub)

    sub = _command(
        commands, "unmount", "unmount a mounted backup",
        "Unmount a backup mounted with 'backupfs mount', also one whose filesystem has stopped (\"Transport "
        "endpoint is not connected\"). Any other mount is left alone. The backup itself is not touched.",
        "backupfs unmount ~/iphone",
    )
    sub.add_argument("mountpoint", type=_absolute_path, metavar="MOUNTPOINT", help="the folder the backup is mounted on")

    sub = _command(
        commands, "info", "describe a backup and what backupfs can recover from it",
        "Describe the backup(s) in SOURCE: device, iOS version, date, whether its index survived, encryption, and "
        "how many files are named, from where, and how many are sorted by type. The first time, it does the work "
        "of a first mount (and keeps it for the mount); while a mount of the backup is still sorting files in the "
        "background, it says how far that is.",
        "backupfs info ~/Backup/00008030-001A2B3C4D5E6F70",
    )
    source_argument(sub)
    index_options(sub)

    sub = _command(
        commands, "report", "one line per file: its name, where the name came from, its type",
        "Print one line per file of the backup(s) in SOURCE: file id, domain, path on the device, where the name "
        "came from, type, size, and where the mount shows it. Tab-separated columns (CSV with --csv) for a "
        "spreadsheet or grep; names are given exactly as the backup holds them.",
        "backupfs report --csv ~/Backup/00008030-001A2B3C4D5E6F70 > files.csv",
    )
    source_argument(sub)
    sub.add_argument("--csv", action="store_true", help="write CSV, for a spreadsheet (default: tab-separated columns)")
    index_options(sub)

    sub = _command(
        commands, "extract", "write the backup's files into a folder, without FUSE (or a repaired backup)",
        "Write what the mount shows into DEST: every file at its path on the device, other-data/ and your data in "
        "readable form, or only the PATHs given (folders or files of that tree). Needs no FUSE, so it works on "
        "Windows and on a Mac as they come. The copies are ordinary files you may change; names Windows or macOS "
        "cannot store are escaped (see the README). Run it again to finish an interrupted extract: complete files "
        "are skipped, a partial one is continued, and every file written is read back and checked. With --as "
        "backup, DEST becomes a repaired backup instead: a backup folder with a Manifest.db, which other tools and "
        "a restore accept. The backup itself is never changed.",
        """
backupfs extract ~/Backup/00008030-001A2B3C4D5E6F70 ~/iphone-files
backupfs extract ~/Backup/00008030-001A2B3C4D5E6F70 ~/photos CameraRollDomain/Media/DCIM
backupfs extract --as backup ~/Backup/00008030-001A2B3C4D5E6F70 ~/repaired/00008030-001A2B3C4D5E6F70
""",
    )
    source_argument(sub)
    sub.add_argument("dest", type=_absolute_path, metavar="DEST", help="the folder to write into (created when missing)")
    sub.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="only these folders or files of the mount's tree (e.g. CameraRollDomain/Media/DCIM); default: everything",
    )
    sub.add_argument(
        "--as", dest="view", choices=("tree", "backup"), default="tree",
        help="'tree' (the default): the files at their paths on the device; 'backup': a repaired backup folder "
        "(payloads at their file ids, a synthesised Manifest.db and plists)",
    )
    sub.add_argument(
        "--names", choices=("here", "windows", "mac"), default="here",
        help="which system the names must suit: 'here' (the default: this computer's), or 'windows' / 'mac' for a "
        "disk that will be read there (an NTFS or exFAT disk written on Linux: use 'windows')",
    )
    sub.add_argument(
        "--link", action="store_true",
        help="with --as backup: hard-link the backup's files instead of copying them (DEST on the same disk; no "
        "space used). A link changes each original's link count and change time, and is the original file: a "
        "tool that reads it later changes the original's access time. Not for evidence; 'mount --as backup' "
        "copies nothing and changes nothing",
    )
    index_options(sub)

    sub = _command(
        commands, "demo", "build a small broken sample backup, mount it and list it",
        "Build a small sample backup whose index is gone, as an interrupted backup leaves it, mount it read-only "
        "and list what backupfs recovers: a safe way to see what to expect before using a real backup. Running it "
        "again starts over.",
        """
backupfs demo
backupfs demo /tmp/backupfs-demo
""",
    )
    sub.add_argument(
        "folder", type=_absolute_path, nargs="?", default="backupfs-demo", metavar="FOLDER",
        help="where to build the sample (FOLDER/backup) and mount it (FOLDER/mnt); default: ./backupfs-demo",
    )
    index_options(sub)
    for sub in commands.choices.values():
        sub.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="backupfs: %(levelname)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except BackupfsError as exc:
        print(f"backupfs: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_LINE_START if sys.stderr.isatty() else ''}backupfs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _invocation() -> str:
    """How the user can call backupfs again, for the hints we print."""
    if shutil.which("backupfs"):
        return "backupfs"
    if os.path.basename(sys.argv[0]) == "backupfs":
        return os.path.abspath(sys.argv[0])
    return f"{sys.executable} -m backupfs"


def _open_index(args: argparse.Namespace, source: Path, complete_later: bool = False, ask: bool = False) -> Index:
    """The index of the backups in ``source``; ``ask`` for an encrypted one's password on a terminal."""
    backups = find_backups(source)
    return build_index(
        backups, args.index_dir, catalog_path=args.catalog, names_from=args.names_from,
        complete_later=complete_later, keys=_unlock(backups, args.password_file, ask=ask),
    )


def _unlock(backups: list[Backup], password_file: Path | None, ask: bool) -> list[ClassKeys | None] | None:
    """The class keys of each encrypted backup whose files a password can decrypt, or None when none can.

    A password can decrypt only where the backup's index, which holds each file's key,
    is still there. It is asked for (``ask``, on a terminal) or taken from where the user
    put it, used once and wiped; a wrong one stops the command.
    """
    lockable = [b.info.encrypted and b.info.keybag is not None and b.index_path is not None for b in backups]
    if not any(lockable):
        return None
    which = backups[lockable.index(True)].display_name()
    password = obtain_password(password_file, ask, f"Password of the encrypted backup of {which}: ")
    if password is None:
        if ask:
            raise BackupfsError(f"the backup of {which} is encrypted and no password was given: {HOW_TO_GIVE}.")
        return None
    keys: list[ClassKeys | None] = []
    try:
        with Progress("Checking the password", 1, unit=None) as bar:
            for number, (backup, can) in enumerate(zip(backups, lockable)):
                which = backup.display_name()
                keybag = Keybag.parse(backup.info.keybag) if can else None  # type: ignore[arg-type]
                keys.append(None if keybag is None else _unlocked(keybag, password, bar, number, len(backups)))
    except WrongPasswordError:
        raise WrongPasswordError(f"the password does not open this backup ({which}): check it and try again.") from None
    finally:
        wipe(password)
    return keys


def _unlocked(keybag: Keybag, password: bytearray, bar: Progress, number: int, count: int) -> ClassKeys:
    """``keybag.unlock(password)``, moving ``bar`` along meanwhile: iOS asks for seconds of hashing."""
    expected = max(keybag.derivation_seconds(), 0.1)
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:  # hashlib lets go of the interpreter while it hashes
        unlocking = pool.submit(keybag.unlock, password)
        while True:
            try:
                keys = unlocking.result(timeout=0.2)
            except FutureTimeout:
                bar.update((number + min(0.99, (time.monotonic() - started) / expected)) / count)
                continue
            bar.update((number + 1) / count)
            return keys


def cmd_mount(args: argparse.Namespace) -> int:
    check_mountpoint(args.mountpoint)
    backups = find_backups(args.source)
    keys = _unlock(backups, args.password_file, ask=True)
    build = build_index if keys else build_index_apart  # an index in memory must be built where it is served
    # Built apart, so the filesystem process stays small; the index is completed once it is up.
    index = build(
        backups, args.index_dir, catalog_path=args.catalog, names_from=args.names_from, complete_later=True, keys=keys,
    )
    for line in _notes(index):
        print(f"backupfs: note: {line}", file=sys.stderr)
    if args.view == "backup":
        _mount_as_backup(args, index)
        return 0
    backups = index.backup_stats
    volume = backups[0].device_name or "iPhone backup" if len(backups) == 1 else "iPhone backups"
    options = fuse_options(volume, parse_options(args.options))
    to_type = sum(backup.unnamed_to_type for backup in backups)
    index_was_pending = bool(index.pending_dirs)
    # Worked out now: a mount in the foreground leaves the current folder once it is up.
    invocation = _invocation()
    unmount_command = f"{invocation} unmount {args.mountpoint}"

    def ready() -> None:
        if args.foreground:
            print(f"Mounted on {args.mountpoint}. Press Ctrl-C here to unmount it (or run '{unmount_command}').")
        else:
            print(f"Mounted on {args.mountpoint}; unmount with: {unmount_command}")
        sorting = f", and {to_type:,} files without a proven name are being sorted by type into other-data/" if to_type else ""
        if index_was_pending:
            # An index kept in memory is this mount's alone: 'info' cannot see how far it is.
            how_far = "" if in_memory(index.path) else f" ('{invocation} info {args.source}' says how far it is)"
            print(
                f"Your data in readable form ({READABLE_FOLDER}/: messages, contacts, notes...) is being prepared in "
                f"the background{sorting}; each folder opens once it is ready{how_far}."
            )
        sys.stdout.flush()

    completion: Completion | InProcessCompletion
    if in_memory(index.path):
        completion = InProcessCompletion(index.path)
    else:
        completion = Completion(index.path, args.mountpoint, show_progress=args.foreground and sys.stderr.isatty())
    mount(index, args.mountpoint, options, args.foreground, keep_stderr=args.verbose > 0, completion=completion,
          on_ready=ready)
    if args.foreground:
        print(f"{_LINE_START if sys.stdout.isatty() else ''}Unmounted {args.mountpoint}.")
    return 0


def _mount_as_backup(args: argparse.Namespace, index: Index) -> None:
    """Mount the repaired backup of ``index``: a backup folder with its index, which other tools accept."""
    view = Index(Path(run_apart(lambda: str(backup_view(index).path))))  # the manifest of a large backup takes memory
    name = index.backup_stats[0].device_name or "iPhone backup"
    invocation = _invocation()

    def ready() -> None:
        if args.foreground:
            print(f"Mounted the repaired backup on {args.mountpoint}. Press Ctrl-C here to unmount it.")
        else:
            print(f"Mounted the repaired backup on {args.mountpoint}; unmount with: {invocation} unmount {args.mountpoint}")
        print(f"Tools that read iPhone backups can read it now, e.g.: mvt-ios check-backup --output mvt-out {args.mountpoint}")
        sys.stdout.flush()

    mount(view, args.mountpoint, fuse_options(f"{name} (repaired)", parse_options(args.options)), args.foreground,
          keep_stderr=args.verbose > 0, on_ready=ready)
    if args.foreground:
        print(f"{_LINE_START if sys.stdout.isatty() else ''}Unmounted {args.mountpoint}.")


def cmd_unmount(args: argparse.Namespace) -> int:
    unmount(args.mountpoint)
    return 0


def _notes(index: Index) -> list[str]:
    notes = []
    for backup in index.backup_stats:
        where = backup.display_name
        if backup.encrypted and backup.index_state in ("missing", "damaged"):
            notes.append(f"{where}: {ENCRYPTED_NO_INDEX}")
        elif backup.encrypted and not backup.decrypted:
            notes.append(f"{where}: {LOCKED_NOTE}{HOW_TO_GIVE}.")
        if backup.index_state == "missing":
            notes.append(f"{where}: the backup index is missing; names were recovered from file hashes.")
        elif backup.index_state == "damaged":
            used = " What it still holds was used." if backup.index_records else ""
            notes.append(f"{where}: {backup.index_problem}{used}")
        notes.extend(f"{where}: {note}" for note in backup.notes)
    return notes


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def describe(index: Index, working: Status | None = None) -> str:
    """What ``info`` prints; ``working`` is a mount's completion of this index still under way."""
    lines = []
    mismatches = index.size_mismatches()
    for number, backup in enumerate(index.backup_stats):
        named = sum(backup.named.values())
        unnamed = sum(backup.unnamed.values())
        device = backup.device_name or "unknown device"
        if backup.product_type:
            device += f" ({backup.product_type})"
        layout = "iOS 10+ (hashed folders)" if backup.layout == "hashed" else "iOS 5-9 (flat)"
        index_line = f"{backup.index_file or 'Manifest.db / Manifest.mbdb'} {backup.index_state}"
        if backup.index_state not in ("missing", "locked"):
            index_line += f", {backup.index_records:,} records"
        encrypted = {True: "yes", False: "no", None: "unknown (Manifest.plist unreadable)"}[backup.encrypted]
        if backup.encrypted:
            encrypted += ", decrypted with its password" if backup.decrypted else ", password needed to decrypt it"
        lines += [
            f"Backup:       {backup.root}",
            f"Shown as:     {backup.display_name}",
            f"Device:       {device}, iOS {backup.ios_version or 'unknown'}",
            f"Backup date:  {backup.last_backup_date or 'unknown'}",
            f"Layout:       {layout}",
            f"Index:        {index_line}",
            f"Encrypted:    {encrypted}",
            f"Payloads:     {backup.payloads:,}",
            f"  named:      {named:,}" + (f" ({_counts(backup.named)})" if named else ""),
        ]
        to_type = backup.unnamed_to_type
        if to_type:
            lines.append(f"  unnamed:    {to_type:,}, not sorted by type yet")
        else:
            lines.append(f"  unnamed:    {unnamed:,}" + (f" ({_counts(backup.unnamed)})" if unnamed else ""))
        if backup.missing_payloads:
            lines.append(f"  missing:    {backup.missing_payloads:,} files listed in the index have no payload")
        if mismatches.get(number):
            lines.append(f"  truncated:  {mismatches[number]:,} payloads are shorter than the size the index records")
        if backup.readable:
            lines.append(f"Readable:     {READABLE_FOLDER}/")
            lines += [f"  {folder + ':':<13}{said}" for folder, said in backup.readable.items()]
        if backup.seconds:
            phases = {"list": "listing", "read_manifest": "reading the index", "name": "naming",
                      "place": "writing the index", "type": "sorting by type"}
            spent = ", ".join(f"{phases.get(k, k)} {v:.1f} s" for k, v in backup.seconds.items())
            lines.append(f"Indexed in:   {spent}")
        lines.append("")
    if working is not None:
        lines += [f"Working:      the mount at {working.mountpoint}: {_how_far(working)}", ""]
    notes = _notes(index)
    if notes:
        lines += ["Notes:"] + [f"  - {note}" for note in notes]
    return "\n".join(lines).rstrip()


def _how_far(status: Status) -> str:
    text = status.label.lower()
    if status.total:
        text += f", {status.done:,} of {status.total:,} ({100 * status.done // status.total}%)"
    left = status.seconds_left()
    if left is not None:
        text += f", about {left:,.0f} s left"
    return text


def cmd_info(args: argparse.Namespace) -> int:
    index = _open_index(args, args.source, complete_later=True)
    working = running_completion(index.path)
    if working is None and (index.pending_dirs or index.unread_count()):
        index.close()  # no mount is completing it: do it here, so that every count is known
        complete_index(index.path)
        index = Index(index.path)
    print(describe(index, working))
    return 0


REPORT_COLUMNS = ("fileid", "domain", "path", "origin", "type", "size", "shown_as", "backup")


def cmd_report(args: argparse.Namespace) -> int:
    index = _open_index(args, args.source)
    writer = csv.writer(sys.stdout, dialect="excel" if args.csv else "excel-tab", lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    contents = Contents(index)
    for entry in sorted(index.walk(), key=lambda e: (e.backup, e.real_name is None, e.real_name or "", e.file_id or "")):
        if entry.kind is not Kind.FILE or entry.source is None:  # a notice or a rendered file is no payload
            continue
        if READABLE_FOLDER in entry.path.split("/")[: len(index.prefixes[entry.backup]) + 1]:
            continue  # a payload shown again in the readable folder, under a human name
        domain, _, path = (entry.real_name or "").partition("/")
        size = contents.payload_stat(entry)[0]
        backup = index.roots[entry.backup]
        writer.writerow((entry.file_id, domain, path, entry.origin, entry.file_type or "", size, entry.path, backup))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from backupfs.demo.backup import build_demo_backup

    folder: Path = args.folder
    backup, mountpoint, marker = folder / "backup", folder / "mnt", folder / ".backupfs-demo"
    if folder.exists() and any(folder.iterdir()) and not marker.exists():
        raise BackupfsError(f"{folder} exists and is not a backupfs demo folder: give another folder.")
    if is_mounted(mountpoint):
        unmount(mountpoint)
    shutil.rmtree(backup, ignore_errors=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    marker.touch()
    build_demo_backup(backup)
    print(f"Built a sample broken backup (its Manifest.db is gone) in {backup}\n")
    index = _open_index(args, backup)
    print(describe(index) + "\n")
    check_mountpoint(mountpoint)
    mount(index, mountpoint, fuse_options("Demo iPhone", {}), foreground=False)
    print(f"Mounted on {mountpoint}:\n")
    for line in _tree_lines(mountpoint):
        print(line)
    sms = next(mountpoint.rglob("sms.db"), None)
    if sms is not None:
        print(f"\nOpening {sms.relative_to(mountpoint)} through the mount with a plain read-only SQLite client:")
        with sqlite3.connect(readonly_uri(sms), uri=True) as conn:
            for (text,) in conn.execute("SELECT text FROM message ORDER BY ROWID LIMIT 5"):
                print(f"  message: {text}")
        conn.close()
    conversations = (mountpoint / READABLE_FOLDER / "Messages").glob("*.html")
    page = max(conversations, key=lambda path: path.stat().st_size, default=None)  # the longest one
    print(f"\nBrowse it: ls {mountpoint}")
    if page is not None:
        print(f"Read it:   open '{page}' in a web browser")
    print(f"Unmount:   {_invocation()} unmount {mountpoint}")
    return 0


def _tree_lines(root: Path) -> list[str]:
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        depth = len(Path(dirpath).relative_to(root).parts)
        if depth:
            lines.append("  " * (depth - 1) + Path(dirpath).name + "/")
        for name in sorted(filenames):
            size = os.lstat(os.path.join(dirpath, name)).st_size
            lines.append("  " * depth + f"{name}  ({size:,} bytes)")
    return lines


def cmd_extract(args: argparse.Namespace) -> int:
    index = _open_index(args, args.source, ask=True)
    if args.view == "backup":
        return _extract_as_backup(args, index)
    platform = {"here": sys.platform, "windows": "win32", "mac": "darwin"}[args.names]
    stats = extract(MountSource(index, keep_folders_open=True), args.dest, args.paths, platform=platform)
    done = f"Wrote {stats.files_written:,} files ({_size(stats.bytes_written)}) into {args.dest} in {stats.seconds:.1f} s"
    if stats.files_skipped:
        done += f"; {stats.files_skipped:,} were there already"
    print(done + ".")
    for path, why in stats.failed[:_FAILURES_SHOWN]:
        print(f"backupfs: could not write {path}: {why}", file=sys.stderr)
    if stats.failed:
        raise BackupfsError(
            f"{len(stats.failed):,} files could not be written (see above); the rest are in {args.dest}. "
            "Run the same command again to retry them."
        )
    return 0


def _extract_as_backup(args: argparse.Namespace, index: Index) -> int:
    if args.paths:
        raise BackupfsError("--as backup writes the whole backup: leave out the PATHs, or extract them without --as backup.")
    several = len(index.roots) > 1
    for number, (root, prefix) in enumerate(zip(index.roots, index.prefixes)):
        dest = args.dest.joinpath(*prefix) if several else args.dest
        with Progress(f"Writing the repaired backup{f' of {prefix[0]}' if several else ''}", None, unit=None) as bar:
            stats = write_repaired_backup(index, number, root, dest, link=args.link,
                                          progress=lambda done, total: bar.update(done, total))
        how = f"{stats.linked:,} hard links and {stats.copied:,} copies" if stats.linked else f"{stats.copied:,} copies"
        print(f"Wrote the repaired backup into {dest}: {stats.files:,} named files in its {stats.manifest}, "
              f"{stats.unnamed:,} unnamed ones beside them ({how}).")
        for fid, why in list(stats.skipped.items())[:_FAILURES_SHOWN]:
            print(f"backupfs: left out {fid}: {why}", file=sys.stderr)
    return 0


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return str(count)


_FAILURES_SHOWN = 20
COMMANDS = {
    "mount": cmd_mount, "unmount": cmd_unmount, "info": cmd_info, "report": cmd_report, "extract": cmd_extract,
    "demo": cmd_demo,
}


if __name__ == "__main__":
    raise SystemExit(main())
