"""Process-wide settings that make CPU training fast, applied by the command line at start-up.

- Denormal floats can slow CPU arithmetic tenfold. Flushing them to zero is a per-thread setting
  that new threads inherit, so it must be made before PyTorch starts its worker threads: made
  later (inside a training loop), only the main thread flushes and a GEMM split over the workers
  can still crawl (seen here: 4 ms -> 107 ms for one weight gradient late in training).
- glibc serves blocks above 128 KiB to 32 MiB (its threshold adapts) straight from the kernel
  and returns them when freed, so every step's activation buffers (megabytes each) are faulted
  in page by page again (seen here: about a tenth of an LSTM layer's time in page faults).
  Serving them from the heap and keeping freed memory (up to 512 MiB) for reuse avoids that.
  Blocks above 32 MiB (glibc's largest threshold) are still mapped afresh at each call, which
  costs a large batch its page faults too (an LSTM at batch 128, hidden 256, 100 steps: 45,000 a
  forward+backward, 170 ms against 124 without). Turning mapping off altogether (``M_MMAP_MAX``
  0) is not the cure: with shapes that vary from batch to batch the heap then grew without bound
  (a 2-layer LSTM over random lengths and batches: 6 GB after 50 steps, 19.5 GB after 300,
  against about 0.5 GB with mapping left on).

Library users who want the same can call :func:`tune_process` first thing in their program.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager

import torch

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_large_allocations() -> bool:
    """Ask glibc to serve blocks up to 32 MiB from the heap and keep freed memory; ``False`` elsewhere."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1
        return ok and libc.mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024) == 1
    except (OSError, AttributeError):
        return False


def tune_process() -> None:
    """Flush denormals (before PyTorch's worker threads exist) and keep large allocations."""
    torch.set_flush_denormal(True)
    keep_large_allocations()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run small tensor work on one thread. On a busy 2-core machine OpenMP's waiting made a
    512 x 512 float64 SVD take seconds instead of 50 ms, and tanh over 90k values 11 ms instead
    of 0.3 ms."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
