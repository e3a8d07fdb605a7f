"""Content: what each node's bytes and shown attributes are, read lazily from the source.

Owns the kinds of content (``notice``, ``database`` for a database with its -wal merged,
``payload``; ordered in ``contents``) and :class:`~backupfs.content.mount_source.MountSource`,
the one interface a FUSE backend uses. Imports from ``index`` and ``source``; never from
``fs`` or ``cli``.
"""
