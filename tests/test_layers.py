"""The library boundary: `stages/` and `commands/` sit on top of the library and nothing below imports them."""

from __future__ import annotations

import ast

from helpers import REPO

PACKAGE = REPO / "src" / "gandct"
TOP = ("gandct.stages", "gandct.commands")


def imported_modules(path) -> set[str]:
    """Every module a file imports, absolute, as written (`from gandct import stages` counts as gandct.stages)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return modules


def test_no_library_module_imports_a_stage_or_a_command():
    library = [
        path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] not in ("stages", "commands")
    ]
    assert len(library) > 30
    upward = {
        str(path.relative_to(PACKAGE)): sorted(name for name in imported_modules(path) if name.startswith(TOP))
        for path in library
    }
    assert {path: names for path, names in upward.items() if names} == {}


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from gandct import stages\nfrom gandct.commands.predict import main\n")
    assert {"gandct.stages", "gandct.commands.predict"} <= imported_modules(module)
