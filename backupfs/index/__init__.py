"""Index: backupfs's own cache of the mount's tree, one SQLite file per set of backups.

Owns the only schema (``schema``: the ``nodes`` table and the :class:`Node` record, with the
format's changelog), writing and reading index files (``writing``, ``store``), the rules
that turn names into safe paths (``paths``) and settle clashes (``tree``), the pipeline of
a first mount (``build``, with ``bulk`` for an intact Manifest.db), typing of unnamed
payloads (``sorting``), the work left for later (``complete``), and where indexes live
(``cache``). No other package writes SQL against ``nodes``. Imports from ``source``,
``naming``, ``sniff`` and the top-level helpers; never from ``content``, ``fs`` or ``cli``.
"""
