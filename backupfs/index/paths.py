"""Turn named and typed payloads into the paths of the mount.

Rules, so that every payload stays reachable and nothing resolves outside the mount:

* a named file sits at ``<Domain>/<relativePath>``; every other payload at
  ``other-data/<type folder>/<fileid>.<ext>``; the readable folder (``0 Your data``) sits
  beside them; a domain called like either is shown as ``%6Fther-data`` or ``%30 Your data``
  so that they never mix;
* names from an index are made safe, one component at a time (:func:`safe_path`):

  - in a relative path, empty and ``.`` components are dropped (``a//./b`` and ``/a/b``
    are shown as ``a/b``); ``..`` becomes ``%2E%2E``;
  - a domain is one component: ``/`` in it becomes ``%2F`` (``../x`` is ``..%2Fx``),
    ``..`` becomes ``%2E%2E``, ``.`` becomes ``%2E`` and an empty domain ``(empty)``;
  - NUL and the other control characters (0x01-0x1F, 0x7F) become ``%XX`` (``%00``,
    ``%0A``, ``%1B``...), so no name can break a line or drive a terminal; bytes that are
    not UTF-8 are kept as they are;
  - a component longer than 255 bytes is cut and given ``~<8 hex digits of its SHA1>``;
  - a path longer than 3,072 bytes (domain included, so that the mount point and the
    clash tags below still fit in the 4,096 bytes a system call accepts) keeps its first
    folders and its file name, and the folders that do not fit are replaced by one folder
    ``~path-too-long~<8 hex digits of the SHA1 of the whole folder path>``;

  the name exactly as the backup gives it stays in the index (``real_name``, shown by
  ``backupfs report``);
* a snapshot copy of a payload gets ``~snapshot`` appended;
* when two entries want the same path, :mod:`backupfs.index.tree` keeps every one (a folder keeps
  the path, a file or link gets ``~<first 8 hex digits of its fileid>``), and shows a
  database's ``-wal``/``-journal`` sibling as ``<name>-wal.raw``;
* a symlink row of an index is shown as a symlink whose target is text that cannot lead
  out of the mount (:func:`safe_link_target`): a relative target that only climbs to a
  folder the link sits in and then goes down (``com.apple.Maps.plist``,
  ``../SMS/sms.db``) is kept exactly; any other target is resolved lexically from the
  link's folder, ``..`` steps above the mount root are dropped, an absolute target counts
  from the mount root, and the result is written as ``../`` once per folder above the
  link, then the path from the mount root: ``/etc/passwd`` in ``HomeDomain/Library``
  becomes ``../../etc/passwd``, which dangles inside the mount. A ``..`` is never left
  after a name, because the kernel would apply it after following that name if it were
  itself a link.
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Iterable, Mapping

from backupfs.index.schema import Node
from backupfs.naming.prove import Name, Origin
from backupfs.readable.base import READABLE_FOLDER
from backupfs.sniff import FileType
from backupfs.source.crypto import plaintext_size
from backupfs.source.manifest.records import Kind, ManifestRecord
from backupfs.source.payloads import UNSTATED, Payload

# A relative path needs no care when no component is empty, ".", ".." or holds a control
# character, and it is too short for any component to pass NAME_MAX bytes (up to 4 bytes
# per character, 1 when ASCII). bulk.PLAIN_ROWS turns away the same rows in SQL.
_UNSAFE_PATH = re.compile(r"(?:^|/)\.{0,2}(?:/|$)|[\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ALWAYS_SHORT = 255 // 4

OTHER_DATA = "other-data"
# Folders the mount adds beside the domains, and how a domain of the same name is shown instead.
OWN_FOLDERS = {OTHER_DATA: "%6Fther-data", READABLE_FOLDER: "%30 Your data"}
RAW_SUFFIX = ".raw"
ENCRYPTED_SUFFIX = ".encrypted"
"""Ends the name of a file of an encrypted backup that cannot be decrypted (no key, or no password)."""
ENCRYPTED_TYPE = "encrypted"
NAME_MAX = 255
MAX_PATH_BYTES = 3072
EMPTY_DOMAIN = "(empty)"
TOO_LONG = "~path-too-long~"


def safe_component(name: str) -> str:
    """Make one path component impossible to misread as a separator, a parent or a control."""
    if name in ("", ".", ".."):
        return {"": EMPTY_DOMAIN, ".": "%2E", "..": "%2E%2E"}[name]
    name = name.replace("/", "%2F")
    if _CONTROL.search(name):
        name = _CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", name)
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > NAME_MAX:
        tail = "~" + hashlib.sha1(encoded).hexdigest()[:8]
        cut = encoded[: NAME_MAX - len(tail) - 8].decode("utf-8", "ignore")
        name = cut + tail
    return name


def safe_path(domain: str, relative_path: str) -> tuple[str, ...]:
    """The mount path of a named file; a domain called like a folder the mount adds is shown escaped.

    Escaping those domain names keeps named files out of the unnamed files' folder and the
    readable folder, so both can be filled later without a clash check.
    """
    head = OWN_FOLDERS.get(domain) or safe_component(domain)
    if not relative_path:
        return (head,)
    short = len(relative_path) <= _ALWAYS_SHORT or (len(relative_path) <= NAME_MAX and relative_path.isascii())
    if short and _UNSAFE_PATH.search(relative_path) is None:
        return (head, *relative_path.split("/"))  # nothing to make safe: the common case, kept cheap
    parts = (head, *(safe_component(part) for part in relative_path.split("/") if part not in ("", ".")))
    return _within_path_max(parts)


def _within_path_max(parts: tuple[str, ...]) -> tuple[str, ...]:
    """``parts``, with the folders that do not fit in :data:`MAX_PATH_BYTES` folded into one."""
    sizes = [len(part.encode("utf-8", "surrogateescape")) + 1 for part in parts]
    if sum(sizes) - 1 <= MAX_PATH_BYTES:
        return parts
    folders = "/".join(parts[:-1]).encode("utf-8", "surrogateescape")
    marker = TOO_LONG + hashlib.sha1(folders).hexdigest()[:8]
    budget = MAX_PATH_BYTES - sizes[-1] - len(marker) - 1
    kept, used = 1, sizes[0]  # the domain always stays
    while kept < len(parts) - 1 and used + sizes[kept] <= budget:
        used += sizes[kept]
        kept += 1
    return (*parts[:kept], marker, parts[-1])


def safe_link_target(link_path: tuple[str, ...], target: str) -> str:
    """The target shown for a symlink at ``link_path`` (mount path): text that stays inside the mount.

    See the module docstring for the rule. Only the text is changed, never followed: the
    mount resolves nothing itself, the kernel does, one component at a time.
    """
    target = target.replace("\0", "%00")
    depth = len(link_path) - 1  # folders between the mount root and the link
    absolute = target.startswith("/")
    location = [] if absolute else list(link_path[:-1])
    rewrite, descended = absolute, False
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            rewrite |= descended or not location  # after a name (a link?), or above the mount root
            if location:
                location.pop()
            continue
        descended = True
        location.append(part)
    if not rewrite:
        return target
    return "/".join([".."] * depth + location) or "."


def recorded_attributes(kind: Kind, mode: int | None, mtime: int | None) -> tuple[int, int]:
    """The mode and mtime shown for a file or folder that an index row describes.

    The row's permissions without write bits, and its mtime; a file without one shows its
    payload's (:data:`UNSTATED` here, filled from the payload), a folder the epoch. Used
    both when rows are read whole and when their metadata is read later (``manifest_row``).
    """
    if kind is Kind.DIR:
        return stat.S_IFDIR | _read_only(mode, 0o555), 0 if mtime is None else mtime * 1_000_000_000
    return stat.S_IFREG | _read_only(mode, 0o444), UNSTATED if mtime is None else mtime * 1_000_000_000


def _read_only(mode: int | None, default: int) -> int:
    perms = stat.S_IMODE(mode) if mode is not None else default
    return perms & ~0o222


def named_nodes(
    backup_no: int,
    prefix: tuple[str, ...],
    payloads: Iterable[Payload],
    names: Mapping[str, Name],
    records: Iterable[ManifestRecord],
    encrypted: bool = False,
    file_keys: Mapping[str, tuple[bytes, int | None]] | None = None,
) -> list[Node]:
    """Every named payload of one backup, and the index's directories and symlinks.

    In an ``encrypted`` backup, a payload is shown decrypted when ``file_keys`` holds its
    key (and the size its manifest records); any other keeps its proven name with
    :data:`ENCRYPTED_SUFFIX` and the type ``encrypted``, so that neither a person nor a
    program takes its ciphertext for the file.

    Paths may still clash and parent folders may be missing: :class:`backupfs.index.tree.TreeWriter`
    settles both. Unnamed payloads are placed by :func:`unnamed_nodes` once typed, which
    can happen after the mount is up: their paths cannot clash with these (see
    :func:`safe_path`). Sorted by path and source, so clashes resolve the same way every time.
    """
    nodes: list[Node] = []
    seen: set[str] = set()
    for payload in payloads:
        name = names.get(payload.file_id)
        duplicate = payload.file_id in seen
        seen.add(payload.file_id)
        if name is None:
            continue
        path = prefix + safe_path(name.domain, name.relative_path)
        record = name.record
        key = (file_keys or {}).get(payload.file_id)
        locked = encrypted and key is None
        if locked:
            path = path[:-1] + (safe_component(path[-1] + ENCRYPTED_SUFFIX),)
        if duplicate:
            path = path[:-1] + (path[-1] + "~snapshot",)
        mode, mtime_ns = recorded_attributes(Kind.FILE, record and record.mode, record and record.mtime)
        size = payload.size
        if key is not None and size != UNSTATED:
            size = plaintext_size(size, key[1])
        nodes.append(
            Node(
                path="/".join(path),
                kind=Kind.FILE,
                mode=mode,
                size=payload.size,
                mtime_ns=payload.mtime_ns if mtime_ns == UNSTATED else mtime_ns,
                backup=backup_no,
                source=payload.relpath,
                file_id=payload.file_id,
                origin=name.origin,
                manifest_size=record.size if record else None,
                real_name=f"{name.domain}/{name.relative_path}",
                file_type=ENCRYPTED_TYPE if locked else None,
            )
        )
    for record in records:
        if record.kind is Kind.FILE:
            continue
        path = prefix + safe_path(record.domain, record.relative_path)
        if record.kind is Kind.DIR:
            mode, mtime_ns = recorded_attributes(Kind.DIR, record.mode, record.mtime)
            nodes.append(
                Node(
                    path="/".join(path),
                    kind=Kind.DIR,
                    mode=mode,
                    mtime_ns=mtime_ns,
                    backup=backup_no,
                    file_id=record.file_id,
                    origin=Origin.MANIFEST,
                )
            )
        else:
            target = safe_link_target(path, record.target or "")
            nodes.append(
                Node(
                    path="/".join(path),
                    kind=Kind.SYMLINK,
                    mode=stat.S_IFLNK | 0o777,
                    size=len(target.encode("utf-8", "surrogateescape")),
                    mtime_ns=0 if record.mtime is None else record.mtime * 1_000_000_000,
                    backup=backup_no,
                    file_id=record.file_id,
                    origin=Origin.MANIFEST,
                    target=target,
                )
            )
    # Folders first: a file that clashes with one then moves aside as it arrives.
    nodes.sort(key=lambda n: (n.kind is not Kind.DIR, n.path.split("/"), n.source or ""))
    return nodes


def folder_node(path: tuple[str, ...]) -> Node:
    """A folder the mount needs even if nothing is placed in it (a backup's own, other-data)."""
    return Node(path="/".join(path), kind=Kind.DIR, mode=stat.S_IFDIR | 0o555)


def unnamed_nodes(
    backup_no: int, prefix: tuple[str, ...], payloads: Iterable[Payload], types: Mapping[str, FileType]
) -> list[Node]:
    """``other-data/<type folder>/<fileid>.<ext>`` for each unnamed payload, and those folders.

    The file id makes each path unique; a second copy of the same payload (from
    ``Snapshot/``) gets ``~snapshot``, a third ``~snapshot2``, and so on.
    """
    copies: dict[str, int] = {}
    nodes: dict[tuple[str, ...], Node] = {}
    for payload in payloads:
        ftype = types[payload.file_id]
        copy = copies[payload.file_id] = copies.get(payload.file_id, 0) + 1
        leaf = payload.file_id + (f".{ftype.ext}" if ftype.ext else "")
        if copy > 1:
            leaf += "~snapshot" + (str(copy - 1) if copy > 2 else "")
        folder = prefix + (OTHER_DATA, ftype.folder)
        if folder not in nodes:
            nodes[folder] = folder_node(folder)
        nodes[folder + (leaf,)] = Node(
            path="/".join(folder + (leaf,)),
            kind=Kind.FILE,
            mode=stat.S_IFREG | 0o444,
            size=payload.size,
            mtime_ns=payload.mtime_ns,
            backup=backup_no,
            source=payload.relpath,
            file_id=payload.file_id,
            origin=Origin.UNKNOWN,
            file_type=f"{ftype.folder}/{ftype.ext}" if ftype.ext else ftype.folder,
        )
    return list(nodes.values())
