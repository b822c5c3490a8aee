"""Logging set-up shared by every command: one format, INFO by default, TensorFlow's C++ logs quiet; and the
progress bars, which redraw in a terminal and log a line at most every LOGGED_PROGRESS_SECONDS elsewhere."""

import io
import logging
import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

LOGGED_PROGRESS_SECONDS = 30.0

log = logging.getLogger("gandct.progress")


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger once per process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


class LoggedProgress(tqdm):
    """A tqdm that writes its state as one INFO log line, without the bar, instead of redrawing it in place."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.opened = False
        super().__init__(*args, **kwargs)
        self.opened = True

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        # Not the 0 % state drawn on opening, nor the blank that clears a bar with leave=False on closing.
        if self.opened and msg != "":
            log.info("%s", self.format_meter(**{**self.format_dict, "ncols": 0}))
        return True


def progress(iterable: Iterable | None = None, **kwargs: Any) -> tqdm:
    """tqdm(iterable, **kwargs) on a terminal; with stderr redirected (a log file, CI), a LoggedProgress that
    logs at most one line per LOGGED_PROGRESS_SECONDS and one when it closes (unless leave=False)."""
    if sys.stderr.isatty():
        return tqdm(iterable, **kwargs)
    # miniters=1 checks the clock at every update and keeps tqdm's monitor thread from forcing extra lines;
    # the bar's own writes (a newline on closing) go to a buffer nobody reads.
    throttled = {"mininterval": LOGGED_PROGRESS_SECONDS, "maxinterval": LOGGED_PROGRESS_SECONDS, "miniters": 1}
    return LoggedProgress(iterable, **{**kwargs, **throttled}, file=io.StringIO())
