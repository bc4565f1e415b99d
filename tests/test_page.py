"""The hidden-state page: its data round-trips, it is self-contained, and the CLI writes it."""

import base64
import json
import re

import numpy as np
import pytest
import torch

from rnnlab.cli import main
from rnnlab.interpret.activations import Activations
from rnnlab.viz.page import page_data, render, write_page


def _acts(text: str) -> Activations:
    torch.manual_seed(0)
    n = len(text)
    states = {"layer 1 h": torch.randn(n, 3), "layer 1 c": torch.randn(n, 2) * 5}
    probs = torch.softmax(torch.randn(n, 7), dim=1)
    return Activations(text, torch.tensor([c != "?" for c in text]), states, probs)


def test_page_data_stores_each_unit_as_a_contiguous_scaled_int8_slice():
    acts = _acts("ab?c</script>d")
    ranking = {"f": [{"unit": "layer 1 c 1", "index": 4, "correlation": 0.5}]}  # columns: h 0-2, c 0-1
    page = page_data(acts, ranking, list("abcd</s"))
    data, n = page.meta, len(acts.text)
    for group, blob, (name, values) in zip(data["groups"], page.groups, acts.states.items()):
        q = np.frombuffer(blob, dtype=np.int8).reshape(group["units"], n)
        restored = torch.from_numpy(q.astype(np.float32)).t() / 127 * torch.tensor(group["scale"])
        torch.testing.assert_close(restored, values, atol=float(values.abs().max()) / 127, rtol=0)
        assert group["name"] == name
    assert data["ranking"]["f"][0]["group"] == 1 and data["ranking"]["f"][0]["unit_index"] == 1
    assert page.first == 1  # the page opens on the best unit of the first feature
    ids = np.frombuffer(base64.b64decode(data["top"]["ids"]), dtype=np.uint8).reshape(n, 5)
    assert ids[0].tolist() == acts.probs[0].topk(5).indices.tolist()
    assert np.frombuffer(base64.b64decode(data["known"]), dtype=np.uint8).tolist() == [c != "?" for c in acts.text]


def test_the_page_is_self_contained_and_the_text_cannot_close_its_script():
    acts = _acts("x</script><b>y")
    page = page_data(acts, {"f": [{"unit": "layer 1 c 0", "index": 3, "correlation": 0.5}]}, list("abcdefg"))
    html = render(page)
    assert not re.search(r"(src|href|fetch)\s*[=(]\s*[\"']?https?:", html)  # nothing fetched from the network
    payload = html.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    assert json.loads(payload)["text"] == "x</script><b>y" and "group_url" not in json.loads(payload)
    blocks = re.findall(r'<script type="application/octet-stream" id="group-(\d)">([^<]*)</script>', html)
    assert [int(k) for k, _ in blocks] == [1, 0]  # the group shown first comes first, before the page's script
    assert html.index('id="group-1"') < html.index("const data = JSON.parse") < html.index('id="group-0"')
    assert [base64.b64decode(b) for _, b in sorted(blocks)] == page.groups


# the template's markers, then markup after which a browser would read the rest of the page as script
# data: no "-->" comes after "<!--<script>" to end it
TRICKY = "<!--FIRST--><!--GROUPS-->/*DATA*/a<!--<script>b</script>c</SCRIPT >d<\\/e\u2028\ng<!--"


def _scripts(html: str) -> list[tuple[str | None, str]]:
    """Each script element's id and content as a browser reads them. A content holding no ``<!--`` or
    ``<script`` (in any case) is plain script data: it ends at the first ``</script``, as here."""
    found = []
    for tag in re.finditer(r"<script\b([^>]*)>", html):
        end = re.compile("</script", re.IGNORECASE).search(html, tag.end()).start()
        body = html[tag.end() : end]
        assert not re.search(r"<!--|<script", body, re.IGNORECASE), body[:200]
        found.append((next(iter(re.findall(r'id="([^"]*)"', tag[1])), None), body))
    return found


def test_any_text_round_trips_through_the_page_s_data():
    ranking = {"f": [{"unit": "layer 1 c 0", "index": 3, "correlation": 0.5}]}
    page = page_data(_acts(TRICKY), ranking, list("abcdefg"))
    for html, count in ((render(page, group_url="group/"), 3), (render(page), 7)):  # the static page last
        scripts = _scripts(html)
        assert json.loads(dict(scripts)["data"])["text"] == TRICKY
        assert len(scripts) == count  # nothing split or merged
    assert [base64.b64decode(dict(scripts)[f"group-{k}"]) for k in range(2)] == page.groups


def test_a_page_whose_text_holds_script_markup_draws_in_a_browser(tmp_path):
    chromium = pytest.importorskip("tests.chromium")
    if chromium.find() is None:
        pytest.skip("no chromium: `make test` installs Debian's package")
    page = page_data(_acts(TRICKY), {"f": [{"unit": "layer 1 c 0", "index": 3, "correlation": 0.5}]}, list("abcdefg"))
    write_page(tmp_path / "p.html", page)
    browser = chromium.Browser(chromium.find())
    try:
        browser.open((tmp_path / "p.html").as_uri())  # waits until the page has coloured the text
        assert browser.evaluate("document.getElementById('text').textContent") == TRICKY
        assert browser.evaluate("document.getElementById('status').dataset.unit") == "layer 1 c 0"
    finally:
        browser.close()


def test_the_served_page_carries_no_group_and_fetches_them():
    page = page_data(_acts("abc"), {}, list("abc"))
    html = render(page, group_url="group/")
    payload = html.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    assert json.loads(payload)["group_url"] == "group/" and 'type="application/octet-stream"' not in html


def test_visualize_writes_the_page_and_refuses_bad_input(tmp_path, capsys):
    corpus = "".join(f"def f{i}(x):\n    return 'a{i}'  # c\n" for i in range(60))
    (tmp_path / "code.py").write_text(corpus)
    (tmp_path / "other.txt").write_text("déf ü\n")
    run = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "code.py"), "--out", str(run), "--max-steps", "4", "--time-budget", "0"]
    assert main(argv + "--hidden-size 8 --embedding-size 4 --seq-len 16 --batch-size 2 --sample-chars 0".split()) == 0
    assert main(["visualize", str(run), "--text", str(tmp_path / "other.txt")]) == 0  # unseen characters: greyed
    html = (run / "units.html").read_text()
    assert html.startswith("<!doctype html>") and '"text": "déf ü\\n"' in html
    assert json.loads((run / "units.json").read_text())["units"] == 16  # h and c (the gates are shown, not ranked)
    assert set(json.loads((run / "units.json").read_text())["gate_saturation"]) == {"layer 1 gate " + g for g in "ifo"}
    assert (run / "units-saturation.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    (tmp_path / "empty.txt").write_text("")
    for bad, message in [
        (["visualize", str(tmp_path / "nope"), "--text", str(tmp_path / "code.py")], "is not a run directory"),
        (["visualize", str(run), "--text", str(tmp_path / "empty.txt")], "--text: "),
        (["visualize", str(run), "--text", str(tmp_path / "code.py"), "--page", "/no/dir/p.html"], "--page"),
        (["visualize", str(run), "--text", str(tmp_path / "code.py"), "--page", str(tmp_path)], "is a folder"),
    ]:
        assert main(bad) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and ".tmp" not in err, err
    (tmp_path / "d.json").mkdir()  # the rankings' file beside the page: refused before any is written
    assert main(["visualize", str(run), "--text", str(tmp_path / "code.py"), "--page", str(tmp_path / "d.html")]) == 2
    assert "d.json is a folder" in capsys.readouterr().err
    assert not (tmp_path / "d.html").exists() and not (tmp_path / "d-saturation.png").exists()


def test_serve_answers_on_loopback_and_refuses_a_port_in_use(tmp_path, capsys):
    import argparse
    import threading
    import urllib.error
    import urllib.request

    from rnnlab.commands import serve

    corpus = "".join(f"def f{i}(x):\n    return 'a{i}'  # c\n" for i in range(60))
    (tmp_path / "code.py").write_text(corpus)
    run = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "code.py"), "--out", str(run), "--max-steps", "2", "--time-budget", "0"]
    assert main(argv + "--hidden-size 8 --embedding-size 4 --seq-len 16 --batch-size 2 --sample-chars 0".split()) == 0
    args = argparse.Namespace(
        run_dir=run, text=str(tmp_path / "code.py"), chars=500, top=3, port=0, host="127.0.0.1", features="auto"
    )
    started = threading.Event()
    thread = threading.Thread(target=serve.run, args=(args, started), daemon=True)
    thread.start()
    assert started.wait(60)
    host, port = started.server.server_address[:2]
    try:
        assert host == "127.0.0.1"
        html = urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read().decode()
        assert html.startswith("<!doctype html>") and '"text": "def f0(x):' in html
        group = urllib.request.urlopen(f"http://{host}:{port}/group/1", timeout=10)
        assert group.headers["Content-Type"] == "application/octet-stream"
        assert len(group.read()) == 8 * 500  # layer 1 c: 8 units x 500 characters, one byte each
        for missing in ("/secret", "/group/99", "/group/x", "/group/-1"):
            try:
                urllib.request.urlopen(f"http://{host}:{port}{missing}", timeout=10)
                raise AssertionError(f"expected 404 for {missing}")
            except urllib.error.HTTPError as e:
                assert e.code == 404
        capsys.readouterr()
        taken = ["serve", str(run), "--text", str(tmp_path / "code.py"), "--port", str(port)]
        assert main(taken) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "already in use" in err
    finally:
        started.server.shutdown()
        thread.join(10)


def test_lstmvis_export_writes_states_ids_dictionary_and_project(tmp_path):
    import h5py

    from rnnlab.interpret.lstmvis import export

    acts = _acts("ab c\n?")
    files = export(acts, ["a", "b", "c", " ", "\n"], tmp_path / "lv", name="demo")
    assert [f.name for f in files] == ["states.hdf5", "chars.hdf5", "chars.dict", "lstm.yml"]
    with h5py.File(tmp_path / "lv" / "states.hdf5") as f:
        np.testing.assert_array_equal(f["states1"][:], acts.states["layer 1 c"].numpy())
        np.testing.assert_array_equal(f["output1"][:], acts.states["layer 1 h"].numpy())
    with h5py.File(tmp_path / "lv" / "chars.hdf5") as f:
        assert f["words"][:].tolist() == [0, 1, 3, 2, 4, 0]  # '?' is unseen: id 0
    assert (tmp_path / "lv" / "chars.dict").read_text().splitlines() == ["a 0", "b 1", "c 2", "<space> 3", "<nl> 4"]
    project = (tmp_path / "lv" / "lstm.yml").read_text()
    assert "name: demo" in project and "{type: output, layer: 1, path: output1}" in project
