"""The backup's own index, as far as it survives: Manifest.db (iOS 10+) and Manifest.mbdb (iOS 5-9).

Owns the formats: rows and records (``records``), the Manifest.db reader (``db``), the
MBFile metadata archive of a row (``mbfile``), Manifest.mbdb (``mbdb``), rows salvaged
from a damaged Manifest.db's pages (``salvage``), and the writers of all three (``write``:
a repaired backup's index, and the demo's). Every reader tolerates damage and says in
words what was wrong. Imports only from ``backupfs.source``.
"""
