"""Source: reading the backup as it is on disk, and never changing it.

Owns: finding backups under a path the user gives (``discover``), listing payloads
(``payloads``), the one careful way to open a file or folder of the source (``safe_open``),
the plists, SQLite files of the source (``sqlite``, ``sqlite_view``), the mount table
(``mounttable``), and the readers of what survives of a backup's own index (``manifest``).
Must not import any other part of backupfs but ``errors``: every later stage builds on it.
"""
