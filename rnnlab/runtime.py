"""Process-wide settings that make CPU training fast, applied by the command line at start-up.

- Denormal floats can slow CPU arithmetic tenfold. Flushing them to zero is a per-thread setting
  that new threads inherit, so it must be made before PyTorch starts its worker threads: made
  later (inside a training loop), only the main thread flushes and a GEMM split over the workers
  can still crawl (seen here: 4 ms -> 107 ms for one weight gradient late in training).
- glibc serves blocks above 128 KiB to 32 MiB (its threshold adapts) straight from the kernel
  and returns them when freed, so every step's activation buffers (megabytes each) are faulted
  in page by page again (seen here: about a tenth of an LSTM layer's time in page faults).
  Serving them from the heap and keeping freed memory (up to 512 MiB) for reuse avoids that.
  Blocks above 32 MiB, glibc's largest threshold, would still be mapped afresh at every call
  unless mapping is turned off altogether (``M_MMAP_MAX`` 0): at batch 128 a forward+backward of
  ``torch.nn.LSTM`` (hidden 256, 100 steps) took 45,000 page faults and 170 ms with it, 124 ms
  without; at 1,000 steps 114,000 faults and 468 ms against 319 ms. The price is memory: the
  heap keeps what it has held. A 2 x 512 character model at batch 128 and 128 steps trained 1.25
  times faster, and its resident set rose from 1.3 to 1.9 GB; the default model's stayed at 0.5
  GB. ``RNNLAB_KEEP_FREED=0`` leaves glibc's own policy in place.

Library users who want the same can call :func:`tune_process` first thing in their program.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager

import torch

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # glibc's mallopt parameters (malloc.h)


def keep_large_allocations() -> bool:
    """Ask glibc to serve every block from the heap and keep freed memory; ``False`` elsewhere."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if os.environ.get("RNNLAB_KEEP_FREED", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1
        ok = ok and libc.mallopt(M_MMAP_MAX, 0) == 1
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
