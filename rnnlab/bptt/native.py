"""The compiled per-step loops of explicit BPTT (``csrc/``), built on first use.

They do what the Python loops of :mod:`rnnlab.bptt` do, with one fused pass per step for all the
element-wise work, for float32 on CPUs with AVX2. The first call compiles them with the machine's
C++ compiler (``torch.utils.cpp_extension``, about a minute, once per source version) into
``~/.cache/rnnlab`` (or ``$RNNLAB_BUILD_DIR``). Where that cannot be done, or with
``RNNLAB_NATIVE=0``, the pure-PyTorch loops run instead: same results, slower.
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

import torch

SOURCES = [
    Path(__file__).parent / "csrc" / name
    for name in ("module.cpp", "clockwork.cpp", "elman.cpp", "lstm.cpp", "mut.cpp", "lnlstm.cpp")
]
HEADERS = [Path(__file__).parent / "csrc" / "common.h"]
# glibc declares its vector expf/tanhf (libmvec) only under __FAST_MATH__; defining it with the
# unsafe-math flags but without -ffinite-math-only keeps NaN and infinity as they are.
FLAGS = ["-O3", "-mavx2", "-mfma", "-fno-math-errno", "-funsafe-math-optimizations", "-D__FAST_MATH__", "-fopenmp"]
WIDE = ["-mavx512f", "-mavx512dq", "-mprefer-vector-width=512"]  # where the CPU has AVX-512
enabled = os.environ.get("RNNLAB_NATIVE", "1") != "0"
_built: list = []  # [module or None] once tried


def _build() -> ModuleType | None:
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in ("AVX2", "AVX512"):
        return None
    flags = FLAGS + (WIDE if capability == "AVX512" else [])
    from torch.utils.cpp_extension import load

    # one build per source version, flags and environment (the build records the venv's include paths)
    key = b"".join(p.read_bytes() for p in SOURCES + HEADERS) + f"{torch.__version__} {flags} {sys.prefix}".encode()
    digest = hashlib.sha256(key).hexdigest()[:12]
    root = Path(os.environ.get("RNNLAB_BUILD_DIR") or Path.home() / ".cache" / "rnnlab")
    build = root / f"native-{digest}"
    build.mkdir(parents=True, exist_ok=True)
    name = f"rnnlab_native_{digest}"
    if not (build / f"{name}.so").exists():
        print("rnnlab: compiling the BPTT loops (once, about a minute)", file=sys.stderr, flush=True)
    return load(
        name=name,
        sources=[str(p) for p in SOURCES],
        build_directory=str(build),
        extra_cflags=flags,
        extra_ldflags=["-lmvec", "-fopenmp"],
        verbose=False,
    )


def loops(x: torch.Tensor) -> ModuleType | None:
    """The compiled loops if they apply to ``x`` (float32 on the CPU) and could be built, else ``None``."""
    if not enabled or x.dtype != torch.float32 or x.device.type != "cpu":
        return None
    if not _built:
        try:
            _built.append(_build())
        except Exception as e:  # no compiler, no ninja, a build error: the Python loops still work
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            warnings.warn(f"rnnlab: compiled BPTT loops unavailable, using PyTorch's ({first})", stacklevel=2)
            _built.append(None)
    return _built[0]
