"""The package installs the way `make requirements` installs it, and its `gandct` script runs from any folder."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

from helpers import REPO


def test_editable_install_runs_from_a_path_with_a_space(tmp_path: Path) -> None:
    """`make data` in a folder such as "~/My Projects/gandct" runs `gandct download` through .venv/bin/gandct.

    The legacy `setup.py develop` install wrote `#!/My Projects/gandct/.venv/bin/python` as that script's
    first line, which Linux cannot execute ("cannot execute: required file not found"); the PEP 660 install
    that pyproject.toml selects writes a launcher that quotes the path. The copy gets its own venv at
    `.venv/`, as `make requirements` makes it, but borrows this interpreter's installed packages (pip and
    setuptools among them) through a .pth file, so nothing is downloaded and nothing is installed here.
    """
    project = tmp_path / "folder with space" / "gandct"
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("setup.py", "pyproject.toml"):
        shutil.copy2(REPO / name, project / name)
    environment = project / ".venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site_packages, "shared.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")

    # The Makefile's command, kept offline: no index, no isolated build environment to fetch setuptools into.
    install = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation", "-e", "."]
    subprocess.run(install, cwd=project, env=env, capture_output=True, text=True, check=True)

    # As the Makefile and DVC run it: the venv's bin/ on PATH, the command through the shell.
    env["PATH"] = f"{environment / 'bin'}{os.pathsep}{env['PATH']}"
    result = subprocess.run(["bash", "-c", "gandct --help"], cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"gandct --help from {project}: {result.stderr.strip()}"
    assert result.stdout.startswith("usage: gandct [--verbose] <command>")

    # The script runs the copy's code, and gandct.__version__ is the one setup.py writes.
    probe = "import gandct; print(gandct.__file__); print(gandct.__version__)"
    location, version = subprocess.run(
        [python, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert Path(location) == project / "src" / "gandct" / "__init__.py"
    assert version == setup_py_version()


def setup_py_version() -> str:
    """The `version=` keyword of setup.py's setup() call."""
    for node in ast.walk(ast.parse((REPO / "setup.py").read_text())):
        if isinstance(node, ast.keyword) and node.arg == "version":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no version= keyword")
