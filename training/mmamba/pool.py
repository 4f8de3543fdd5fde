"""Forked process pools for the CPU-bound dataset work (decode, captions, caption BPE ids) that every GPU run
repeats. Workers are forked, so they inherit the loaded pack, tokenizer and any closure without pickling them;
work is split into contiguous index spans and the results are joined in index order, so the output equals
the serial loop exactly. Pool size: the `workers` argument, else $MMAMBA_DECODE_WORKERS, else os.cpu_count()."""

from __future__ import annotations

import os
from collections.abc import Callable

DEFAULT_CHUNK = 512  # items per span unless a caller says otherwise
_job: Callable | None = None  # the span function the forked workers inherit


def pool_size(workers: int | None = None) -> int:
    if workers:
        return int(workers)
    return int(os.environ.get("MMAMBA_DECODE_WORKERS") or 0) or (os.cpu_count() or 1)


def spans(n: int, chunk: int) -> list[tuple[int, int]]:
    return [(i, min(i + chunk, n)) for i in range(0, n, chunk)]


def _run(span: tuple[int, int]):
    return _job(*span)


def _worker_init() -> None:
    """Default signal actions in the workers: a trainer's SIGTERM/SIGINT stop handler (mmamba/checkpoint.py),
    inherited through fork, would keep a worker alive when the pool terminates it."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_spans(fn: Callable[[int, int], object], n: int, workers: int | None = None, chunk: int | None = None) -> list:
    """[fn(lo, hi) for each span of range(n)], in span order; spans run in forked workers when more than one
    worker and span. fn may be a closure and may write into shared memory made before the call."""
    global _job
    parts = spans(n, chunk or DEFAULT_CHUNK)
    workers = min(pool_size(workers), len(parts))
    if workers <= 1:
        return [fn(lo, hi) for lo, hi in parts]
    import multiprocessing as mp

    _job = fn
    pool = mp.get_context("fork").Pool(workers, initializer=_worker_init)
    try:
        out = pool.map(_run, parts, chunksize=1)
        pool.close()  # workers finish and exit on their own; terminate only on an error
        return out
    finally:
        _job = None
        pool.terminate()
        pool.join()


def map_items(fn: Callable[[int], object], n: int, workers: int | None = None, chunk: int | None = None) -> list:
    """[fn(i) for i in range(n)], computed in spans by run_spans (same values, same order)."""
    return [x for part in run_spans(lambda lo, hi: [fn(i) for i in range(lo, hi)], n, workers, chunk) for x in part]
