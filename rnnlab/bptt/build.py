"""``python -m rnnlab.bptt.build``: compile the BPTT loops now (``make`` runs it after installing).

Prints where the loops are, or why the PyTorch loops will run instead (a failed build is a warning:
everything still runs, slower).
"""

from __future__ import annotations

import sys

import torch

from rnnlab.bptt import native


def main() -> int:
    flags = native.cpu_flags()
    if not native.enabled:
        print("rnnlab: RNNLAB_NATIVE=0, the PyTorch loops run")
    elif flags is None:
        print(f"rnnlab: no AVX2 here ({torch.backends.cpu.get_cpu_capability()}), the PyTorch loops run")
    elif native.prepare() is None:
        print("rnnlab: the compiled loops could not be built (see the warning above); the PyTorch loops run")
    else:
        print(f"rnnlab: compiled BPTT loops ready in {native.build_dir(flags)[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
