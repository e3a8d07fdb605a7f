"""What the benchmarks share."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def working_folder(given: Path | None, prefix: str, parent: str | None = None) -> Iterator[Path]:
    """The folder a benchmark writes into: ``given`` is kept afterwards for reuse (``--workdir``),
    otherwise a temporary folder is made and removed at the end."""
    work = Path(given or tempfile.mkdtemp(prefix=prefix, dir=parent)).absolute()
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if given is None:
            shutil.rmtree(work, ignore_errors=True)
