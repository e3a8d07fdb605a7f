"""The package's shape, as ARCHITECTURE.md draws it: data flows one way, and each concern has one room.

Read from the code's own imports (every ``import``, at module level or inside a
function), so a change that breaks the shape fails here, not in review.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "backupfs"
# The stages of the flow, first to last; a module may import its own stage and earlier ones.
STAGES = {
    "backupfs.errors": 0, "backupfs.progress": 0, "backupfs.apart": 0, "backupfs": 0,
    "backupfs.source": 1, "backupfs.naming": 2, "backupfs.sniff": 3, "backupfs.readable": 4, "backupfs.index": 5,
    "backupfs.content": 6, "backupfs.fs": 7, "backupfs.export": 7, "backupfs.cli": 8, "backupfs.__main__": 8,
}
DEMO = "backupfs.demo"  # writes sample backups: it reads only source's formats, and only the CLI uses it


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The backupfs modules ``path`` imports (a name imported from a package counts as that package's module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("backupfs")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("backupfs"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if (PACKAGE.parent / node.module.replace(".", "/") / f"{a.name}.py").exists()}
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: {imported for imported in imports(path) if imported in MODULES} for name, path in MODULES.items()}


def stage(name: str) -> int | None:
    for prefix in sorted(STAGES, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return STAGES[prefix]
    return None


@pytest.mark.parametrize("name", [n for n in MODULES if not n.startswith(DEMO)])
def test_no_module_imports_a_later_stage(name: str) -> None:
    later = [imported for imported in GRAPH[name] if not imported.startswith(DEMO) and stage(imported) > stage(name)]
    assert not later, f"{name} (stage {stage(name)}) imports a later stage: {later}"


def test_export_works_without_fuse() -> None:
    """``extract`` must run where libfuse, macFUSE or WinFsp is absent: export never reaches the FUSE backends."""
    exporting = [name for name in GRAPH if name.startswith("backupfs.export")]
    assert exporting
    for name in exporting:
        assert not [i for i in GRAPH[name] if i.startswith("backupfs.fs")], name


def test_only_the_command_line_uses_the_demo_and_the_demo_reads_only_the_source() -> None:
    users = {name for name, imported in GRAPH.items() if not name.startswith(DEMO) and any(i.startswith(DEMO) for i in imported)}
    assert users == {"backupfs.cli"}
    for name in (n for n in GRAPH if n.startswith(DEMO)):
        assert all(i.startswith((DEMO, "backupfs.source")) for i in GRAPH[name]), (name, GRAPH[name])


def test_no_import_loop() -> None:
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import loop: " + " -> ".join(trail[trail.index(name):] + [name]))
        if name in done:
            return
        for imported in GRAPH[name]:
            if imported != name and not (MODULES[name].name == "__init__.py" and imported.startswith(name + ".")):
                visit(imported, [*trail, name])
        done.add(name)

    for name in GRAPH:
        visit(name, [])


def test_mfusepy_is_imported_in_one_place() -> None:
    importers = [name for name, path in MODULES.items() if re.search(r"^\s*(import|from) mfusepy", path.read_text(), re.M)]
    assert importers == ["backupfs.fs.libfuse"]


def test_the_nodes_table_is_written_and_read_by_the_index_alone() -> None:
    sql = re.compile(r"\b(FROM|INTO|UPDATE|JOIN|TABLE)\s+nodes\b")
    users = sorted(name for name, path in MODULES.items() if sql.search(path.read_text()))
    assert users and all(name.startswith("backupfs.index.") for name in users), users


def test_every_package_says_what_it_owns() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent != PACKAGE:
            assert len(init.read_text().strip()) > 100, f"{init} does not say what its package owns"
