"""How every stage and command ends: its `main()` run with a project error as one line and exit status 1.

The library boundary: modules outside `stages/` and `commands/` never import those two folders (the `gandct`
command loads them by name), so a stage can change without touching the library; tests/test_layers.py holds it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from gandct.errors import GandctError


def run_command(name: str, stage_main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> NoReturn:
    """Run a stage's main(); a GandctError becomes one line on stderr and exit status 1."""
    try:
        stage_main(argv)
    except GandctError as err:
        sys.stderr.write(f"gandct {name}: error: {err}\n")
        sys.exit(1)
    sys.exit(0)
