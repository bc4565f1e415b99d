"""Process settings the command line applies at start-up."""

import platform
import subprocess
import sys

import pytest
import torch

from rnnlab.runtime import keep_large_allocations, tune_process


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_keep_large_allocations_is_accepted_by_glibc():
    assert keep_large_allocations() is True


# In a fresh process: in a long one the heap may hold a free chunk big enough to serve the block
# (kept by the trim threshold), and then nothing is mapped at all.
BLOCK_ROUND_TRIP = """
import os

import torch
from rnnlab.runtime import keep_large_allocations

def resident_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

assert keep_large_allocations()
before = resident_mib()
block = torch.ones(96 * 2**20 // 4)  # 96 MiB, touched
held = resident_mib()
del block
print(held - before, held - resident_mib())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_a_block_above_32_mib_still_goes_back_to_the_kernel():
    """Freed blocks up to 32 MiB stay on the heap; larger ones must still be unmapped when freed:
    with mapping turned off the heap grows without bound under shapes that vary (runtime.py)."""
    out = subprocess.run([sys.executable, "-c", BLOCK_ROUND_TRIP], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    grew, returned = (float(v) for v in out.stdout.split())
    assert grew > 80 and returned > 80


def test_tune_process_flushes_denormals():
    torch.set_flush_denormal(False)  # an earlier CLI test may have switched it on
    tiny = torch.tensor([1e-39])  # a float32 denormal
    assert (tiny * 1.0).item() != 0.0
    try:
        tune_process()
        assert (tiny * 1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)


def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path):
    import os
    import stat

    from rnnlab.fileio import atomic_write_bytes

    atomic_write_bytes(tmp_path / "a.bin", b"x")
    (tmp_path / "b.bin").write_bytes(b"x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.bin").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "b.bin").st_mode) and mode & 0o044  # readable by others
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
