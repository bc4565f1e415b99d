"""``rnnlab train --task caption``, ``rnnlab caption``, ``eval`` and ``inspect`` of a caption run on a
tiny folder of drawn shapes, and the bad input each refuses with one line and exit status 2,
writing nothing."""

import contextlib
import io
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from rnnlab.cli import main
from rnnlab.tasks.caption import CaptionTask

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60)}
PNG = b"\x89PNG\r\n\x1a\n"
TINY = [
    *("--image-size", "32", "--hidden-size", "32", "--embedding-size", "16", "--channels", "8,16,16"),
    *("--threads", "1", "--test-beam", "1", "--max-length", "6", "--eval-images", "5", "--shown", "1"),
]


def _draw(path: Path, colour: str, shape: str, shift: int = 0) -> None:
    image = Image.new("RGB", (32, 32), (255, 255, 255))
    box = (4 + shift, 4 + shift, 24 + shift, 24 + shift)
    draw = ImageDraw.Draw(image)
    (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=COLOURS[colour])
    image.save(path)


def _examples(n: int) -> list[tuple[str, list[str]]]:
    """``(file name, two captions)`` of ``n`` images of coloured squares and circles."""
    rows = []
    for k in range(n):
        colour, shape = list(COLOURS)[k % 3], "square" if k % 2 else "circle"
        rows.append((f"im{k:02d}.png", [f"a {colour} {shape}", f"there is a {colour} {shape}"]))
    return rows


def make_folder(root: Path, n: int = 40, coco: bool = False) -> Path:
    """A Flickr8k-like folder (``captions.txt``, ``Images/``) or a COCO-like one (``captions.json``)."""
    (root / "Images").mkdir(parents=True)
    rows = _examples(n)
    for k, (name, captions) in enumerate(rows):
        _draw(root / "Images" / name, captions[0].split()[1], captions[0].split()[2], k % 5)
    if coco:
        images = [{"id": k, "file_name": name} for k, (name, _) in enumerate(rows)]
        notes = [{"image_id": k, "caption": c} for k, (_, cs) in enumerate(rows) for c in cs]
        (root / "captions.json").write_text(json.dumps({"images": images, "annotations": notes}))
    else:
        lines = ["image,caption", *(f"{name},{c}" for name, cs in rows for c in cs)]
        (root / "captions.txt").write_text("\n".join(lines) + "\n")
    return root


def train(data: Path, out: Path, *flags: str) -> int:
    argv = ["train", "--task", "caption", "--data", str(data), "--out", str(out), *TINY, *flags]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A soft-attention run and a Show and Tell run (``--attention none``) of a few steps each."""
    root = tmp_path_factory.mktemp("caption-cli")
    data = make_folder(root / "shapes")
    soft, plain = root / "soft", root / "plain"
    assert train(data, soft, "--max-steps", "4", "--eval-every", "2") == 0
    assert train(data, plain, "--max-steps", "2", "--eval-every", "2", "--attention", "none") == 0
    return root, data, soft, plain


def _ok(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().out


def _refused(capsys, argv, *words) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, captured.err
    assert not captured.out, captured.out
    for w in words:
        assert w in err, err
    return err


def test_training_writes_a_run(runs):
    _, _, soft, _ = runs
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "results.json", "loss.png"):
        assert (soft / name).is_file(), name
    records = [json.loads(line) for line in (soft / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert all("val_bleu4" in r and r["images_per_s"] > 0 for r in records)
    results = json.loads((soft / "results.json").read_text())
    assert "bleu4" in results["test"] and results["sizes"]["test"] == 4


def test_caption_prints_path_tab_caption(runs, tmp_path, capsys):
    _, data, soft, _ = runs
    image = data / "Images" / "im00.png"
    lines = _ok(capsys, ["caption", str(soft), str(image), str(image)]).splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    path, caption = lines[0].split("\t")
    assert path == str(image) and caption.strip()
    ranked = _ok(capsys, ["caption", str(soft), str(image), "--nbest", "3", "--beam", "3"]).splitlines()
    assert len(ranked) == 3 and [line.split("\t")[1] for line in ranked] == ["1", "2", "3"]
    log_probs = [float(line.split("\t")[2]) for line in ranked]
    assert all(p < 0 for p in log_probs)
    rows = json.loads(_ok(capsys, ["caption", str(soft), str(image), "--nbest", "2", "--json"]))
    assert rows[0]["image"] == str(image) and len(rows[0]["captions"]) == 2
    assert rows[0]["captions"][0]["score"] >= rows[0]["captions"][1]["score"]
    att = tmp_path / "att.png"
    _ok(capsys, ["caption", str(soft), str(image), "--attention", str(att)])
    assert att.read_bytes()[:8] == PNG


def test_images_of_other_modes_and_sizes(runs, tmp_path, capsys):
    _, data, soft, _ = runs
    source = Image.open(data / "Images" / "im01.png")
    paths = []
    for name, image in [
        ("grey.png", source.convert("L")),
        ("palette.png", source.convert("P")),
        ("alpha.png", source.convert("RGBA")),
        ("photo.jpg", source),
        ("wide.png", source.resize((90, 50))),
    ]:
        image.save(tmp_path / name)
        paths.append(str(tmp_path / name))
    lines = _ok(capsys, ["caption", str(soft), *paths]).splitlines()
    assert [line.split("\t")[0] for line in lines] == paths


def test_eval_and_inspect(runs, capsys):
    _, _, soft, _ = runs
    result = json.loads(_ok(capsys, ["eval", str(soft), "--split", "test"]))
    assert result["split"] == "test" and 0 <= result["bleu4"] <= 100
    report = json.loads(_ok(capsys, ["inspect", str(soft)]))
    assert report["task"] == "caption" and report["grid"] == [4, 4]
    assert "red" in report["vocabulary"]["first"] and report["vocabulary"]["words"] >= 10


def test_attention_figure_refused_without_attention(runs, tmp_path, capsys):
    _, data, _, plain = runs
    image = str(data / "Images" / "im00.png")
    assert _ok(capsys, ["caption", str(plain), image]).startswith(image + "\t")
    _refused(capsys, ["caption", str(plain), image, "--attention", str(tmp_path / "a.png")], "--attention none")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow  # three short trainings
def test_a_coco_folder_and_exact_resume(tmp_path):
    data = make_folder(tmp_path / "coco", 30, coco=True)
    half, whole = tmp_path / "half", tmp_path / "whole"
    flags = ("--eval-every", "3", "--batch-size", "8")
    assert train(data, half, "--max-steps", "3", *flags) == 0
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--resume", str(half), "--max-steps", "6"]) == 0
    assert train(data, whole, "--max-steps", "6", *flags) == 0

    def last(out):
        return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])

    a, b = last(half), last(whole)
    assert a["step"] == b["step"] == 6
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
    assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)


# ------------------------------------------------------------------------------ bad input
def test_unreadable_images_are_named(runs, tmp_path, capsys):
    _, data, soft, _ = runs
    good = data / "Images" / "im00.png"
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:100])
    att = tmp_path / "att.png"
    _refused(capsys, ["caption", str(soft), str(good), str(tmp_path / "junk.png")], "junk.png", "not an image")
    _refused(capsys, ["caption", str(soft), str(tmp_path / "cut.png"), "--attention", str(att)], "cut.png", "truncated")
    _refused(capsys, ["caption", str(soft), str(tmp_path / "none.png")], "none.png")
    assert not att.exists()


def _broken_folder(root: Path, how: str) -> Path:
    folder = make_folder(root / how, 12)
    images, captions = folder / "Images", folder / "captions.txt"
    if how == "junk":
        (images / "im03.png").write_bytes(b"\x00junk")
    elif how == "truncated":
        (images / "im03.png").write_bytes((images / "im03.png").read_bytes()[:100])
    elif how == "missing":
        (images / "im03.png").unlink()
    elif how == "uncaptioned":
        _draw(images / "extra.png", "red", "square")
    elif how == "empty-caption":
        captions.write_text(captions.read_text() + "im03.png,   \n")
    elif how == "no-images":
        for p in images.iterdir():
            p.unlink()
    return folder


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("junk", ("im03.png", "not an image")),
        ("truncated", ("im03.png", "truncated")),
        ("missing", ("im03.png", "not in")),
        ("uncaptioned", ("extra.png", "no caption")),
        ("empty-caption", ("line 26", "empty caption")),
        ("no-images", ("holds no images",)),
    ],
)
def test_bad_training_folders(tmp_path, capsys, how, words):
    folder = _broken_folder(tmp_path, how)
    out = tmp_path / "out"
    argv = ["train", "--task", "caption", "--data", str(folder), "--out", str(out), *TINY, "--max-steps", "1"]
    _refused(capsys, argv, *words)
    assert not out.exists()


def test_bad_flags(runs, tmp_path, capsys):
    _, data, soft, _ = runs
    image = str(data / "Images" / "im00.png")
    att = tmp_path / "att.png"
    caption = ["caption", str(soft), image]
    _refused(capsys, [*caption, "--attention", str(tmp_path / "no" / "a.png")], "not an existing folder")
    _refused(capsys, [*caption, "--attention", str(tmp_path / "a.jpg")], ".png")
    _refused(capsys, [*caption, "--beam", "0", "--attention", str(att)], "--beam")
    _refused(capsys, [*caption, "--nbest", "4", "--beam", "3"], "--nbest 4")
    _refused(capsys, [*caption, "--temperature", "1", "--beam", "3"], "--temperature")
    _refused(capsys, ["caption", str(soft)], "nothing to caption")
    _refused(capsys, ["eval", str(soft), "--split", "test_heldout"], "test_heldout")
    assert not list(tmp_path.iterdir())
    out = tmp_path / "out"
    train = ["train", "--task", "caption", "--out", str(out), "--max-steps", "1"]
    _refused(capsys, train, "--data")
    _refused(capsys, [*train, "--data", str(data), "--image-size", "8"], "image_size", "8")
    _refused(capsys, [*train, "--data", str(data), "--image-size", "36"], "image_size", "multiple of 8")
    assert not out.exists()
    listed = tmp_path / "list.txt"
    listed.write_text(f"  {data / 'Images' / 'im00.png'}  \n{tmp_path / 'gone.png'}\n")
    _refused(capsys, ["caption", str(soft), "--file", str(listed)], f"--file {listed}", "gone.png does not exist")
    _refused(capsys, ["caption", str(soft), str(tmp_path)], "is a folder")
    listed.unlink()


def test_caption_refuses_a_run_of_another_kind(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat.\n" * 80)
    lm = tmp_path / "lm"
    argv = ["train", "--data", str(corpus), "--out", str(lm), "--max-steps", "2", "--hidden-size", "8"]
    argv += ["--embedding-size", "4", "--seq-len", "8", "--batch-size", "2", "--sample-chars", "0", "--threads", "1"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    image = tmp_path / "a.png"
    _draw(image, "red", "square")
    _refused(capsys, ["caption", str(lm), str(image)], "lm")


def test_emoji_without_npm_says_so(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    argv = ["train", "--task", "caption", "--data", "emoji", "--out", str(out), *TINY, "--max-steps", "1"]
    _refused(capsys, argv, "npm")
    assert not out.exists()


def test_attention_figure_of_an_empty_caption(runs, tmp_path, capsys, monkeypatch):
    from rnnlab import decode

    def nothing(model, images, lengths, **kwargs):  # a model that ends every caption at once
        return [[decode.Hypothesis([], -0.1, -0.1, torch.zeros(0, 16))] for _ in range(images.shape[0])]

    _, data, soft, _ = runs
    monkeypatch.setattr(decode, "beam_search", nothing)
    att = tmp_path / "att.png"
    line = _ok(capsys, ["caption", str(soft), str(data / "Images" / "im00.png"), "--attention", str(att)])
    assert line.endswith("\t\n") and att.read_bytes()[:8] == PNG


@pytest.mark.slow  # a training interrupted, then resumed
def test_ctrl_c_saves_and_the_run_resumes(tmp_path, monkeypatch):
    data = make_folder(tmp_path / "shapes", 20)
    out = tmp_path / "run"
    loss, calls = CaptionTask.loss, []

    def interrupted(self, batch):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during the third step
        return loss(self, batch)

    monkeypatch.setattr(CaptionTask, "loss", interrupted)
    assert train(data, out, "--max-steps", "50", "--eval-every", "2") == 130
    monkeypatch.setattr(CaptionTask, "loss", loss)
    results = json.loads((out / "results.json").read_text())
    assert results["interrupted"] and (out / "model.safetensors").is_file()
    stopped = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    assert stopped == 3
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--resume", str(out), "--max-steps", "6"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert not results["interrupted"] and results["steps"] == 6 and "bleu4" in results["test"]


def test_a_damaged_image_size_is_one_line(runs, tmp_path, capsys):
    _, data, soft, _ = runs
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("config.json", "model.safetensors", "last.safetensors"):
        (damaged / name).write_bytes((soft / name).read_bytes())
    config = json.loads((damaged / "config.json").read_text())
    config["data"]["image_size"] = 4
    (damaged / "config.json").write_text(json.dumps(config))
    image = str(data / "Images" / "im00.png")
    for argv in (["caption", str(damaged), image], ["eval", str(damaged)], ["inspect", str(damaged)]):
        _refused(capsys, argv, "config.json is damaged", "image_size")


@pytest.mark.parametrize("kind", ["caption", "seq2seq"])
def test_the_closing_hint_offers_the_attention_figure_only_where_the_model_attends(kind):
    from types import SimpleNamespace

    from rnnlab.commands.reports import next_step

    def model(attention):
        return SimpleNamespace(config=SimpleNamespace(attention=attention))

    assert "--attention att.png" in next_step(kind, Path("runs/x"), model("additive"))
    plain = next_step(kind, Path("runs/x"), model("none"))
    assert "--attention" not in plain and plain.endswith("runs/x image.png" if kind == "caption" else '"a sentence"')
