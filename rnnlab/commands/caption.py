"""``rnnlab caption OUT image.png ...``: caption images with a captioning run.

Images come as arguments or from ``--file`` (one path a line, relative to the current folder), in
any format Pillow reads (PNG, JPEG, GIF, BMP, WebP, TIFF; any mode: grey, palette, RGBA over
white), scaled and centre-cropped to the run's image size. Each caption is printed after its
image's path and a tab, in the images' order; with ``--nbest N`` the N best of the beam follow one
another, each with its rank and log-probability (``--json`` also gives the score the beam ranked
by and the words). ``--temperature`` above 0 samples instead (with ``--top-k`` / ``--top-p``).
``--attention FILE.png`` draws, word by word, where the decoder looked: the weights over the image
grid, upsampled over the image (runs trained with ``--attention soft``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from rnnlab.commands.common import UsageError, add_search_flags, check_search, path_arg, texts_of

#: most images drawn in one attention figure
MAX_ROWS = 6


def register(sub) -> None:
    p = sub.add_parser(
        "caption", help="caption images with a caption run (rnnlab train --task caption)", description=__doc__
    )
    p.add_argument("run_dir", type=path_arg, metavar="OUT", help="run directory of a captioning model")
    p.add_argument("texts", nargs="*", metavar="IMAGE", help="image files to caption")
    p.add_argument("--file", type=path_arg, default=None, help="also caption the images this file lists, a path a line")
    add_search_flags(p, "word", 3)
    p.add_argument("--attention", type=path_arg, default=None, metavar="PNG", help="draw where each word looked, here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    check_search(args)
    paths = [Path(p.strip()) for p in texts_of(args, "image path", "caption", "photo.jpg")]
    from rnnlab.data.images import read_image
    from rnnlab.tasks.caption import load_describer
    from rnnlab.tasks.describer import image_tensor

    describer, data = load_describer(args.run_dir)
    if args.attention is not None and describer.model.attention is None:
        raise UsageError("--attention: this run has no attention (it was trained with --attention none)")
    for path in paths:
        if not path.is_file():
            where = "IMAGE" if str(path) in args.texts else f"--file {args.file}"
            raise UsageError(f"{where}: {path} {'is a folder' if path.is_dir() else 'does not exist'}")
    pixels = [read_image(path, data.image_size) for path in paths]  # every image is read before anything is written
    generator = torch.Generator()
    generator.manual_seed(args.seed) if args.seed is not None else generator.seed()
    found = describer.caption(
        image_tensor(pixels),
        beam=args.beam,
        nbest=args.nbest,
        max_length=args.max_length or None,
        length_penalty=args.length_penalty,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        generator=generator,
    )
    if args.attention is not None:
        _draw(pixels, found, args.attention, f"{data.data}: where each word looked")
    if args.json:
        rows = [
            {
                "image": str(path),
                "captions": [
                    {"text": c.text, "score": c.score, "log_prob": c.log_prob, "words": c.words} for c in captions
                ],
            }
            for path, captions in zip(paths, found)
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for path, captions in zip(paths, found):
        if args.nbest == 1:
            print(f"{path}\t{captions[0].text}")
        else:
            for k, c in enumerate(captions, 1):
                print(f"{path}\t{k}\t{c.log_prob:.3f}\t{c.text}")
    return 0


def _draw(pixels, found, path: Path, title: str) -> None:
    from rnnlab.viz.captions import plot_caption_attention

    panels = [(image, c[0].words, c[0].weights.numpy()) for image, c in list(zip(pixels, found))[:MAX_ROWS]]
    plot_caption_attention(panels, path, title)
    if len(pixels) > MAX_ROWS:
        print(f"note: the attention of the first {MAX_ROWS} images was drawn", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)
