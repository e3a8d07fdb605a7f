"""Readable: a person's data out of the backup's databases, as files they open in the usual app.

Owns the renderers, one module per kind of data, each following the contract of
:mod:`backupfs.readable.base`, the values they all read and show one way
(:mod:`backupfs.readable.values`: text of a column, dates, CSV), and their order in
:data:`RENDERERS`. Renderers read the backup only through ``base.Backup``; they import ``source`` and ``naming`` helpers at most,
never ``index``, ``content``, ``fs`` or ``cli``, which call them.
"""
