"""The captioning figures of the README, from trained runs.

    .venv/bin/python benchmarks/caption_figures.py scenes RUN docs/caption-attention-scenes.png
    .venv/bin/python benchmarks/caption_figures.py emoji RUN docs/caption-emoji.png

``scenes``: writes the first scene of each digit count (2, 3, 4) of the ``digit-scenes`` test
split and of its held-out combinations as PNG files into ``RUN/scenes/``, and captions them with
``rnnlab caption RUN ... --attention FIGURE`` (the run must use soft attention), as a user would.
``emoji``: captions 24 test drawings spread over the split of ``emoji`` with the run's beam and
draws them in a grid, each with its generated caption and, in grey, its Unicode name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from rnnlab.cli import main
from rnnlab.data.captions import load_captions
from rnnlab.tasks.caption import load_describer
from rnnlab.tasks.describer import image_tensor
from rnnlab.viz.captions import plot_caption_grid


def scenes(run: Path, figure: Path) -> int:
    splits = load_captions("digit-scenes", 64, 0)
    chosen = []
    for split in ("test", "test_heldout"):  # the first scene of each digit count, from each split
        seen = set()
        for ex in splits[split]:
            if len(ex.layout.digits) not in seen:
                seen.add(len(ex.layout.digits))
                chosen.append(ex)
    folder = run / "scenes"
    folder.mkdir(exist_ok=True)
    paths = []
    for ex in chosen:
        path = folder / (ex.name.replace("/", "-") + ".png")
        Image.fromarray(ex.image).save(path)
        paths.append(str(path))
        print(f"{path}: reference {ex.captions[0]!r}", file=sys.stderr)
    return main(["caption", str(run), *paths, "--attention", str(figure)])


def emoji(run: Path, figure: Path, count: int = 24) -> int:
    describer, data = load_describer(run)
    test = load_captions("emoji", data.image_size, 0)["test"]
    test = test[:: max(1, len(test) // count)][:count]  # spread over the split (it is in Unicode's order)
    found = describer.caption(image_tensor([ex.image for ex in test]), beam=data.test_beam)
    items = [(ex.image, c[0].text, ex.captions[0]) for ex, c in zip(test, found)]
    plot_caption_grid(items, figure, columns=6, title="emoji test drawings: generated caption (Unicode name in grey)")
    print(f"wrote {figure}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=("scenes", "emoji"))
    p.add_argument("run", type=Path)
    p.add_argument("figure", type=Path)
    args = p.parse_args()
    sys.exit((scenes if args.kind == "scenes" else emoji)(args.run, args.figure))
