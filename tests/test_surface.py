"""Error surfaces: the linear unit's cliff, the tanh unit's grid and descent paths, ``rnnlab surface``."""

import json
import math

import pytest
import torch

from rnnlab.cli import main
from rnnlab.diagnose import surface as S

F64 = torch.float64


# --------------------------------------------------------------------------- the linear unit


@pytest.mark.parametrize("steps", [2, 7, 1000])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_linear_autograd_equals_closed_form(steps, target):
    w = torch.tensor([0.5, 0.9, 0.99, 1.0, 1.005, 1.01], dtype=F64)
    auto = S.linear_surface(w, steps, target)
    for i, wi in enumerate(w.tolist()):  # the chain rule written out in plain floats
        y = wi ** (steps - 1)
        assert auto["y"][i].item() == pytest.approx(y, rel=1e-12)
        assert auto["loss"][i].item() == pytest.approx((y - target) ** 2, rel=1e-12, abs=1e-300)
        grad = 2 * (y - target) * (steps - 1) * wi ** (steps - 2)
        assert auto["grad"][i].item() == pytest.approx(grad, rel=1e-10, abs=1e-300)
    closed = S.linear_closed_form(w, steps, target)
    torch.testing.assert_close(auto["grad"], closed["grad"], rtol=1e-10, atol=0)


def test_linear_unit_runs_the_recurrence_with_the_input_once():
    # T = 1 is the input itself; w = 0 kills it at every later step; w = -1 flips the sign each step
    w = torch.tensor([0.0, -1.0, 2.0], dtype=F64)
    assert S.linear_unit_output(w, 1).tolist() == [1.0, 1.0, 1.0]
    assert S.linear_unit_output(w, 4).tolist() == [0.0, -1.0, 8.0]


def test_the_cliff_has_the_notes_numbers():
    summary = S.linear_summary(1000, target=1.0)
    at = {p["w"]: p for p in summary["points"]}
    assert at[1.0]["y_T"] == 1.0 and at[1.0]["loss"] == 0.0 and at[1.0]["grad"] == 0.0
    assert 1.9e4 < at[1.01]["y_T"] < 2.2e4  # "w: 1 -> 1.01, y: 1 -> 20000"
    assert at[0.99]["y_T"] < 1e-4
    # the wall: the gradient at 1.01 is more than ten orders of magnitude larger than at 0.99
    assert abs(at[1.01]["grad"]) > 1e10 * abs(at[0.99]["grad"]) > 0
    assert summary["grad_ratio_1.01_over_0.99"] == pytest.approx(abs(at[1.01]["grad"] / at[0.99]["grad"]))
    # the plain: from 0.5 to 0.98 the loss hardly moves and the gradient is tiny
    plain = S.linear_surface(torch.linspace(0.5, 0.98, 50, dtype=F64), 1000, 1.0)
    assert (plain["loss"] - 1).abs().max() < 1e-8 and plain["grad"].abs().max() < 1e-5


def test_linear_w_range_is_finite_and_contains_the_notes_points():
    for steps in (2, 3, 50, 1000, 10_000):
        lo, hi = S.linear_w_range(steps)
        assert lo <= 0.99 and hi >= 1.01
        curve = S.linear_surface(torch.linspace(lo, hi, 101, dtype=F64), steps)
        assert torch.isfinite(curve["loss"]).all() and torch.isfinite(curve["grad"]).all()


# --------------------------------------------------------------------------- the tanh unit


def _direct_loss(w: float, b: float, unit: S.TanhUnit) -> float:
    x = unit.x0
    for _ in range(unit.steps):
        x = w * math.tanh(x) + b
    return (x - unit.target) ** 2


def test_grid_loss_equals_a_direct_unrolled_computation():
    unit = S.TanhUnit()
    w, b, loss = S.loss_grid(unit, (-1.0, 4.0), (-2.0, 1.5), 9)
    assert w.shape == (9,) and b.shape == (9,) and loss.shape == (9, 9) and loss.dtype == F64
    for i, j in [(0, 0), (3, 7), (8, 2), (5, 5), (8, 8)]:  # loss is indexed [b, w]
        assert loss[i, j].item() == pytest.approx(_direct_loss(w[j].item(), b[i].item(), unit), rel=1e-12)


def test_the_wall_is_the_saddle_node_curve():
    unit = S.TanhUnit()
    for w in (1.5, 2.0, 3.0, 4.0):
        fold = S.fold_bias(torch.tensor(w, dtype=F64)).item()
        above = unit.output(torch.tensor(w, dtype=F64), torch.tensor(fold + 0.05, dtype=F64)).item()
        below = unit.output(torch.tensor(w, dtype=F64), torch.tensor(fold - 0.05, dtype=F64)).item()
        assert above > 0.5 and below < -1.0  # x_T jumps between the two fixed points across the curve
    assert math.isnan(S.fold_bias(torch.tensor(0.9)).item())


def test_one_step_of_each_kind_of_clipping():
    unit, p = S.TanhUnit(), torch.tensor([3.0, -1.0], dtype=F64)
    q = p.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(unit.loss(q[0], q[1]), q)
    c = 0.5 * g.abs().min().item()  # below both components, so both kinds of clipping act
    starts = p.expand(3, 2)
    max_norm = torch.tensor([math.inf, c, math.inf], dtype=F64)
    max_value = torch.tensor([math.inf, math.inf, c], dtype=F64)
    d = S.descend(unit, starts, 0.1, 1, max_norm=max_norm, max_value=max_value)
    torch.testing.assert_close(d.points[1, 0], p - 0.1 * g)
    torch.testing.assert_close(d.points[1, 1], p - 0.1 * g * c / g.norm())
    torch.testing.assert_close(d.points[1, 2], p - 0.1 * g.sign() * c)
    assert d.clipped[0].tolist() == [False, True, True]
    assert d.grad_norms[0].tolist() == pytest.approx([g.norm().item()] * 3)
    assert d.losses[0].tolist() == pytest.approx([unit.loss(p[0], p[1]).item()] * 3)


def test_a_path_that_overflows_stops_and_is_marked():
    d = S.descend(S.TanhUnit(), torch.tensor([[3.0, -1.0]], dtype=F64), 1e308, 3)
    assert d.diverged.tolist() == [True]
    assert torch.isfinite(d.points).all() and (d.points == d.points[0]).all()


def test_default_paths_unclipped_is_thrown_clipped_descends():
    study = S.clipping_study(S.TanhUnit(), S.DEMO_START, S.DEMO_LR, S.DEMO_STEPS, S.CLIP)
    d, bound = study.descent, S.DEMO_LR * S.CLIP
    lengths = d.step_lengths()  # (steps, 3): no clipping, norm clipping, value clipping
    assert lengths.shape == (S.DEMO_STEPS, 3)
    # without clipping: one step lands on the wall and is hundreds of clipped steps long
    assert lengths[:, 0].max() > 100 * bound and d.grad_norms[:, 0].max() > 1000 * S.CLIP
    # with norm clipping every step is at most lr * clip, and the clipping did act
    assert lengths[:, 1].max() <= bound * (1 + 1e-12) and d.clipped[:, 1].sum() >= 1
    assert lengths[:, 2].max() <= bound * math.sqrt(2) * (1 + 1e-12) and d.clipped[:, 2].sum() >= 1
    # the paths are the same until the first clipped step (clipping is the only difference)
    first = int(d.clipped[:, 1].nonzero()[0])
    assert first > 0 and torch.equal(d.points[: first + 1, 0], d.points[: first + 1, 1])
    # the clipped paths end lower than the thrown one and low in absolute terms
    final = d.losses[-1]
    assert final[1] < 1e-3 and final[2] < 1e-3 and final[0] > 100 * final[1]
    assert final[1] < 1e-3 * d.losses[0, 1]
    # and the summary says the same
    paths = study.summary()["paths"]
    assert paths["no clipping"]["largest_step"] == pytest.approx(lengths[:, 0].max().item())
    assert paths["norm clipping"]["clipped_steps"] == int(d.clipped[:, 1].sum())
    assert paths["no clipping"]["largest_step_number"] == first + 1  # thrown on the first step clipping caps


def test_random_starts_run_in_the_same_batch():
    study = S.clipping_study(S.TanhUnit(), S.DEMO_START, 0.01, 5, 15.0, count=4, seed=3)
    assert study.descent.points.shape == (6, 3 + 8, 2)
    starts = S.starts_near_cliff(4, seed=3)
    assert torch.equal(study.descent.points[0, 3:7], starts) and torch.equal(study.descent.points[0, 7:], starts)
    assert (starts[:, 1] > S.fold_bias(starts[:, 0])).all()
    r = study.summary()["random_starts"]
    assert r["count"] == 4 and r["seed"] == 3 and r["largest_step_with_norm_clipping"] <= 0.15 * (1 + 1e-12)
    assert torch.equal(S.starts_near_cliff(4, seed=3), starts) and not torch.equal(S.starts_near_cliff(4, 4), starts)


# --------------------------------------------------------------------------- rnnlab surface


def test_cli_writes_the_figures_and_the_summary(tmp_path, capsys):
    out = tmp_path / "surf"
    argv = ["surface", "--out", str(out), "-T", "30", "--steps", "20", "--grid", "12", "--starts", "2"]
    assert main(argv) == 0
    for name in ("surface-1d.png", "surface-2d.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "surface.json").read_text())
    linear, tanh = summary["linear_unit"], summary["tanh_unit"]
    assert linear["T"] == 30 and [p["w"] for p in linear["points"]] == [0.99, 1.0, 1.01]
    for p in linear["points"]:
        assert p["y_T"] == pytest.approx(p["w"] ** 29) and p["grad"] == pytest.approx(p["grad_closed_form"])
    assert set(tanh["paths"]) == {"no clipping", "norm clipping", "value clipping"}
    for p in tanh["paths"].values():
        assert p["start"] == list(S.DEMO_START) and len(p["end"]) == 2 and p["final_loss"] >= 0
        assert {"largest_step", "clipped_steps", "largest_step_number", "diverged"} <= set(p)
    assert tanh["steps"] == 20 and tanh["random_starts"]["count"] == 2
    assert tanh["paths"]["norm clipping"]["largest_step"] <= tanh["norm_clipped_step_bound"] * (1 + 1e-12)
    text = capsys.readouterr().out
    assert "y_T = " in text and "norm clipping" in text and str(out / "surface.json") in text


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["-T", "1"], "-T"),
        (["--lr", "0"], "--lr"),
        (["--lr", "-0.1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--clip", "0"], "--clip"),
        (["--steps", "0"], "--steps"),
        (["--start", "1"], "--start"),
        (["--grid", "3"], "--grid"),
        (["--starts", "-1"], "--starts"),
        (["--target", "1e300"], "--target"),
        (["--grid", "100000"], "--grid"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, flag):
    out = tmp_path / "surf"
    assert main(["surface", "--out", str(out), *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("rnnlab surface: error: ")
    assert flag in captured.err and captured.out == "" and not out.exists()


def test_cli_out_that_is_a_file_is_refused(tmp_path, capsys):
    existing = tmp_path / "a-file"
    existing.write_text("keep me")
    assert main(["surface", "--out", str(existing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "is a file" in err
    assert existing.read_text() == "keep me"
