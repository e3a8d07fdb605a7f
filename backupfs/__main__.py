"""Allow ``python -m backupfs``."""

from backupfs.cli import main

raise SystemExit(main())
