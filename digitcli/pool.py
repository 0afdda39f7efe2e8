"""predict's worker processes: chunks done whole in other processes, results back in order."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator

from digitcli.errors import DigitcliError

# fork starts workers in milliseconds with nothing to re-import; elsewhere, the safe default.
_START_METHOD = "fork" if sys.platform == "linux" else "spawn"


def map_chunks(task: Callable[..., list], chunks: list[tuple], workers: int) -> Iterator:
    """Each element of `task(*chunk)` for every chunk, computed in `workers` processes, in order.

    `task` goes to each worker once, when it starts; closing this generator stops the workers.
    """
    # Imported here: about 20 ms of start-up that one picture does not need.
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # Garbage left by a library this process used (TensorFlow, when train ran in the same process,
    # as in the tests) must be finalised here: in a forked child its threads are gone, and its
    # finalisers crash the worker.
    gc.collect()
    pool = ProcessPoolExecutor(min(workers, len(chunks)), mp_context=multiprocessing.get_context(_START_METHOD),
                               initializer=_set_worker_task, initargs=(task, os.getpid()))
    finished = False
    try:
        for results in _in_order(pool, _run_in_worker, chunks, window=2 * workers):
            yield from results
        finished = True
    except BrokenProcessPool as err:  # a worker was killed (out of memory?) or crashed: no hang
        raise DigitcliError("a worker process died (killed, perhaps for lack of memory); try again with --workers 1") from err
    finally:
        if not finished:  # Ctrl-C, SIGTERM, a closed pipe: no chunk in flight is worth finishing
            _terminate_workers(pool)
        # Waiting here, not at exit: Python's exit hook races a pool still shutting down.
        pool.shutdown(wait=True, cancel_futures=True)


def _terminate_workers(pool) -> None:
    """End a pool's workers at once, like pool.terminate_workers() (new in Python 3.14)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


_worker_task: Callable[..., list] | None = None  # set once in each worker process


def _set_worker_task(task: Callable[..., list], parent: int) -> None:
    global _worker_task
    _end_with_parent(parent)
    _worker_task = task
    # One chunk's forward pass is small: BLAS threads of its own would only spin against the
    # other workers (a fifth more CPU time for the same work, measured on 10,000 PNGs).
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _end_with_parent(parent: int) -> None:
    """Make this worker end with its parent however that ends: SIGTERM, SIGKILL or a crash.

    Otherwise a worker waits for its next task for ever: it holds the task queue's write end itself.
    """
    # The parent stops the pool on Ctrl-C and SIGTERM; a Ctrl-C sent to the whole terminal group
    # must not print a traceback from every worker, and the parent's SIGTERM handler (inherited
    # by fork) is not for them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        # PR_SET_PDEATHSIG (1): the kernel sends SIGKILL when the thread that forked this
        # process ends; that is the parent's main thread, which submits the first task.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl: no signal will come
        os._exit(1)


def _run_in_worker(chunk: tuple) -> list:
    return _worker_task(*chunk)


def _in_order(pool, function, tasks: list, window: int) -> Iterator:
    """Like pool.map, but with at most `window` tasks in flight, so results never pile up."""
    pending: deque = deque()
    for task in tasks:
        pending.append(pool.submit(function, task))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
