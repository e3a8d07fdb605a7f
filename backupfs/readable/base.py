"""What a renderer is: the contract between one kind of personal data and the readable folder.

A renderer turns one kind of data the backup holds (messages, contacts, notes...) into
files a person opens in the usual app. It works in two steps, so that the mount never
renders everything up front:

* :meth:`Renderer.plan` lists the files of its folder (``Messages/``, ``Contacts/``...): their
  paths, and for each either a ``key`` that :meth:`Renderer.render` turns into the file's
  bytes later, or ``same_as``, a file of the backup shown there as it is (a photo under its
  original name, a voicemail named by date and caller): the same bytes, never a copy;
* :meth:`Renderer.render` produces one planned file's bytes, when it is opened.

Renderers read the backup only through :class:`Backup`: databases come read-only, with
their ``-wal`` merged, and links to the backup's own files are computed for them. A
database that is damaged or of an unexpected shape raises (``sqlite3.Error``,
``ValueError``, ``KeyError``...): the framework then shows a short text saying what could
not be read instead, and the mount goes on. Renderers never write anything, anywhere.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

READABLE_FOLDER = "0 Your data"
"""The folder at the top of each backup in the mount; the leading digit sorts it first."""


class Backup(Protocol):
    """The backup, as a renderer may read it."""

    def database(self, domain: str, relative_path: str) -> sqlite3.Connection | None:
        """A read-only connection to that database of the backup, its ``-wal`` merged in;
        None when the backup does not hold it under a proven name. Its text factory is
        :func:`lenient_text`."""

    def has(self, domain: str, relative_path: str) -> bool:
        """Whether the backup holds that file under a proven name."""

    def read(self, domain: str, relative_path: str) -> bytes | None:
        """The bytes of that file (for a small one: an image to inline, a plist); None when absent."""

    def link(self, from_file: str, domain: str, relative_path: str) -> str | None:
        """A relative URL from ``from_file`` (a path inside the readable folder, such as
        ``Messages/Anna.html``) to that file of the backup as the mount shows it; None when
        the backup does not hold it."""


def lenient_text(raw: bytes) -> str:
    """Text of a database as a connection returns it: one value that is not valid UTF-8 (a
    damaged page, an app's own encoding) shows replacement characters instead of failing
    every query that reads it."""
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class Planned:
    """One file of a renderer's folder. ``path`` is relative to that folder, parts joined by "/"."""

    path: str
    key: str | None = None  # for render(); exactly one of key and same_as is given
    same_as: tuple[str, str] | None = None  # (domain, relativePath) of a backup file shown here as it is
    mtime: int | None = None  # Unix seconds, shown as the file's date

    def __post_init__(self) -> None:
        if (self.key is None) == (self.same_as is None):
            raise ValueError(f"{self.path}: give exactly one of key and same_as")


@dataclass(frozen=True)
class Plan:
    """A renderer's folder, and what ``backupfs info`` says of it ("213 conversations, 48,112 messages")."""

    files: list[Planned]
    summary: str


class Renderer(Protocol):
    """One kind of data. ``folder`` is its folder's name in the readable folder ("Messages")."""

    folder: str

    def plan(self, backup: Backup) -> Plan | None:
        """The files to show; None when the backup holds none of this kind of data."""

    def render(self, backup: Backup, key: str) -> bytes:
        """The bytes of the planned file whose key is ``key``."""


# Windows refuses these names, with any extension; macOS and Windows refuse the characters.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_MAX_NAME_BYTES = 180  # leaves room for a "~2" and the longest extension within 255


def safe_name(text: str, fallback: str = "Untitled") -> str:
    """``text`` as one file or folder name that Windows, macOS and Linux all accept.

    No ``< > : " / \\ | ? *`` or control characters (each becomes "_"), no leading or
    trailing dots or spaces, not a reserved Windows device name, at most 180 bytes of
    UTF-8 (NFC). An empty result gives ``fallback``.
    """
    name = unicodedata.normalize("NFC", _UNSAFE.sub("_", text)).strip(" .")
    encoded = name.encode("utf-8")
    if len(encoded) > _MAX_NAME_BYTES:
        name = encoded[:_MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(" .")
    if not name:
        name = fallback
    if name.split(".", 1)[0].upper() in _RESERVED:
        name = f"_{name}"
    return name


def unique_paths(paths: Iterable[str]) -> list[str]:
    """``paths`` in order, each made unique (case-insensitively, as Windows and macOS compare)
    by " 2", " 3"... before its extension."""
    seen: set[str] = set()
    result = []
    for path in paths:
        folder, _, leaf = path.rpartition("/")
        stem, dot, ext = leaf.rpartition(".")
        if not dot or not stem:
            stem, ext = leaf, ""
        head = f"{folder}/" if folder else ""
        tail = f".{ext}" if ext else ""
        candidate, number = path, 1
        while candidate.casefold() in seen:
            number += 1
            candidate = f"{head}{stem} {number}{tail}"
        seen.add(candidate.casefold())
        result.append(candidate)
    return result
