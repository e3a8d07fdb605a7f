"""backupfs: mount an iPhone/iPad local backup as a read-only folder."""

__version__ = "0.1.0"
