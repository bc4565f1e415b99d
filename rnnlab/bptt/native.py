"""The compiled per-step loops of explicit BPTT (``csrc/``), built once per machine.

They do what the Python loops of :mod:`rnnlab.bptt` do, with one fused pass per step for all the
element-wise work, for float32 on CPUs with AVX2. They are compiled with the machine's C++ compiler
(``torch.utils.cpp_extension``, about a minute, once per source version) into ``~/.cache/rnnlab``
(or ``$RNNLAB_BUILD_DIR``): by ``make`` right after installing (``rnnlab build``),
by the trainers before their time budget starts, or else on first use. Where that cannot be done,
or with ``RNNLAB_NATIVE=0``, the pure-PyTorch loops run instead: same results, slower.

A build is safe to interrupt and to run from several processes at once:

- one process builds at a time, under an ``flock`` on ``build.lock`` that the kernel releases
  when its holder dies, however it dies;
- each attempt compiles in a new ``attempt-*`` folder of its own (with a copy of the sources):
  what a killed attempt leaves there (PyTorch's builder's lock file, which would make the next
  build wait forever; objects its orphaned compilers may still be writing) is never reused, and
  is removed by the next attempt;
- the library is moved into the build folder, and ``done`` written, only once it has built and
  imported: a folder without ``done`` is never loaded from;
- the build folder is named by the sources' bytes, not their paths, so two checkouts of the same
  sources sharing one environment load one build.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import ModuleType

import torch

CSRC = Path(__file__).parent / "csrc"
SOURCES = [
    "module.cpp", "clockwork.cpp", "elman.cpp", "gru.cpp", "lstm.cpp", "mut.cpp", "lnlstm.cpp", "infer.cpp", "pool.cpp",
]  # fmt: skip
HEADERS = ["common.h"]
# glibc declares its vector expf/tanhf (libmvec) only under __FAST_MATH__; defining it with the
# unsafe-math flags but without -ffinite-math-only keeps NaN and infinity as they are.
FLAGS = ["-O3", "-mavx2", "-mfma", "-fno-math-errno", "-funsafe-math-optimizations", "-D__FAST_MATH__", "-fopenmp"]
WIDE = ["-mavx512f", "-mavx512dq", "-mprefer-vector-width=512"]  # where the CPU has AVX-512
DONE, LOCK = "done", "build.lock"
WAIT_S = 900.0  # how long to wait for another process's build before taking the PyTorch loops
enabled = os.environ.get("RNNLAB_NATIVE", "1") != "0"
_built: list = []  # [module or None] once tried


def build_root() -> Path:
    """``$RNNLAB_BUILD_DIR``, else ``~/.cache/rnnlab``."""
    return Path(os.environ.get("RNNLAB_BUILD_DIR") or Path.home() / ".cache" / "rnnlab")


def cpu_flags() -> list[str] | None:
    """The compiler flags for this CPU, or ``None`` where the loops do not apply (no AVX2)."""
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in ("AVX2", "AVX512"):
        return None
    return FLAGS + (WIDE if capability == "AVX512" else [])


def build_dir(flags: list[str]) -> tuple[Path, str]:
    """The build folder and module name for these sources, flags and environment.

    The key holds the sources' bytes (not their paths), PyTorch's version, the flags and the
    environment's prefix (a build records its include paths).
    """
    key = b"".join((CSRC / n).read_bytes() for n in SOURCES + HEADERS)
    key += f"{torch.__version__} {flags} {sys.prefix}".encode()
    digest = hashlib.sha256(key).hexdigest()[:12]
    return build_root() / f"native-{digest}", f"rnnlab_native_{digest}"


def _import(build: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, build / f"{name}.so")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {build / name}.so")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lock(path: Path, wait_s: float) -> int | None:
    """An open descriptor holding an exclusive ``flock`` on ``path``, or ``None`` after ``wait_s``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline, told = time.monotonic() + wait_s, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            if not told:
                print("rnnlab: waiting for another process compiling the BPTT loops", file=sys.stderr, flush=True)
                told = True
            time.sleep(0.2)


def _copy_sources(attempt: Path) -> list[str]:
    """Copy the sources into the attempt's folder; their paths there."""
    for n in SOURCES + HEADERS:
        (attempt / n).write_bytes((CSRC / n).read_bytes())
    return [str(attempt / n) for n in SOURCES]


def _build(wait_s: float = WAIT_S) -> ModuleType | None:
    flags = cpu_flags()
    if flags is None:
        return None
    build, name = build_dir(flags)
    if (build / DONE).exists():
        return _import(build, name)
    build.mkdir(parents=True, exist_ok=True)
    fd = _lock(build / LOCK, wait_s)
    if fd is None:
        raise TimeoutError(f"another process held {build / LOCK} for {wait_s:.0f} s")
    try:
        if (build / DONE).exists():  # another process built it while this one waited
            return _import(build, name)
        for old in build.glob("attempt-*"):  # a killed build's folder; its compilers may still write there
            shutil.rmtree(old, ignore_errors=True)
        attempt = Path(tempfile.mkdtemp(prefix="attempt-", dir=build))
        print("rnnlab: compiling the BPTT loops (once, about a minute)", file=sys.stderr, flush=True)
        from torch.utils.cpp_extension import load

        module = load(
            name=name,
            sources=_copy_sources(attempt),
            build_directory=str(attempt),
            extra_cflags=flags,
            extra_ldflags=["-lmvec", "-fopenmp"],
            verbose=False,
        )
        os.replace(attempt / f"{name}.so", build / f"{name}.so")  # whole, or not there at all
        (build / DONE).write_text(f"{name}\n")
        shutil.rmtree(attempt, ignore_errors=True)
        return module
    finally:
        os.close(fd)


def prepare() -> ModuleType | None:
    """Build (or load) the compiled loops now, if they apply here; ``None`` where they cannot be had.

    The trainers call this before their time budget starts, so a first build is never paid
    from a training's budget.
    """
    if not enabled:
        return None
    if not _built:
        try:
            _built.append(_build())
        except Exception as e:  # no compiler, no ninja, a build error: the Python loops still work
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            warnings.warn(f"rnnlab: compiled BPTT loops unavailable, using PyTorch's ({first})", stacklevel=2)
            _built.append(None)
    return _built[0]


def ready() -> bool:
    """Whether the compiled loops are loaded, or built on disk so that loading them is quick: what
    ``path="auto"`` asks before timing the explicit-BPTT path, which must not start a build."""
    if not enabled:
        return False
    if _built:
        return _built[0] is not None
    flags = cpu_flags()
    return flags is not None and (build_dir(flags)[0] / DONE).exists()


def loops(x: torch.Tensor) -> ModuleType | None:
    """The compiled loops if they apply to ``x`` (float32 on the CPU) and could be built, else ``None``."""
    if not enabled or x.dtype != torch.float32 or x.device.type != "cpu":
        return None
    return prepare()
