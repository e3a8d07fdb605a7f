"""The two index formats written, for the sample backups of the demo, the tests and the benchmarks.

The encoders live in the product since it writes manifests itself (the repaired backup):
see :mod:`backupfs.source.manifest.write`. They are named here too, where the demo and
the tests have always found them.
"""

from __future__ import annotations

from backupfs.source.manifest.write import encode_mbdb, encode_mbfile

__all__ = ["encode_mbdb", "encode_mbfile"]
