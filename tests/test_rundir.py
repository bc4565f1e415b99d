"""Run directories on a bad day: two trainings into one folder, --force on a user's folder, torn
records, leftovers of a kill, damaged checkpoints, a diverging training."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from rnnlab import checkpoint as ckpt
from rnnlab.cli import main
from rnnlab.fileio import append_jsonl, read_jsonl
from rnnlab.rundir import claim_run_dir, lock_run_dir, release_run_dir
from tests.cli_errors import one_line_error

TEXT = "".join(f"To be, or not to be: that is the question {i % 5}.\n" for i in range(80))
TINY = "--hidden-size 16 --embedding-size 8 --seq-len 16 --batch-size 4 --eval-every 5 --sample-chars 0".split()


def _train(tmp_path, out, *extra):
    (tmp_path / "text.txt").write_text(TEXT)
    return main(["train", "--data", str(tmp_path / "text.txt"), "--out", str(out), *TINY, *extra])


def _holder(out):
    """Another process that takes the run directory's lock and keeps it until killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from rnnlab.rundir import lock_run_dir
        lock_run_dir(Path({str(out)!r}))
        print("locked", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_training_into_a_locked_folder_is_refused_and_the_lock_dies_with_its_holder(tmp_path, capsys):
    out = tmp_path / "run"
    holder = _holder(out)
    try:
        assert _train(tmp_path, out, "--max-steps", "2") == 2
        one_line_error(capsys, "another rnnlab process", f"pid {holder.pid}", str(out))
        assert not (out / "config.json").exists()  # nothing written beside the other training
        with pytest.raises(ValueError, match="another rnnlab process"):
            claim_run_dir(out, ("config.json",), False, "")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert _train(tmp_path, out, "--max-steps", "2") == 0  # the kernel let go of the killed holder's lock


@pytest.mark.slow  # two subprocesses and a training
def test_a_lock_is_reentrant_in_one_process_and_released_after_a_run(tmp_path):
    out = tmp_path / "run"
    lock_run_dir(out)
    lock_run_dir(out)
    release_run_dir(out)
    holder = _holder(out)  # another process can take it now
    holder.kill()
    holder.wait()
    assert _train(tmp_path, out, "--max-steps", "2") == 0
    holder = _holder(out)  # the finished training released it
    holder.kill()
    holder.wait()


def test_leftover_temporary_files_of_a_killed_write_are_removed(tmp_path):
    out = tmp_path / "run"
    assert _train(tmp_path, out, "--max-steps", "5") == 0
    (out / ".last.safetensors.x1y2.tmp").write_bytes(b"\0" * 1000)
    assert main(["train", "--resume", str(out), "--max-steps", "7"]) == 0
    assert not list(out.glob(".*.tmp"))


def test_force_replaces_a_run_but_never_a_user_s_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    files = {"config.json": '{"my": "settings"}', "results.json": "[1, 2]", "loss.png": "my plot"}
    for name, text in files.items():
        (mine / name).write_text(text)
    assert _train(tmp_path, mine, "--max-steps", "2", "--force") == 2
    one_line_error(capsys, "rnnlab did not write", "config.json")
    assert {name: (mine / name).read_text() for name in files} == files
    run = tmp_path / "run"
    assert _train(tmp_path, run, "--max-steps", "2") == 0
    assert _train(tmp_path, run, "--max-steps", "3", "--force") == 0
    assert read_jsonl(run / "metrics.jsonl")[-1]["step"] == 3


def test_read_jsonl_drops_a_torn_last_line_and_names_a_bad_one(tmp_path):
    path = tmp_path / "m.jsonl"
    append_jsonl(path, {"step": 1, "loss": float("nan")})
    append_jsonl(path, {"step": 2})
    with open(path, "a") as f:
        f.write('{"step": 3, "val_lo')
    assert read_jsonl(path) == [{"step": 1, "loss": None}, {"step": 2}]
    path.write_text('{"step": 1}\n[1, 2]\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"m.jsonl: line 2 is not a JSON object"):
        read_jsonl(path)
    path.write_text('{"step": 1}\n{"step": 2, "va\n{"step": 3}\n')  # torn in the middle: not a kill's trace
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(path)
    assert read_jsonl(tmp_path / "none.jsonl") == []


@pytest.mark.slow  # a training and four resumes
def test_resume_cuts_a_torn_metrics_line_and_a_finished_run_adds_no_record(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tmp_path, out, "--max-steps", "10") == 0
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 15, "elapsed_s": 1.2, "train_loss": 3.1, "val_lo')
    assert main(["train", "--resume", str(out), "--max-steps", "12"]) == 0
    steps = [r["step"] for r in read_jsonl(out / "metrics.jsonl")]
    assert steps == [5, 10, 12]
    assert (out / "metrics.jsonl").read_text().endswith("}\n")
    for _ in range(2):  # nothing left to do: no new record
        assert main(["train", "--resume", str(out), "--max-steps", "12"]) == 0
        assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == steps
    (out / "metrics.jsonl").write_text('{"step": 5}\n"not an object"\n{"step": 10}\n')
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--max-steps", "14"]) == 2
    one_line_error(capsys, "metrics.jsonl: line 2 is not a JSON object")


def test_a_checkpoint_with_overwritten_bytes_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tmp_path, out, "--max-steps", "5") == 0
    for name in ("last.safetensors", "model.safetensors"):
        data = bytearray((out / name).read_bytes())
        n = int.from_bytes(data[:8], "little")
        assert json.loads(data[8 : 8 + n])["__metadata__"][ckpt.DIGEST]
        data[8 + n + 100] ^= 0x40  # one bit of one weight: the file still parses
        (out / name).write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--max-steps", "7"]) == 2
    one_line_error(capsys, "last.safetensors: damaged", "SHA-256")
    assert main(["sample", str(out), "--length", "5"]) == 2
    one_line_error(capsys, "model.safetensors: damaged")


def test_checkpoints_with_a_digest_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    ckpt.save_weights(tmp_path / "w.safetensors", model, {"step": 4})
    other = torch.nn.Linear(3, 2)
    assert ckpt.load_weights(tmp_path / "w.safetensors", other) == {"step": 4}
    torch.testing.assert_close(other.weight, model.weight, rtol=0, atol=0)


def test_a_diverging_training_stops_keeps_finite_checkpoints_and_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--max-steps", "60", "--optimizer", "sgd", "--lr", "1e30", "--clip-norm", "0"]
    assert _train(tmp_path, out, *argv, "--spike-factor", "0") == 1  # the loss grows until it is not finite
    said = capsys.readouterr().out
    assert "diverged at step" in said and f"go on with --resume {out} --lr 5e+29 (or --clip-norm 1)" in said, said
    for name in ("last.safetensors", "model.safetensors"):
        tensors, _ = ckpt.read_tensors(out / name)  # both written at the evaluations before it diverged
        assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()), name


@pytest.mark.parametrize("edit", ["vocabulary", "seq_len"])
def test_a_config_edited_to_no_longer_fit_its_model_is_one_line(tmp_path, capsys, edit):
    out = tmp_path / "run"
    assert _train(tmp_path, out, "--max-steps", "5") == 0
    config = json.loads((out / "config.json").read_text())
    if edit == "vocabulary":
        config["tables"]["vocab"]["chars"] = config["tables"]["vocab"]["chars"][:5]  # shorter than the model's readout
    else:
        config["data"]["seq_len"] = None
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    fragment = "vocabulary: 5 entries for a model of" if edit == "vocabulary" else "seq_len: expected an integer"
    for command in (["sample", str(out), "--length", "20"], ["eval", str(out)], ["train", "--resume", str(out)]):
        assert main(command) == 2
        one_line_error(capsys, "config.json is damaged", fragment)


@pytest.mark.slow  # three trainings
def test_a_run_killed_before_it_saved_anything_is_started_again_without_force(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tmp_path, out, "--max-steps", "5") == 0
    for name in ("last.safetensors", "model.safetensors", "metrics.jsonl"):
        (out / name).unlink()  # what a kill during the first evaluation or the build leaves: config.json
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 2
    one_line_error(capsys, "saved nothing: start it again")
    assert _train(tmp_path, out, "--max-steps", "5") == 0
    assert (out / "last.safetensors").exists()
    assert _train(tmp_path, out, "--max-steps", "5") == 2  # a run that saved weights is kept
    one_line_error(capsys, "already holds a run")


def test_weights_made_non_finite_by_a_step_are_never_checkpointed(tmp_path):
    from rnnlab.models.language_model import ModelConfig
    from rnnlab.tasks.lm import LanguageModelTask, LMDataConfig
    from rnnlab.train import OptimConfig, RunConfig, Trainer

    (tmp_path / "text.txt").write_text(TEXT)
    data = LMDataConfig(data=str(tmp_path / "text.txt"), seq_len=16, sample_chars=0)
    run = RunConfig(eval_every=5, max_steps=20, time_budget="")
    task = LanguageModelTask(ModelConfig(hidden_size=16, embedding_size=8), data, 4, run.seed)
    trainer = Trainer(task, tmp_path / "run", OptimConfig(batch_size=4), run)
    step = trainer._step

    def poisoned(lr):  # at step 7 the step itself leaves an infinite weight, with a finite loss and gradient
        result = step(lr)
        if trainer.state.step == 7:
            with torch.no_grad():
                trainer.task.model.readout.weight[0, 0] = float("inf")
        return result

    trainer._step = poisoned
    summary = trainer.run()
    assert summary["diverged"] and summary["final"]["step"] == 5
    tensors, meta = ckpt.read_tensors(tmp_path / "run" / "last.safetensors")
    assert json.loads(meta["trainer"])["step"] == 5
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl")] == [5]
