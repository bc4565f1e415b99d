"""``rnnlab build``: compile the explicit-BPTT loops now, before any training needs them.

The compiled per-step loops (C++, about a minute, once per machine and source version) go into
``~/.cache/rnnlab`` or ``$RNNLAB_BUILD_DIR``. ``make`` runs this right after installing, so that
no training's time budget is spent compiling; a training that finds them missing builds them
before its budget starts. Without them everything still runs, on PyTorch loops, slower.

Exit status: 0 when the loops are ready or do not apply here (no AVX2, ``RNNLAB_NATIVE=0``);
1 when they could not be built (the reason is printed); with ``--check``, 1 when not built yet.
"""

from __future__ import annotations

import sys
import warnings

import torch

from rnnlab.bptt import native


def register(sub) -> None:
    p = sub.add_parser("build", help="compile the explicit-BPTT loops now (make runs it)", description=__doc__)
    p.add_argument("--check", action="store_true", help="only say whether they are built; build nothing")
    p.set_defaults(func=run)


def _not_applicable() -> str | None:
    """Why the compiled loops do not apply here, or ``None`` where they do."""
    if not native.enabled:
        return "rnnlab: RNNLAB_NATIVE=0, the PyTorch loops run"
    if native.cpu_flags() is None:
        return f"rnnlab: no AVX2 here ({torch.backends.cpu.get_cpu_capability()}), the PyTorch loops run"
    return None


def _ready_line() -> str:
    return f"rnnlab: compiled BPTT loops ready in {native.build_dir(native.cpu_flags())[0]}"


def status() -> tuple[int, str]:
    """Build (or load) the loops; the exit status and the line that says where they are or why not."""
    why_not = _not_applicable()
    if why_not is not None:
        return 0, why_not
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = native.prepare()
    if built is None:
        why = str(caught[-1].message).removeprefix("rnnlab: ") if caught else "the build failed"
        return 1, f"rnnlab: the compiled loops could not be built, the PyTorch loops run: {why}"
    return 0, _ready_line()


def run(args) -> int:
    if args.check:
        why_not = _not_applicable()
        if why_not is not None or native.ready():
            print(why_not or _ready_line())
            return 0
        where = native.build_dir(native.cpu_flags())[0]
        print(f"rnnlab: the compiled BPTT loops are not built ({where}); `rnnlab build` builds them")
        return 1
    return build_now()


def build_now() -> int:
    """Build (or load) the loops, print where they are or why not; the exit status."""
    code, line = status()
    print(line, file=sys.stderr if code else sys.stdout)
    return code
