"""Progress bars: redrawn in a terminal, a few log lines when stderr goes to a file."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time

from helpers import pipeline_env

from gandct.logs import LOGGED_PROGRESS_SECONDS

# About `seconds` of a busy loop through gandct's progress bar, updated thousands of times.
SPIN = """
import sys, time
from gandct.logs import progress, setup_logging
setup_logging()
steps = 2000
for _ in progress(range(steps), desc="spin", unit="step"):
    time.sleep(float(sys.argv[1]) / steps)
"""


def spin_command(seconds: float) -> list[str]:
    return [sys.executable, "-c", SPIN, str(seconds)]


def test_redirected_progress_logs_a_bounded_number_of_lines(tmp_path):
    log_file = tmp_path / "run.log"
    started = time.perf_counter()
    with log_file.open("wb") as handle:
        subprocess.run(spin_command(3.0), env=pipeline_env(), stderr=handle, check=True, timeout=60)
    seconds = time.perf_counter() - started
    text = log_file.read_bytes().decode()  # as written: read_text() would turn carriage returns into newlines
    assert "\r" not in text  # no redraws in place
    updates = [line for line in text.splitlines() if "spin:" in line]
    assert len(updates) <= 1 + seconds // LOGGED_PROGRESS_SECONDS, text
    assert " INFO gandct.progress: spin: 100% 2000/2000 [" in updates[-1]


def test_progress_in_a_terminal_is_a_redrawn_bar():
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # rows, columns: a real size
    process = subprocess.Popen(spin_command(1.0), env=pipeline_env(), stderr=terminal)
    os.close(terminal)
    output = b""
    while True:  # read while the bar draws: the terminal's buffer goes once the process closes its end
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # closed: everything has been read
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    text = output.decode()
    assert text.count("\rspin:") >= 3, text
    assert "2000/2000" in text and "█" in text
