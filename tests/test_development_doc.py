"""docs/development.md's table names every module of src/gandct once, and only test files that exist."""

from __future__ import annotations

import re

from helpers import REPO


def test_the_module_to_tests_table_lists_every_module_and_real_test_files():
    text = (REPO / "docs/development.md").read_text()
    rows = dict(re.findall(r"^\| `(gandct[\w.]*)` \| (.+) \|$", text, flags=re.M))
    modules = {
        ".".join(path.relative_to(REPO / "src").with_suffix("").parts).removesuffix(".__init__")
        for path in (REPO / "src/gandct").rglob("*.py")
    }
    assert set(rows) == modules, f"add or drop rows: {sorted(modules ^ set(rows))}"
    for module, tests in rows.items():
        named = re.findall(r"\btest_\w+", tests)
        assert named, f"{module}: no test named"
        for name in named:
            assert (REPO / "tests" / f"{name}.py").is_file(), f"{module}: tests/{name}.py does not exist"
