"""Demo: synthetic backups written with real SQLite, plist and media bytes.

Owns the writer of backup folders (``writer``), the encoders only it needs (``encode``),
realistic file contents (``samples``) and the sample broken backup of ``backupfs demo``
(``backup``). Used by the demo command, the tests and the benchmarks; nothing of the
mount's flow imports it. Imports only from ``source``.
"""
