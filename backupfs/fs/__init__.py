"""Filesystem: FUSE backends that answer the kernel from a ``MountSource``, and mounting.

Owns loading libfuse (``libfuse``: the only import of mfusepy), the mfusepy operations
(``operations``), the kernel caching of listings (``kernel_cache``) and mounting and
unmounting (``mounting``). Holds no format knowledge: it imports ``content`` for what to
answer, and ``source.mounttable`` to tell its own mounts apart.
"""
