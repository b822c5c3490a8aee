"""Logging set-up shared by every command: one format, INFO by default, TensorFlow's C++ logs quiet."""

import logging
import os


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger once per process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
