"""Names that a folder written by ``backupfs extract`` can hold on Windows, macOS and Linux.

The mount's names are Linux names: any character but ``/`` and NUL (and the mount shows
no control character either: it writes them as ``%0A``, ``%1B``...). Another system cannot
store some of them. Each name is written unchanged where the system that receives it can
store it, and escaped otherwise, so that the name as written still says exactly what the
original was:

* **What each system cannot store.** Linux and the other POSIX systems: ``/`` and NUL,
  which the mount never shows, so on Linux every name is written byte for byte as the
  mount shows it. macOS: also ``:`` (Finder shows it as ``/``) and bytes that are not
  UTF-8 (APFS refuses them). Windows: also ``< > : " / \\ | ? *``, the control characters,
  bytes that are not UTF-8, a name ending with a dot or a space, and the device names
  CON, PRN, AUX, NUL, CONIN$, CONOUT$, COM0-COM9, LPT0-LPT9, COM¹²³ and LPT¹²³, in any
  case, alone or before an extension or spaces (``con``, ``CON.txt``, ``nul .tar.gz``).
* **Escaping.** Such a character is written as ``%`` and two upper-case hex digits per
  byte of its UTF-8 (``:`` is ``%3A``, ``?`` is ``%3F``, ``é`` would be ``%C3%A9``); a
  byte that is not UTF-8 is written as its own value (``caf\\xe9.jpg`` is
  ``caf%E9.jpg``). A trailing dot or space is ``%2E`` or ``%20`` (``notes.`` is
  ``notes%2E``). A device name has its last character escaped (``CON.txt`` is
  ``CO%4E.txt``, ``lpt1`` is ``lpt%31``). In an escaped name every ``%`` is ``%25``
  (``50%: off`` is ``50%25%3A off``), so that unescaping it (every ``%XX`` back to the
  byte XX) gives the original name: :func:`original_name` does it.
* **No two names meet.** A name that needs no escape but reads as the escaped form of one
  that does (``a%3Ab`` on Windows, where ``a:b`` is written ``a%3Ab``), or as a name
  escaped for case (below: ``%61``), is escaped too (``a%253Ab``, ``%2561``). A name whose unescaping could not be a name of the mount is kept as it
  is: ``https%3A%2F%2Fexample.com`` (a name holds no ``/``), ``%2E%2E`` (the mount's own
  escape of ``..``), ``a%0Ab`` (its escape of a line break).
* **Case.** Windows and macOS do not tell ``IMG_1.JPG`` from ``img_1.jpg`` (nor, on macOS,
  two Unicode normalisations of one name) while iOS does. Of such names in one folder the
  first in byte order keeps its name, and each next one is written with every letter and
  every non-ASCII character escaped (``%69%6D%67_1.%6A%70%67``), which unescapes to the
  original like any escaped name (:func:`portable_names`).
* **Length.** An escaped name longer than 255 bytes of UTF-8 is cut, and given ``~`` and
  the first 8 hex digits of the SHA1 of the original name, before an extension of up to
  16 characters. Such a name, and one that would meet another in spite of the rules above
  (which takes a folder crafted for it: ``J``, ``j`` and ``%6a`` on Windows), gets that
  tag and is the only kind that does not unescape to its original.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable

POSIX, MACOS, WINDOWS = "posix", "macos", "windows"
NAME_MAX = 255
_EXTENSION_KEPT = 16
_TAG_DIGITS = 8

# What each system cannot hold in a name; beyond Linux, bytes that are not UTF-8 (shown as
# U+DC80-U+DCFF, as os.fsdecode gives them) too.
_UNSTORABLE = {
    POSIX: re.compile("[/\x00]"),
    MACOS: re.compile("[/\x00:\udc80-\udcff]"),
    WINDOWS: re.compile('[/\x00-\x1f<>:"\\\\|?*\udc80-\udcff]'),
}
_SUPERSCRIPTS = "¹²³"
_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{number}" for port in ("COM", "LPT") for number in "0123456789" + _SUPERSCRIPTS}
)
_ESCAPED = re.compile(rb"%([0-9A-F]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def family(platform: str = sys.platform) -> str:
    """Which rules a ``sys.platform`` value follows: :data:`WINDOWS`, :data:`MACOS` or :data:`POSIX`."""
    if platform.startswith(("win", "cygwin", "msys")):
        return WINDOWS
    if platform in ("darwin", "ios"):
        return MACOS
    return POSIX


def folds_case(platform: str = sys.platform) -> bool:
    """Whether names differing only in case are one name there (Windows and macOS, as they come)."""
    return family(platform) != POSIX


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogateescape"))


def _unstorable(char: str, rules: str) -> bool:
    """A character the system cannot hold in a name: forbidden there, or a byte that is not UTF-8."""
    return _UNSTORABLE[rules].match(char) is not None


def _device_stem(name: str) -> str | None:
    """The part of ``name`` Windows reads as a device name (``nul`` of ``nul .tar.gz``), if it is one."""
    stem = name.partition(".")[0].rstrip(" ")
    return stem if stem.upper() in _DEVICES else None


def storable(name: str, platform: str = sys.platform) -> bool:
    """Whether ``platform`` can store ``name`` as it is (the length aside: see the module docstring)."""
    rules = family(platform)
    if _UNSTORABLE[rules].search(name):
        return False
    return rules != WINDOWS or not (name.endswith((".", " ")) or _device_stem(name))


def _windows_endings(name: str) -> str:
    """``name`` with a trailing dot or space, and the last character of a device name, escaped."""
    if name.endswith((".", " ")):
        name = name[:-1] + _escape(name[-1])
    stem = _device_stem(name)
    if stem:
        name = name[: len(stem) - 1] + _escape(stem[-1]) + name[len(stem):]
    return name


def _escaped(name: str, rules: str, also: Callable[[str], bool] | None = None) -> str:
    """``name`` with ``%`` and what ``rules`` cannot store (and what ``also`` picks) escaped."""
    text = "".join(
        _escape(char) if char == "%" or _unstorable(char, rules) or (also is not None and also(char)) else char
        for char in name
    )
    return _windows_endings(text) if rules == WINDOWS else text


def unescape(name: str) -> str:
    """Every ``%XX`` of ``name`` back to the byte XX (upper-case hex digits only, as written)."""
    if "%" not in name:
        return name
    raw = _ESCAPED.sub(lambda match: bytes.fromhex(match.group(1).decode()), name.encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "surrogateescape")


def _mount_name(name: str) -> bool:
    """Whether the mount can show ``name``: no separator, NUL or control character, not ``.`` or ``..``."""
    return name not in ("", ".", "..") and "/" not in name and _CONTROL.search(name) is None


def _changed(name: str, rules: str) -> bool:
    """Whether ``name`` is written escaped: the system cannot store it, or it reads as the
    escaped form of another name of the mount (their written names would meet)."""
    if _UNSTORABLE[rules].search(name):
        return True
    if rules == WINDOWS and (name.endswith((".", " ")) or _device_stem(name)):
        return True
    if rules == POSIX:
        return False  # only "/" and NUL are escaped there, and no name of the mount holds one
    original = unescape(name)
    if original == name or not _mount_name(original):
        return False
    escaped = _escaped(original, rules)
    if escaped == name:
        return _changed(original, rules)
    return _escaped(original, rules, _caseless) == name  # how a name that meets another but for case is written


def _tagged(written: str, original: str, attempt: int = 0) -> str:
    """``written`` cut to fit in :data:`NAME_MAX` bytes, with ``~`` and a tag of ``original`` before its extension."""
    seed = original.encode("utf-8", "surrogateescape") + (b"\0%d" % attempt if attempt else b"")
    tag = "~" + hashlib.sha1(seed).hexdigest()[:_TAG_DIGITS]
    stem, dot, extension = written.rpartition(".")
    if not dot or not stem or len(extension) > _EXTENSION_KEPT:
        stem, extension = written, ""
    tail = tag + (f".{extension}" if extension else "")
    budget = NAME_MAX - len(tail.encode("utf-8", "surrogateescape"))
    kept = stem.encode("utf-8", "surrogateescape")[:budget].decode("utf-8", "ignore")
    if "%" in kept[-2:]:  # never leave half of an escape
        kept = kept[: kept.rindex("%")]
    return kept + tail


def _fitted(written: str, original: str) -> str:
    if len(written.encode("utf-8", "surrogateescape")) <= NAME_MAX:
        return written
    return _tagged(written, original)


def portable_name(name: str, platform: str = sys.platform) -> str:
    """``name`` (a name of the mount) as written on ``platform``: unchanged when it can be, else escaped.

    The rules are the module docstring's; names that differ only in case are the concern of
    :func:`portable_names`, which sees a whole folder.
    """
    rules = family(platform)
    if rules == POSIX and "/" not in name and "\0" not in name:
        return name
    return _fitted(_escaped(name, rules), name) if _changed(name, rules) else name


def original_name(written: str, platform: str = sys.platform) -> str:
    """The name of the mount that :func:`portable_name` (or :func:`portable_names`) wrote as ``written``.

    Exact for every name but those given a ``~`` tag (see the module docstring).
    """
    return unescape(written) if _changed(written, family(platform)) else written


def _case_key(name: str, rules: str) -> str:
    """What Windows or macOS compares names by, or a little more: case folded (through upper case,
    as Windows folds ``ı`` with ``I``), and on macOS Unicode normalisation too."""
    if name.isascii():
        return name.lower()
    if rules == MACOS:
        name = unicodedata.normalize("NFD", name)
    folded = name.upper().casefold()
    return unicodedata.normalize("NFD", folded) if rules == MACOS else folded


def _caseless(char: str) -> bool:
    """A character written escaped in a name that meets another but for case: a letter, or not ASCII."""
    return not char.isascii() or char.isalpha()


def portable_names(names: Iterable[str], platform: str = sys.platform) -> dict[str, str]:
    """Each of ``names`` (the entries of one folder of the mount) as written on ``platform``.

    :func:`portable_name` of each, and where the system does not tell case apart, names
    that would still meet are told apart as the module docstring says: deterministic, so a
    rerun writes each file where the first run did.
    """
    written = {name: portable_name(name, platform) for name in names}
    if not folds_case(platform):
        return written
    rules = family(platform)
    taken: set[str] = set()
    for name in sorted(written, key=lambda n: n.encode("utf-8", "surrogateescape")):
        candidate = written[name]
        if _case_key(candidate, rules) in taken:
            candidate = _fitted(_escaped(name, rules, _caseless), name)
        attempt = 0
        while _case_key(candidate, rules) in taken:
            attempt += 1
            candidate = _tagged(candidate, name, attempt)
        taken.add(_case_key(candidate, rules))
        written[name] = candidate
    return written


def portable_path(path: str, platform: str = sys.platform) -> str:
    """A ``/``-separated path of the mount with each name made portable (``.`` and ``..`` kept):
    for a symlink's target, whose names are not told apart from their siblings for case."""
    return "/".join(part if part in ("", ".", "..") else portable_name(part, platform) for part in path.split("/"))
