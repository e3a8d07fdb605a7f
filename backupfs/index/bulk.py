"""Place the ordinary rows of an intact Manifest.db by SQLite alone.

A large backup's index holds hundreds of thousands of rows. Turning each into Python
objects, decoding its metadata blob and writing it back costs tens of seconds, while the
mount only needs, to be ready, each file's path and payload. So the rows whose path needs
no care (no empty, ``.`` or ``..`` component, no NUL, short enough that no component can
pass 255 bytes) are copied from the attached Manifest.db straight into ``nodes``, with
their metadata left in the manifest (``manifest_row``) to be decoded when first asked for
and by the background completion. Every other row goes the careful way
(:func:`backupfs.source.manifest.db.read_manifest_db`).

A damaged manifest never takes this path, and a row still shows its name only when its
fileID is the SHA1 of that name (see :data:`PLAIN_ROWS`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import stat
from collections.abc import Callable

from backupfs.index.paths import OWN_FOLDERS
from backupfs.index.schema import Node
from backupfs.naming.prove import Name, Origin
from backupfs.source.manifest.records import Kind
from backupfs.source.payloads import UNSTATED, Layout, Payload

_NAME_MAX = 255
_PROGRESS_ROWS = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # NUL and the control characters layout.safe_component escapes
# Conservative on purpose: any row it turns away is read the careful way. A component
# starting with "." (also "." and "..") is turned away, and so is a path long enough for
# one component to pass 255 bytes, and a row whose fileID is not the SHA1 of its name
# (the careful way shows no name it cannot prove). ``domain IN plain_domains`` is bound by
# the caller, ``backupfs_sha1`` registered by :func:`place_plain_rows`.
PLAIN_ROWS = (
    "flags IN (1, 2) AND length(fileID) = 40 AND fileID = lower(fileID) "
    "AND domain IN (SELECT value FROM json_each(:plain_domains)) "
    "AND typeof(relativePath) = 'text' AND (relativePath <> '' OR flags = 2) "
    "AND instr(relativePath, '//') = 0 AND instr(relativePath, '/.') = 0 "
    "AND substr(relativePath, 1, 1) NOT IN ('/', '.') AND substr(relativePath, -1) <> '/' "
    f"AND instr(CAST(relativePath AS BLOB), x'00') = 0 AND length(CAST(relativePath AS BLOB)) <= {_NAME_MAX} "
    "AND relativePath NOT GLOB ('*[' || char(1) || '-' || char(31) || char(127) || ']*') "
    "AND fileID = backupfs_sha1(CAST(domain || '-' || relativePath AS BLOB))"
)


def plain_domains(conn: sqlite3.Connection, schema: str) -> str:
    """The manifest's domain names that can be shown as they are, for ``:plain_domains``."""
    domains = [d for (d,) in conn.execute(f"SELECT DISTINCT domain FROM {schema}.Files") if isinstance(d, str)]
    return json.dumps(
        [
            d
            for d in domains
            if d not in ("", ".", "..", *OWN_FOLDERS) and "/" not in d and not _CONTROL.search(d)
            and len(d.encode("utf-8", "surrogateescape")) <= _NAME_MAX
        ]
    )


def place_plain_rows(
    conn: sqlite3.Connection,
    schema: str,
    backup_no: int,
    prefix: tuple[str, ...],
    layout: Layout,
    domains: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copy the plain file and folder rows of ``<schema>.Files`` into ``nodes`` (sorted: faster B-tree inserts).

    ``domains`` is what :func:`plain_domains` gave. Returns how many rows were copied.
    ``progress(rows_checked)`` is told how many rows had their fileID checked so far, every
    :data:`_PROGRESS_ROWS` rows: the check is the last test a row passes, before sorting.

    Raises :class:`sqlite3.DatabaseError` when the manifest turns out to be damaged; the
    caller then removes what was copied and reads the manifest the careful way.
    """
    sha1 = _sha1_hex if progress is None else _counting(_sha1_hex, progress)
    conn.create_function("backupfs_sha1", 1, sha1, deterministic=True)
    head = "".join(f"{part}/" for part in prefix)
    source = "substr(fileID, 1, 2) || '/' || fileID" if layout is Layout.HASHED else "fileID"
    return conn.execute(
        f"""
        INSERT INTO nodes (depth, path, kind, mode, size, mtime_ns, backup, source, file_id, origin,
                           real_name, manifest_row)
        SELECT length(shown) - length(replace(shown, '/', '')) + 1, CAST(shown AS BLOB),
               flags, CASE flags WHEN 1 THEN :file_mode ELSE :folder_mode END,
               CASE flags WHEN 1 THEN :unknown ELSE 0 END, :unknown, :backup,
               CASE flags WHEN 1 THEN {source} END, fileID, :origin,
               CASE flags WHEN 1 THEN CAST(domain || '/' || relativePath AS BLOB) END, rowid
        FROM (SELECT rowid, fileID, flags, domain, relativePath,
                     :head || domain || CASE relativePath WHEN '' THEN '' ELSE '/' || relativePath END AS shown
              FROM {schema}.Files NOT INDEXED WHERE {PLAIN_ROWS})
        ORDER BY 1, 2
        """,
        {
            "file_mode": stat.S_IFREG | 0o444,
            "folder_mode": stat.S_IFDIR | 0o555,
            "unknown": UNSTATED,
            "backup": backup_no,
            "origin": Origin.MANIFEST,
            "head": head,
            "plain_domains": domains,
        },
    ).rowcount


def _counting(function: Callable[[object], str | None], progress: Callable[[int], None]) -> Callable[[object], str | None]:
    """``function``, telling ``progress`` how many times it was called, every :data:`_PROGRESS_ROWS` calls."""
    calls = 0

    def counted(data: object) -> str | None:
        nonlocal calls
        calls += 1
        if calls % _PROGRESS_ROWS == 0:
            progress(calls)
        return function(data)

    return counted


def _sha1_hex(data: object) -> str | None:
    """SHA1 for SQL, over the name's bytes as stored: no decoding, so no row can fail it."""
    return hashlib.sha1(data).hexdigest() if isinstance(data, bytes) else None


def match_payloads(
    conn: sqlite3.Connection, backup_no: int, payloads: list[Payload], layout: Layout
) -> tuple[set[str], list[Node], int]:
    """Square the copied file rows with the payloads really listed.

    A row whose payload is missing is removed (it has nothing to show); a payload found
    somewhere else than its expected place gets that source; a second copy (from
    ``Snapshot/``) is returned as a node beside the first with ``~snapshot``. Returns the
    file ids now named by these rows, those extra nodes and how many rows had no payload.
    """
    query = "SELECT group_concat(file_id, ' ') FROM nodes WHERE backup=? AND kind=1 AND manifest_row IS NOT NULL"
    copied = set((conn.execute(query, (backup_no,)).fetchone()[0] or "").split())
    missing = copied - {p.file_id for p in payloads}
    if missing:
        conn.execute(
            "DELETE FROM nodes WHERE backup=? AND kind=1 AND file_id IN (SELECT value FROM json_each(?))",
            (backup_no, json.dumps(sorted(missing))),
        )
    named = copied - missing
    if layout is Layout.HASHED:
        odd = {p.file_id for p in payloads if p.relpath != p.file_id[:2] + "/" + p.file_id}
    else:
        odd = {p.file_id for p in payloads if p.relpath != p.file_id}
    listed: dict[str, list[str]] = {}
    for payload in payloads:
        if payload.file_id in odd:
            listed.setdefault(payload.file_id, []).append(payload.relpath)
    unusual = {fid: listed[fid] for fid in odd & named}
    extra: list[Node] = []
    if unusual:
        rows = conn.execute(
            "SELECT depth, path, file_id, mode, size, mtime_ns, real_name, manifest_row FROM nodes "
            "WHERE backup=? AND kind=1 AND file_id IN (SELECT value FROM json_each(?))",
            (backup_no, json.dumps(sorted(unusual))),
        ).fetchall()
        for depth, path, fid, mode, size, mtime_ns, real_name, row in rows:
            first, *copies = unusual[fid]
            conn.execute("UPDATE nodes SET source=? WHERE depth=? AND path=?", (first, depth, path))
            for copy in copies:
                extra.append(
                    Node(
                        path=path.decode("utf-8", "surrogateescape") + "~snapshot",
                        kind=Kind.FILE,
                        mode=mode,
                        size=size,
                        mtime_ns=mtime_ns,
                        backup=backup_no,
                        source=copy,
                        file_id=fid,
                        origin=Origin.MANIFEST,
                        real_name=real_name.decode("utf-8", "surrogateescape"),
                        manifest_row=row,
                    )
                )
    return named, extra, len(missing)


def copied_names(conn: sqlite3.Connection, backup_no: int) -> dict[str, Name]:
    """The names the copied rows gave, as :class:`Name` (for harvesting, which reads named databases)."""
    names = {}
    query = "SELECT file_id, real_name FROM nodes WHERE backup=? AND kind=1 AND manifest_row IS NOT NULL"
    for fid, real_name in conn.execute(query, (backup_no,)):
        domain, _, relative_path = real_name.decode("utf-8", "surrogateescape").partition("/")
        names[fid] = Name(domain, relative_path, Origin.MANIFEST)
    return names
