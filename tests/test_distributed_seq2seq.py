"""Data-parallel training of the sequence-to-sequence and captioning tasks: two seq2seq processes
give what one gives, with batches that do not split evenly; a captioner trains on two processes (its
batch normalisation makes that another training than one process's) and its sharded evaluations
score as one process scores."""

import math
import random

import pytest
import torch
from safetensors.torch import load_file

from rnnlab.data.corpora import DataError
from rnnlab.runs import read_config, read_metrics
from tests.test_distributed_tasks import _run, _twice, rows_file

STEPS = ["--max-steps", "12", "--eval-every", "4"]


def _pair(i, rng):
    """Short letter strings and their reversals."""
    word = "".join(rng.choice("abcde") for _ in range(rng.randint(1, 6)))
    return f"{word}\t{word[::-1]}"


@pytest.mark.slow  # two short trainings in subprocesses, one on two processes
def test_seq2seq_on_two_processes_trains_and_scores_as_on_one(tmp_path):
    # 41 training pairs in batches of 5: the batches split 3 + 2, the last of a pass is one pair
    data = [
        rows_file(tmp_path / f"{s}.tsv", n, i, _pair, "source\ttarget")
        for i, (s, n) in enumerate((("t", 41), ("v", 11), ("e", 7)))
    ]
    files = ["--data", str(data[0]), "--val-data", str(data[1]), "--test-data", str(data[2]), "--tokens", "char"]
    small = ["--hidden-size", "8", "--embedding-size", "8", "--dropout", "0", "--max-length", "8", "--test-beam", "2"]
    one, two = _twice(tmp_path, ["train", "--task", "seq2seq", *files, "--batch-size", "5", *small, *STEPS])
    keys = ("val_loss", "val_bleu", "val_chrf", "val_exact")
    val = [[r[k] for r in read_metrics(run) for k in keys] for run in (one, two)]
    assert len(val[0]) == 12 and val[0] == pytest.approx(val[1], rel=1e-5)  # the sharded validation, exact


def _emoji_or_skip():
    """Skip unless the emoji set is at hand without a download."""
    from rnnlab.data.emoji import load_emoji

    def offline(*args):
        raise OSError("no download in the tests")

    try:
        load_emoji(16, downloader=offline)
    except (DataError, OSError) as e:
        pytest.skip(f"the emoji set is not cached ({e})")


CAPTION = [
    *("train", "--task", "caption", "--data", "emoji", "--image-size", "16", "--channels", "4,8,8"),
    *("--hidden-size", "8", "--embedding-size", "8", "--dropout", "0", "--batch-size", "5", "--select", "loss"),
    *("--eval-images", "21", "--test-beam", "1", "--max-length", "6", "--shown", "1", "--threads", "1", *STEPS),
]


@pytest.mark.slow  # two short trainings in subprocesses, one on two processes
def test_a_captioner_trains_on_two_processes_and_scores_as_one_process_would(tmp_path):
    _emoji_or_skip()
    one, two = tmp_path / "one", tmp_path / "two"
    _run([*CAPTION, "--out", str(one)], 1)
    _run([*CAPTION, "--out", str(two)], 2)
    records = [read_metrics(run) for run in (one, two)]
    assert [r["step"] for r in records[0]] == [r["step"] for r in records[1]] == [4, 8, 12]
    scores = [k for k in records[1][-1] if k.startswith("val_")]
    assert "val_loss" in scores and "val_bleu4" in scores
    assert all(math.isfinite(r[k]) for r in records[1] for k in scores)
    # the last weights of the two-process run, scored on this process alone: its sharded validation
    # loss and its gathered captions score as the whole set scored here (batch normalisation's
    # statistics recomputed from the training images alike on every process)
    from rnnlab.tasks.caption import CaptionTask

    task = CaptionTask.from_run(read_config(two, "caption"), 5, 1234)
    weights = {k[len("model.") :]: v for k, v in load_file(two / "last.safetensors").items() if k.startswith("model.")}
    task.model.load_state_dict(weights)
    task.model.eval()
    with torch.no_grad():
        here = task.evaluate()
    assert {k: here[k] for k in scores} == pytest.approx({k: records[1][-1][k] for k in scores}, rel=1e-6)


def _sharded_decoding(rank, rendezvous, out):
    """In process ``rank`` of two: greedy translations, captions and validation losses of untrained
    models (their outputs many and varied), sharded and gathered, against this process's own of all."""
    import torch.distributed as dist

    from rnnlab.data.tokenizer import Tokenizer
    from rnnlab.models.captioner import CaptionConfig, Captioner
    from rnnlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
    from rnnlab.tasks import caption, seq2seq
    from rnnlab.tasks.describer import Describer
    from rnnlab.tasks.translator import Translator
    from rnnlab.train.distributed import ALONE, World, current

    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    try:
        world = current()
        assert world == World(rank, 2)
        rng = random.Random(0)
        words = ["".join(rng.choice("abcdef") for _ in range(rng.randint(1, 7))) for _ in range(13)]
        pairs = [(w, w[::-1]) for w in words]
        tok = Tokenizer.train(words, "char")
        torch.manual_seed(0)
        cfg = Seq2SeqConfig(source_vocab=len(tok), target_vocab=len(tok), hidden_size=8, embedding_size=8, dropout=0)
        data = seq2seq.Seq2SeqDataConfig(data="x", max_length=9)
        translator = Translator(Seq2Seq(cfg).eval(), tok, tok, data)
        encoded = translator.encode_pairs(pairs, None)[0]
        found = {"translations": (seq2seq.greedy(translator, words, world), seq2seq.greedy(translator, words))}
        found["seq2seq loss"] = (translator.loss(encoded, world), translator.loss(encoded, ALONE))
        captions = [f"{a} {b}" for a, b in zip(words, reversed(words))]
        vocab = Tokenizer.train(captions, "word")
        model = Captioner(CaptionConfig(vocab_size=len(vocab), channels="4,8,8", hidden_size=8, embedding_size=8))
        images = torch.randint(0, 256, (len(captions), 3, 16, 16), dtype=torch.uint8)
        model.refresh_statistics([images])  # (the defaults give every image one caption)
        describer = Describer(model.eval(), vocab, 6)
        found["captions"] = (caption.greedy(describer, images, world), caption.greedy(describer, images))
        encoded = [(i, describer.encode(c)) for i, c in enumerate(captions)]
        found["caption loss"] = (describer.loss(images, encoded, world), describer.loss(images, encoded))
        torch.save(found, out / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two processes started here
def test_sharded_decoding_and_losses_are_those_of_one_process(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_sharded_decoding, args=(str(tmp_path / "rendezvous"), tmp_path), nprocs=2)
    for rank in range(2):
        found = torch.load(tmp_path / f"{rank}.pt")
        for what in ("translations", "captions"):
            sharded, alone = found[what]
            assert sharded == alone and len(alone) == 13, what
            assert len(set(alone)) > 1 and any(alone), what  # many outputs, not one and all empty
        for what in ("seq2seq loss", "caption loss"):
            assert found[what][0] == pytest.approx(found[what][1], rel=1e-6), what
