"""Process settings the command line applies at start-up."""

import platform
import resource

import pytest
import torch

from rnnlab.runtime import keep_large_allocations, tune_process


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_keep_large_allocations_is_accepted_by_glibc():
    assert keep_large_allocations() is True


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_a_block_above_32_mib_is_reused_without_page_faults():
    """glibc maps blocks above 32 MiB fresh at each allocation unless told not to map at all: a
    64 MiB buffer freed and asked for again then costs 16,384 page faults (4 KiB pages)."""
    assert keep_large_allocations() is True
    n = 64 * 2**20 // 4
    torch.empty(n).fill_(1.0)  # held once, then freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    again = torch.empty(n).fill_(1.0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert again.sum().item() == n and faults < 1024


def test_keep_freed_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("RNNLAB_KEEP_FREED", "0")
    assert keep_large_allocations() is False


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
