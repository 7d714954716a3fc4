"""Timing harness shared by the benchmark commands: workers in threads or in forked processes.

Threads of one process share the GIL; the site itself scales by processes behind a load
balancer, so benchmarks show both.
"""

import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from django.db import connection, connections


def measure(call: Callable, work: list[list], *, processes: bool = False) -> tuple[float, list[float]]:
    """Run `call(arg)` for every arg of work[i] in worker i; return the wall time and every latency.

    `call` must be a module-level function when `processes` is set (it is sent to the children).
    """
    if processes:
        connections.close_all()  # a forked child must not share the parent's connection
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=len(work), mp_context=context) as pool:
            results = list(pool.map(_timed_calls, [call] * len(work), work))
        seconds = max(end for _, end, _ in results) - min(start for start, _, _ in results)
        return seconds, [latency for _, _, latencies in results for latency in latencies]

    ready = threading.Barrier(len(work) + 1)
    results: list = [None] * len(work)

    def worker(index: int) -> None:
        try:
            connection.ensure_connection()
            ready.wait()
            results[index] = _timed_calls(call, work[index])
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        raise failures[0]
    return seconds, [latency for _, _, latencies in results for latency in latencies]


def _timed_calls(call: Callable, args: list) -> tuple[float, float, list[float]]:
    try:
        connection.ensure_connection()
        latencies = []
        started = time.perf_counter()
        for arg in args:
            begun = time.perf_counter()
            call(arg)
            latencies.append(time.perf_counter() - begun)
        return started, time.perf_counter(), latencies
    finally:
        connections.close_all()


def statements(call: Callable[[], object]) -> int:
    """How many SQL statements `call()` sends, BEGIN, COMMIT and savepoints included (Django logs them)."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)
