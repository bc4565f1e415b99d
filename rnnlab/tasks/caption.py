"""Image captioning, one to many (``rnnlab train --task caption``).

Images with one or more captions come from a named set (``digit-scenes``, ``emoji``) or a folder of
images with a captions file (Flickr8k's or COCO's layout; :mod:`rnnlab.data.captions`), all as RGB
squares of ``image_size`` pixels. The vocabulary is the words of the training captions (lowercased
by default; rarer than ``min_freq``: ``<unk>``), saved in the run. Every (image, caption) pair is a
training example: the decoder reads ``<s> y_1 .. y_n`` and is scored on ``y_1 .. y_n </s>``, the
cross-entropy averaged over the words (padding ignored), plus Show, Attend and Tell's doubly
stochastic penalty with soft attention (``attention_penalty``, Xu et al. 2015 eq. 14; they weigh it
1 with a 14x14 grid). It is off by default: when the grid has more cells than a caption has words,
it pulls the weights towards the cells that show nothing.

Each evaluation gives the validation loss over every validation caption, captions up to
``eval_images`` validation images greedily for BLEU-1..4 (``sacrebleu``, all references of an image),
exact match (and, for ``digit-scenes``, the share of true captions and of scenes whose digits are all
named), and captions ``shown`` test images on the progress output. The best weights are those of
the best validation exact match on ``digit-scenes`` and BLEU-4 elsewhere (or ``--select``). At the
end the best weights caption every validation and test image (and ``digit-scenes``'s held-out
combinations) with a beam of ``test_beam``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnnlab import checks
from rnnlab.checkpoint import CheckpointError
from rnnlab.configs import check_fields
from rnnlab.data.captions import CAPTION_SETS, IMAGES_SMALLER, Captioned, load_captions
from rnnlab.data.tokenizer import Tokenizer, join_words
from rnnlab.metrics.captions import caption_scores, scene_scores
from rnnlab.models.captioner import POOLED, CaptionConfig, Captioner
from rnnlab.runs import RunConfig, check_tables, read_config
from rnnlab.tasks.classify import load_best
from rnnlab.tasks.common import EpochBatches, PassTask
from rnnlab.tasks.describer import Describer, caption_loss, image_tensor, targets
from rnnlab.train.distributed import ALONE, World, current, gather_texts

SELECT = ("auto", "bleu4", "exact", "correct", "loss")
SCENES = "digit-scenes"
REFRESH_IMAGES = 2048  # training images whose statistics batch normalisation takes before an evaluation
SCENE_SCORES = ("exact", "correct", "digits_named", "digit_recall")


@dataclass
class CaptionDataConfig:
    """The captioned images of a captioning task and how they are read."""

    data: str = field(
        default="",
        metadata={
            "help": "a named set (" + ", ".join(CAPTION_SETS) + "), a folder of images with a captions file "
            "(Flickr8k's image,caption lines or COCO's JSON), or the captions file"
        },
    )
    val_data: str = field(default="", metadata={"help": "validation captions file; '' = split off (or the set's own)"})
    test_data: str = field(default="", metadata={"help": "test captions file; '' = split off (or the set's own)"})
    val_fraction: float = field(default=0.1, metadata={"help": "share of the images held out for validation"})
    test_fraction: float = field(default=0.1, metadata={"help": "share of the images held out for testing"})
    image_size: int = field(default=64, metadata={"help": "images are scaled and centre-cropped to this square"})
    lowercase: bool = field(default=True, metadata={"help": "lowercase the captions"})
    min_freq: int = field(default=1, metadata={"help": "words seen fewer times in training read as <unk>"})
    max_vocab: int = field(default=10000, metadata={"help": "at most this many words"})
    max_length: int = field(default=30, metadata={"help": "words of a caption kept (longer: cut); most written"})
    attention_penalty: float = field(
        default=0.0, metadata={"help": "weight of the doubly stochastic attention penalty (Xu et al. 2015 use 1)"}
    )
    select: str = field(
        default="auto", metadata={"help": "best weights by: " + ", ".join(SELECT) + " (auto: exact on digit-scenes)"}
    )
    eval_images: int = field(default=500, metadata={"help": "validation images captioned at each evaluation"})
    test_beam: int = field(default=3, metadata={"help": "beam width of the final validation and test scores"})
    shown: int = field(default=3, metadata={"help": "test images captioned on the progress output at each evaluation"})

    def validate(self) -> None:
        check_fields(self)
        if not self.data:
            checks.fail("data", "a named set, a folder or a captions file", "nothing (give --data)")
        for name in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 0.5:
                checks.fail(name, "a share between 0 and 0.5", getattr(self, name))
        size, step = self.image_size, 2**POOLED
        if not checks.is_integer(size) or not 16 <= size <= 1024 or size % step:
            expected = f"a multiple of {step} pixels in [16, 1024] (the encoder halves it {POOLED} times)"
            checks.fail("image_size", expected, size)
        for name in ("min_freq", "max_vocab", "max_length", "eval_images", "test_beam"):
            checks.positive_int(name, getattr(self, name))
        checks.non_negative_int("shown", self.shown)
        checks.non_negative("attention_penalty", self.attention_penalty)
        checks.choice("select", self.select, SELECT)
        if self.select == "correct" and self.data != SCENES:
            checks.fail("select", f"a score this data has ('correct' is {SCENES}'s)", self.select)

    @property
    def selected(self) -> str:
        if self.select != "auto":
            return self.select
        return "exact" if self.data == SCENES else "bleu4"


class CaptionTask(PassTask):
    """A :class:`Captioner` on captioned images.

    Args:
        model_cfg: the architecture (the vocabulary size is filled in from the data).
        data: the images and how to read them.
        batch_size: (image, caption) pairs per step.
        seed: seeds the splits of user data, the initial weights and the batches.
        tables: a resumed run's vocabulary.

    Data-parallel (``--nproc``): each process takes its part of every batch, weighted by its words,
    and the evaluations are shared out (their scores are those of one process). But the image
    encoder's batch normalisation normalises each process's part with that part's own statistics:
    ``SyncBatchNorm``, which would share them, takes GPU inputs only (torch 2.13,
    ``torch/nn/modules/batchnorm.py``, ``SyncBatchNorm.forward``: "SyncBatchNorm expected input
    tensor to be on GPU or XPU"), so a run on N processes trains as N smaller batches would, not
    as one process does. The statistics that evaluations use are recomputed from the same training
    images on every process (:meth:`refresh_statistics`), so they agree.
    """

    kind = "caption"
    unit = "image"
    speed_key = "images_per_s"
    parallel = True

    def __init__(
        self, model_cfg: CaptionConfig, data: CaptionDataConfig, batch_size: int, seed: int, tables: dict | None = None
    ) -> None:
        data.validate()
        self.data = data
        try:
            self.splits = load_captions(
                data.data, data.image_size, seed, data.val_data, data.test_data, data.val_fraction, data.test_fraction
            )
        except MemoryError as e:  # the check before loading counts the machine's memory, not what is free
            raise ValueError(f"images: out of memory while loading them; {IMAGES_SMALLER}") from e
        if tables is None:
            captions = [c for ex in self.splits["train"] for c in ex.captions]
            self.vocab = Tokenizer.train(captions, "word", data.max_vocab, data.min_freq, data.lowercase)
            model_cfg.vocab_size = len(self.vocab)
        else:
            self.vocab = Tokenizer.from_json(tables["vocab"])
        torch.manual_seed(seed)
        self.model = Captioner(model_cfg)  # checks the architecture before anything is written
        self.describer = Describer(self.model, self.vocab, data.max_length)
        try:
            self.images = {name: image_tensor([ex.image for ex in split]) for name, split in self.splits.items()}
        except (MemoryError, RuntimeError) as e:
            if checks.allocation_failure(e) is None:
                raise
            raise ValueError(f"images: out of memory while stacking them; {IMAGES_SMALLER}") from e
        self.pairs = self._pairs("train", note=True)
        self.val_pairs = self._pairs("val")
        self.metric = f"val_{data.selected}"
        self.higher_is_better = data.selected != "loss"
        self.batch_size = batch_size
        # batches at random, not of similar caption lengths: batch normalisation needs batches like
        # the data (a batch of four-digit scenes alone has other statistics than the whole)
        self.batches = EpochBatches([0] * len(self.pairs), batch_size, seed)

    def _pairs(self, split: str, note: bool = False) -> list[tuple[int, list[int]]]:
        """``(image index, caption ids)`` of every caption of ``split``."""
        pairs = [(i, self.vocab.encode(c)) for i, ex in enumerate(self.splits[split]) for c in ex.captions]
        cut = sum(len(c) > self.data.max_length for _, c in pairs)
        if cut and note:
            limit = self.data.max_length
            print(f"note: {cut:,} training caption(s) longer than --max-length {limit} were cut", file=sys.stderr)
        return [(i, c[: self.data.max_length]) for i, c in pairs]

    @classmethod
    def from_run(cls, run: RunConfig, batch_size: int, seed: int) -> CaptionTask:
        model_cfg, data = run.section("model", CaptionConfig), run.section("data", CaptionDataConfig)
        return cls(model_cfg, data, batch_size, seed, run.tables)

    def next_batch(self):
        indices, _ = self.batches.next()
        # this process's part, weighted by its words (with </s>): both terms of the loss are divided
        # by the words of the batch (the penalty's sum over images too, see caption_loss), so the
        # weighted parts add up to the whole batch's loss exactly
        mine, weight = current().take(indices, [len(self.pairs[i][1]) + 1 for i in indices])
        tgt_in, tgt_out = targets([self.pairs[i][1] for i in mine])
        return self.images["train"][[self.pairs[i][0] for i in mine]], tgt_in, tgt_out, weight

    def loss(self, batch):
        images, tgt_in, tgt_out, weight = batch
        logits, weights = self.model(images, tgt_in)
        ce, penalty = caption_loss(logits, tgt_out, weights, self.data.attention_penalty)
        figures = {"loss": ce.item(), "tokens": int(images.shape[0]) if weight else 0, "weight": weight}
        if weights is not None and self.data.attention_penalty:
            figures["attention_penalty"] = penalty.item()
        return (ce + penalty) * weight, figures

    def refresh_statistics(self, model: Captioner) -> None:
        """Give ``model``'s batch normalisation the statistics of :data:`REFRESH_IMAGES` training
        images spread evenly over the split (:meth:`Captioner.refresh_statistics`), before every
        evaluation. Every process of a data-parallel run reads the same images, in the same
        batches, outside DDP (``model`` is the task's own model, not its replica), so every process
        gets the same statistics; DDP's broadcast of rank 0's buffers at the next training step then
        overwrites them with what they already are, and training's batch statistics replace them."""
        train = self.images["train"]
        images = train[:: max(1, len(train) // REFRESH_IMAGES)][:REFRESH_IMAGES]
        model.refresh_statistics(images[k : k + self.batch_size] for k in range(0, len(images), self.batch_size))

    def evaluate(self) -> dict[str, float]:
        world = current()
        self.refresh_statistics(self.model)
        scores = {"val_loss": self.describer.loss(self.images["val"], self.val_pairs, world)}
        n = min(self.data.eval_images, len(self.splits["val"]))
        found = greedy(self.describer, self.images["val"][:n], world)
        scores.update({f"val_{k}": float(v) for k, v in self.scores(self.splits["val"][:n], found).items()})
        return scores

    def scores(self, examples: list[Captioned], found: list[str]) -> dict[str, float]:
        """The scalar scores of captions ``found`` for ``examples``."""
        refs = [[self._reference(c) for c in ex.captions] for ex in examples]
        scores = {k: v for k, v in caption_scores(found, refs).items() if isinstance(v, (int, float))}
        if self.data.data == SCENES:
            scenes = scene_scores(found, [ex.layout for ex in examples], [r[0] for r in refs])
            scores.update({k: v for k, v in scenes.items() if k in SCENE_SCORES})
        return scores

    def _reference(self, caption: str) -> str:
        """A reference as the model would write it: its words (lowercased if the run lowercases)
        spaced as the vocabulary joins them ("a dog ." reads "a dog.")."""
        return join_words(self.vocab.tokens(caption))

    def format_scores(self, scores: dict[str, float]) -> str:
        shown = (("loss", "val_loss", ".4f"), ("BLEU-4", "val_bleu4", ".2f"), ("exact", "val_exact", ".4f"))
        shown += (("correct", "val_correct", ".4f"), ("digits named", "val_digits_named", ".4f"))
        return "val " + "  ".join(f"{name} {scores[k]:{fmt}}" for name, k, fmt in shown if k in scores)

    def sample(self, record: dict) -> str | None:
        k = min(self.data.shown, len(self.splits["test"]))
        if not k:
            return None
        found = self.describer.caption(self.images["test"][:k], beam=1)
        lines = []
        for ex, hyps in zip(self.splits["test"][:k], found):
            lines.append(f"  {ex.name}: {hyps[0].text}  (reference: {ex.captions[0]})")
        return "\n".join(lines)

    def tables(self) -> dict:
        sizes = {k: len(v) for k, v in self.splits.items()}
        return {"vocab": self.vocab.to_json(), "sizes": sizes}

    def results(self, best: Captioner) -> dict:
        describer = Describer(best, self.vocab, self.data.max_length)
        results = {"task": "caption", "sizes": {k: len(v) for k, v in self.splits.items()}}
        for split in self.splits:
            if split != "train":
                results[split] = split_scores(self, describer, split, self.data.test_beam)
        return results

    def describe(self) -> str:
        sizes = " / ".join(f"{len(v):,}" for v in self.splits.values())
        cfg = self.model.config
        grid = "x".join(map(str, self.model.grid_shape(self.data.image_size)))
        how = f"the image as the decoder's {cfg.handover}"
        if cfg.attention == "soft":
            how = f"soft attention over a grid of {grid} cells"
        return (
            f"caption: {sizes} images ({' / '.join(self.splits)}), {len(self.pairs):,} training captions, "
            f"{len(self.vocab):,} words; {self.data.image_size}-px images, {how}"
        )


def greedy(describer: Describer, images: torch.Tensor, world: World = ALONE) -> list[str]:
    """The greedy captions of ``images``, in order; each process of ``world`` captions its part and
    the processes share their texts."""
    part = world.part(images.shape[0])
    mine = [h[0].text for h in describer.caption(images[part], beam=1)]
    return gather_texts(mine, part, images.shape[0], world)


@torch.no_grad()
def split_scores(task: CaptionTask, describer: Describer, split: str, beam: int) -> dict:
    """The scores of a split's images captioned with ``beam``, the loss, the speed and examples."""
    examples, images = task.splits[split], task.images[split]
    tick = time.perf_counter()
    found = [h[0].text for h in describer.caption(images, beam=beam)]
    elapsed = time.perf_counter() - tick
    scores: dict = task.scores(examples, found)
    pairs = [(i, describer.encode(c)) for i, ex in enumerate(examples) for c in ex.captions]
    scores["loss"] = describer.loss(images, pairs)
    scores.update({"beam": beam, "images_per_s": len(examples) / max(elapsed, 1e-9)})
    shown = zip(examples[:5], found)
    scores["examples"] = [{"image": ex.name, "reference": ex.captions[0], "output": out} for ex, out in shown]
    return scores


def load_describer(out: Path, finite: bool = True) -> tuple[Describer, CaptionDataConfig]:
    """The best model of a caption run (in eval mode) with its vocabulary, and its data section
    (``finite``: as :func:`~rnnlab.tasks.classify.load_classifier`)."""
    run = read_config(Path(out), "caption")
    model_cfg, data = run.section("model", CaptionConfig), run.section("data", CaptionDataConfig)
    try:
        data.validate()  # a damaged image size would fail inside the encoder
        vocab = Tokenizer.from_json(run.tables["vocab"])
        model = Captioner(model_cfg)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{run.path} is damaged ({e})") from e
    check_tables(run.path, vocab=(len(vocab), model_cfg.vocab_size))
    load_best(run.out, model, finite)
    model.eval()
    return Describer(model, vocab, data.max_length), data
