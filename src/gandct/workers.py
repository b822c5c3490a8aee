"""A pool of worker processes for the stages' per-image work (decode, hash, transform), and a clean stop.

Used by prepare and features: `worker_pool` yields an ordered map, so the outputs keep their order
whatever the number of workers.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.connection import Connection

import cv2

from gandct.errors import GandctError

log = logging.getLogger(__name__)


def _exit_with_parent(parent_alive: Connection) -> None:
    """Exit the worker as soon as the stage's process is gone, however it died (even by SIGKILL)."""
    with contextlib.suppress(EOFError, OSError):
        parent_alive.recv_bytes()  # nothing is ever sent: this returns (EOF) only when the parent's end closes
    os._exit(1)


def _start_worker(parent_alive: Connection) -> None:
    cv2.setNumThreads(0)  # the processes are the parallelism; OpenCV's own threads would only compete
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the pool
    threading.Thread(target=_exit_with_parent, args=(parent_alive,), daemon=True).start()


@contextmanager
def worker_pool(workers: int, preload: str) -> Iterator[Callable[[Callable, list], Iterable]]:
    """Yield an ordered `map(function, jobs)` over `workers` processes (in this process when 1); the fork
    server imports module `preload` (the caller's, whose functions the jobs run) once for all workers.

    The workers hold the reading end of a pipe only this process writes to: when it dies, they see the
    end of the pipe and exit, and with them go the fork server and the resource tracker.
    """
    if workers == 1:
        yield map
        return
    # Fork only from the clean fork-server process: forking a caller that already runs threads (TensorFlow's,
    # OpenCV's) can copy a held lock into the child and hang it forever.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    parent_alive, keep_alive = context.Pipe(duplex=False)
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(parent_alive,))
    try:
        yield executor.map
    except BrokenProcessPool:
        raise GandctError("a worker process died (killed, or out of memory?); nothing was written") from None
    finally:
        # On an error, drop the queued jobs instead of finishing them (multiprocessing.Pool's terminate()
        # could hang here when a worker had raised).
        executor.shutdown(wait=True, cancel_futures=True)
        keep_alive.close()
        parent_alive.close()


@contextmanager
def stop_cleanly_on_signals() -> Iterator[None]:
    """Turn SIGTERM (what `timeout` and CI send) and SIGINT into an orderly exit with status 128 + signal.

    The default SIGTERM action ends the process on the spot, skipping the clean-up that stops the workers
    and removes the staging folder.
    """

    def stop(signum: int, _frame: object) -> None:
        log.error("stopped by %s; the previous output is left as it was", signal.Signals(signum).name)
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
