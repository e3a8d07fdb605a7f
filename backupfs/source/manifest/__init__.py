"""The backup's own index, as far as it survives: Manifest.db (iOS 10+) and Manifest.mbdb (iOS 5-9).

Owns the formats: rows and records (``records``), the Manifest.db reader (``db``), the
MBFile metadata archive of a row (``mbfile``, decoding only), Manifest.mbdb (``mbdb``), and
rows salvaged from a damaged Manifest.db's pages (``salvage``). Every reader tolerates
damage and says in words what was wrong. Imports only from ``backupfs.source``.
"""
