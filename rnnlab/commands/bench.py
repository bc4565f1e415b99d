"""``rnnlab bench``: forward+backward time of each cell against torch.nn."""

from __future__ import annotations

from rnnlab import bench
from rnnlab.cells import check_cells
from rnnlab.commands.common import UsageError, csv_of, path_arg
from rnnlab.fileio import atomic_write_json


def register(sub) -> None:
    p = sub.add_parser("bench", help="time forward+backward of each cell: fast path, reference step loop, torch.nn")
    p.add_argument("--cells", type=csv_of(str), default=bench.DEFAULT_CELLS, help="comma-separated cell names")
    p.add_argument("--hidden", type=csv_of(int), default=[256, 512], help="hidden sizes, e.g. 256,512")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=100, help="sequence length T")
    p.add_argument("--input", type=int, default=64, help="input features")
    p.add_argument("--repeats", type=int, default=15, help="timed runs per module (median is kept)")
    p.add_argument("--json", type=path_arg, default=None, help="also write the results to this JSON file")
    p.set_defaults(func=run)


def run(args) -> int:
    check_cells("--cells", args.cells)
    for name in ("batch", "steps", "input", "repeats"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    if not args.hidden or min(args.hidden) <= 0:
        raise UsageError(f"--hidden: expected positive integers, got {args.hidden}")
    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"--json: folder {args.json.parent} does not exist")
    rows = bench.run_bench(args.cells, args.hidden, args.batch, args.steps, args.input, args.repeats)
    print(
        f"forward+backward, batch {args.batch}, T {args.steps}, input {args.input}; median of {args.repeats}\n"
        "speed-up = steps ms / ms; x LSTM = GFLOP/s / torch.nn.LSTM's GFLOP/s; ratio = ms / torch.nn twin ms"
    )
    print(bench.format_table(rows))
    if args.json is not None:
        config = {k: getattr(args, k) for k in ("cells", "hidden", "batch", "steps", "input", "repeats")}
        atomic_write_json(args.json, bench.rows_to_json(rows, config))
    return 0
