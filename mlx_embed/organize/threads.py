"""BLAS and OpenMP limited to one thread while clustering and classification compute (process-wide)."""

from __future__ import annotations


class single_threaded:
    """BLAS and OpenMP limited to one thread while scikit-learn and numpy work. Their thread pools spin
    while waiting; next to other busy threads (the embedding worker, other processes) that costs far
    more than it gains (measured on 2 busy cores: k-means 9x, eigh 10x slower with 2 threads)."""

    def __enter__(self):
        from threadpoolctl import threadpool_limits

        self._limit = threadpool_limits(limits=1)
        return self

    def __exit__(self, *exc):
        self._limit.restore_original_limits()
