"""Building the compiled BPTT loops on a bad day: a killed build, a build running elsewhere, two
checkouts sharing one environment."""

import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from rnnlab.bptt import native


@pytest.fixture
def fake_build(tmp_path, monkeypatch):
    """A build folder in ``tmp_path`` and a stand-in for PyTorch's builder that records its calls,
    writes a library and, like it, would wait forever on a lock file left in its folder."""
    monkeypatch.setenv("RNNLAB_BUILD_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "cpu_flags", lambda: ["-O3"])
    calls = []

    def load(name, sources, build_directory, **kwargs):
        folder = Path(build_directory)
        assert not (folder / "lock").exists(), "PyTorch's builder would wait on this lock forever"
        assert not list(folder.glob("*.so")) and not list(folder.glob("*.o")), "a killed build's output reused"
        assert all(Path(s).read_bytes() == (native.CSRC / Path(s).name).read_bytes() for s in sources)
        (folder / f"{name}.so").write_bytes(b"library")
        calls.append({"name": name, "folder": folder})
        return types.SimpleNamespace(name=name)

    import torch.utils.cpp_extension

    monkeypatch.setattr(torch.utils.cpp_extension, "load", load)
    monkeypatch.setattr(native, "_import", lambda build, name: types.SimpleNamespace(name=name, imported=True))
    return calls


def test_a_build_killed_midway_is_not_reused_and_is_done_again(fake_build):
    build, name = native.build_dir(native.cpu_flags())
    killed = build / "attempt-killed"
    killed.mkdir(parents=True)
    (killed / "lock").write_text("")  # what PyTorch's builder leaves when killed
    (killed / f"{name}.so").write_bytes(b"\x7fELF truncated")
    (killed / "module.o").write_bytes(b"half")
    module = native._build()
    assert module.name == name and len(fake_build) == 1 and fake_build[0]["folder"] != killed
    assert (build / native.DONE).exists() and (build / f"{name}.so").read_bytes() == b"library"
    assert not killed.exists() and not list(build.glob("attempt-*"))
    again = native._build()  # done: loaded, not built again
    assert again.imported and len(fake_build) == 1


def test_a_library_without_done_is_never_loaded(fake_build):
    build, name = native.build_dir(native.cpu_flags())
    build.mkdir(parents=True)
    (build / f"{name}.so").write_bytes(b"\x7fELF truncated")  # moved in, killed before 'done'
    assert not native._build().__dict__.get("imported") and len(fake_build) == 1
    assert (build / f"{name}.so").read_bytes() == b"library"


def test_two_checkouts_sharing_an_environment_share_one_build(fake_build, tmp_path, monkeypatch):
    folders = []
    for k in (1, 2):
        copy = tmp_path / f"checkout{k}" / "csrc"
        shutil.copytree(native.CSRC, copy)
        monkeypatch.setattr(native, "CSRC", copy)
        folders.append(native.build_dir(native.cpu_flags())[0])
        native._build()
    assert folders[0] == folders[1]
    assert len(fake_build) == 1  # the second checkout loads the first one's build


def test_the_lock_waits_for_a_live_builder_and_not_for_a_dead_one(tmp_path):
    lock = tmp_path / native.LOCK
    code = (
        f"import fcntl, os, time; fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert native._lock(lock, 0.3) is None  # held by a live process: waited for (here, briefly)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        fd = native._lock(lock, 600)  # its holder died: the kernel released it
        assert fd is not None
        os.close(fd)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
@pytest.mark.skipif(native.cpu_flags() is None or shutil.which("c++") is None, reason="no AVX2 or no compiler")
def test_a_real_build_killed_midway_does_not_hang_the_next(tmp_path):
    env = {**os.environ, "RNNLAB_BUILD_DIR": str(tmp_path / "cache"), "RNNLAB_NATIVE": "1"}
    command = [sys.executable, "-m", "rnnlab.bptt.build"]
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert "compiling" in first.stderr.readline()
    time.sleep(5)  # into the compiler
    os.killpg(first.pid, signal.SIGKILL)  # the builder and its compilers, as a closed terminal would
    first.wait()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0 and "ready in" in done.stdout, done.stderr
    assert list((tmp_path / "cache").glob("native-*/done"))


@pytest.mark.slow  # sleeps through a stand-in build, then trains for a 2 s budget
def test_a_first_build_is_not_paid_from_the_time_budget(tmp_path, monkeypatch):
    from rnnlab.models.language_model import ModelConfig
    from rnnlab.tasks.lm import LanguageModelTask, LMDataConfig
    from rnnlab.train import OptimConfig, RunConfig, Trainer

    builds = []

    def slow_build():  # a first build: longer than the whole budget (then the PyTorch loops run)
        builds.append(time.monotonic())
        time.sleep(3)

    monkeypatch.setattr(native, "_build", slow_build)
    monkeypatch.setattr(native, "_built", [])
    (tmp_path / "text.txt").write_text("To be, or not to be: that is the question.\n" * 40)
    data = LMDataConfig(data=str(tmp_path / "text.txt"), seq_len=16, sample_chars=0)
    # every step records gradient flow: the loops' path
    run = RunConfig(time_budget="2s", telemetry_every=1, eval_every=1000)
    task = LanguageModelTask(ModelConfig(hidden_size=16, embedding_size=8), data, 4, run.seed)
    summary = Trainer(task, tmp_path / "run", OptimConfig(batch_size=4), run).run()
    # built inside the budget, the first step would take the whole of it (a tiny step takes milliseconds)
    assert len(builds) == 1 and summary["steps"] >= 2


def test_rnnlab_build_builds_once_and_check_tells(fake_build, monkeypatch, capsys):
    from rnnlab.cli import main

    monkeypatch.setattr(native, "_built", [])
    assert main(["build", "--check"]) == 1  # nothing built yet, and --check builds nothing
    assert "not built" in capsys.readouterr().out and not fake_build
    assert main(["build"]) == 0
    assert "ready in" in capsys.readouterr().out and len(fake_build) == 1
    assert main(["build", "--check"]) == 0 and "ready in" in capsys.readouterr().out
    assert main(["build"]) == 0 and len(fake_build) == 1  # built: not again


def test_rnnlab_build_says_in_one_line_why_it_failed(tmp_path, monkeypatch, capsys):
    from rnnlab.cli import main

    monkeypatch.setenv("RNNLAB_BUILD_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "cpu_flags", lambda: ["-O3"])
    monkeypatch.setattr(native, "_built", [])

    def broken(**kwargs):
        raise RuntimeError("c++: command not found\nmore lines")

    import torch.utils.cpp_extension

    monkeypatch.setattr(torch.utils.cpp_extension, "load", broken)
    assert main(["build"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rnnlab: the compiled loops could not be built") and "c++: command not found" in err[-1]
    assert not list((tmp_path / "cache").glob("native-*/done"))


def test_rnnlab_build_where_the_loops_do_not_apply(monkeypatch, capsys):
    from rnnlab.cli import main

    monkeypatch.setattr(native, "enabled", False)
    assert main(["build"]) == 0 and "RNNLAB_NATIVE=0" in capsys.readouterr().out
    assert main(["build", "--check"]) == 0
