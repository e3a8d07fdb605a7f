"""SQL for the sample databases of the readable folder: literals, INSERT statements, and the database file.

Every ``readable_*`` builder writes its rows as SQL text (the schema as iOS ships it, then one
INSERT per row), so that a test can add to or damage a sample by appending a statement, and
turns the script into the bytes of a database file here.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path


class Sql(str):
    """An SQL expression written into an INSERT as it is, not quoted as a value."""


def not_utf8(data: bytes) -> Sql:
    """Bytes stored in a TEXT column as they are: text that is not UTF-8, as a damaged row holds it."""
    return Sql(f"CAST(X'{data.hex()}' AS TEXT)")


def sql_literal(value: object) -> str:
    """``value`` as an SQL literal: NULL, a number, a BLOB for bytes, quoted text, a :class:`Sql` as it is."""
    if value is None:
        return "NULL"
    if isinstance(value, Sql):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"X'{bytes(value).hex()}'"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def insert(table: str, /, **values: object) -> str:
    """One INSERT statement of a row, its columns named by the keywords (``**{"Z_26ALBUMS": 3}`` for any name)."""
    return f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(map(sql_literal, values.values()))});"


def database_bytes(build: str | Callable[[sqlite3.Connection], object]) -> bytes:
    """The bytes of the database file that ``build`` makes: an SQL script, or a function filling the connection
    (many rows at once). Written to a file, not kept in memory, so that it works on every Python the package
    supports; the same input gives the same bytes (no WAL, no random salt)."""
    with tempfile.TemporaryDirectory(prefix="backupfs-sample-") as tmp:
        path = Path(tmp) / "sample.sqlite"
        conn = sqlite3.connect(path)
        try:
            if isinstance(build, str):
                conn.executescript(build)
            else:
                build(conn)
            conn.commit()
        finally:
            conn.close()
        return path.read_bytes()
