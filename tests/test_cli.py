"""The `gandct` command line: TensorFlow's C++ start-up notices stay off a user's terminal unless asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import pipeline_env

from gandct import cli

NOTICES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796287741.566526   16531 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.\n"
    "I0000 00:00:1796287741.602823   16531 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    "compiler flags.\n"
)


def test_only_the_start_up_notices_are_dropped():
    kept = "something.py:3: UserWarning: a real warning\n  warnings.warn(message)\n"
    assert cli.without_start_up_notices(NOTICES + kept + NOTICES) == kept
    assert cli.without_start_up_notices("partial line without newline") == "partial line without newline"


# TensorFlow's start-up notices on CPU: which ones print depends on the processor (oneDNN's only where TensorFlow
# enables it, e.g. with AVX-512; the instruction-set one where the CPU has instructions the wheel was not built for)
TENSORFLOW_NOTICES = ("oneDNN custom operations are on", "This TensorFlow binary is optimized to use available CPU")


def gandct(*args: str, verbose_env: bool = False) -> subprocess.CompletedProcess:
    env = pipeline_env() | ({cli.VERBOSE_ENV: "1"} if verbose_env else {})
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as in a user's shell
    return subprocess.run(["gandct", *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_command_that_imports_tensorflow_prints_only_its_own_lines():
    quiet = gandct("evaluate", "--help")
    assert quiet.returncode == 0 and quiet.stdout.startswith("usage: gandct evaluate")
    assert quiet.stderr == ""
    for loud in (gandct("--verbose", "evaluate", "--help"), gandct("evaluate", "--help", verbose_env=True)):
        assert loud.returncode == 0 and loud.stdout == quiet.stdout
        assert any(notice in loud.stderr for notice in TENSORFLOW_NOTICES)  # the notices this command hides exist


@pytest.mark.parametrize(
    ("args", "env", "level"),
    [([], {}, cli.QUIET_TF_LOG_LEVEL), (["--verbose"], {}, None), ([], {"TF_CPP_MIN_LOG_LEVEL": "0"}, "0")],
    ids=["quiet", "verbose", "the-users-own"],
)
def test_a_command_runs_with_tensorflows_runtime_notes_held_back_unless_verbose(tmp_path, args, env, level):
    (tmp_path / "probe_command.py").write_text(
        "import os\n\ndef main(argv):\n    print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))\n"
    )
    code = "from gandct import cli; cli.COMMANDS['probe'] = ('probe_command', ''); cli.main([*ARGS, 'probe'])"
    environment = pipeline_env()
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as in a user's shell, unless the case sets it
    environment |= {"PYTHONPATH": f"{tmp_path}:{environment.get('PYTHONPATH', '')}"} | env
    result = subprocess.run(
        [sys.executable, "-c", code.replace("ARGS", repr(args))], env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(level)


def test_python_dash_m_gandct_is_the_gandct_command():
    result = subprocess.run(
        [sys.executable, "-m", "gandct"], env=pipeline_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout == cli.usage()
