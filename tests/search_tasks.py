"""Module-level tasks for the search engine's tests (the workers import this module by name)."""

import os
import time


def pid_after(seconds: float) -> int:
    """The worker process's id, after a pause (so that tasks spread over the workers)."""
    time.sleep(seconds)
    return os.getpid()


def fail(message: str) -> None:
    raise RuntimeError(message)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()
