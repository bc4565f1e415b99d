"""Bad input to ``rnnlab train --task seq2seq``, ``rnnlab translate`` and ``rnnlab eval``: one line on
stderr, exit status 2, nothing written; and the note of texts cut at ``--max-length``, given once."""

import contextlib
import io
import shutil

import pytest

from rnnlab.cli import main
from rnnlab.tasks import translator

WORDS = ["red", "blue", "green", "cat", "dog", "sun"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run trained on 2 to 5 words with ``--max-length 3``, and what training said on stderr."""
    root = tmp_path_factory.mktemp("s2s-errors")
    rows = [WORDS[i % 6 : i % 6 + 2 + i % 4] for i in range(60)]
    tsv = root / "pairs.tsv"
    tsv.write_text("source\ttarget\n" + "".join(f"{' '.join(w)}\t{' '.join(w[::-1])}\n" for w in rows))
    out = root / "run"
    argv = [
        *("train", "--task", "seq2seq", "--data", str(tsv), "--out", str(out), "--tokens", "word"),
        *("--hidden-size", "16", "--embedding-size", "8", "--max-steps", "4", "--eval-every", "2"),
        *("--eval-sentences", "3", "--test-beam", "1", "--max-length", "3"),
    ]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    return root, tsv, out, err.getvalue()


def _refused(capsys, argv, *words):
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and not captured.out
    for w in words:
        assert w in err, err
    return err


def test_training_notes_cut_pairs_once(run):
    notes = [line for line in run[3].splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "--max-length 3" in notes[0], run[3]


def test_translate_notes_cut_texts_once(run, capsys):
    capsys.readouterr()
    assert main(["translate", str(run[2]), "red cat sun dog", "blue green cat sun dog", "red", "--beam", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "note: 2 text(s) longer than 3 tokens were cut"
    assert len(captured.out.splitlines()) == 3


def test_sampling_flags_need_a_temperature(run, capsys):
    out = str(run[2])
    _refused(capsys, ["translate", out, "red", "--top-k", "3"], "--top-k", "--temperature")
    _refused(capsys, ["translate", out, "red", "--top-p", "0.5"], "--top-p", "--temperature")


def test_attention_figure_needs_a_folder(run, tmp_path, capsys):
    out = str(run[2])
    missing = str(tmp_path / "no" / "a.png")
    _refused(capsys, ["translate", out, "red", "--attention", missing], "is not an existing folder")
    (tmp_path / "d.png").mkdir()
    _refused(capsys, ["translate", out, "red", "--attention", str(tmp_path / "d.png")], "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png"] and not any((tmp_path / "d.png").iterdir())


@pytest.mark.parametrize("command", ["translate", "eval"])
def test_a_beam_too_wide_for_memory_is_refused(run, capsys, command):
    argv = [command, str(run[2]), *(["red"] if command == "translate" else []), "--beam", "100000000"]
    _refused(capsys, argv, "100000000 beam(s)", "of memory", "this machine has")


def test_a_failed_allocation_while_decoding_is_one_line(run, capsys, monkeypatch):
    def greedy(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 2400000000 bytes.")

    monkeypatch.setattr(translator.decode, "greedy", greedy)
    _refused(capsys, ["translate", str(run[2]), "red", "--beam", "1"], "decoding ran out of memory", "2.4 GB")


def test_wide_searches_decode_fewer_texts_at_a_time(run, capsys, monkeypatch):
    texts = ["red cat", "blue", "green dog sun", "cat red", "sun"]
    outputs = []
    for budget in (translator.BATCH_BYTES, 1):  # 1 byte: one text a batch
        monkeypatch.setattr(translator, "BATCH_BYTES", budget)
        capsys.readouterr()
        assert main(["translate", str(run[2]), *texts, "--beam", "3", "--nbest", "2"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 2 * len(texts)


def test_same_source_and_target_column(run, tmp_path, capsys):
    argv = ["train", "--task", "seq2seq", "--data", str(run[1]), "--out", str(tmp_path / "o"), "--max-steps", "1"]
    _refused(capsys, [*argv, "--target-column", "source"], "target_column", "'source'")
    assert not (tmp_path / "o").exists()


def test_resume_under_another_task(run, capsys):
    config = (run[2] / "config.json").read_bytes()
    _refused(capsys, ["train", "--task", "tag", "--resume", str(run[2])], "--task tag", "seq2seq run")
    assert (run[2] / "config.json").read_bytes() == config


def test_a_run_without_weights_or_with_damaged_ones(run, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run[2] / "config.json", bare)
    for command in (["translate", str(bare), "red"], ["eval", str(bare)]):
        _refused(capsys, command, "has no", "safetensors")
    (bare / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    for command in (["translate", str(bare), "red"], ["eval", str(bare)]):
        _refused(capsys, command, "model.safetensors", "damaged")
