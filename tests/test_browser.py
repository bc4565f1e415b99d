"""The hidden-unit page in a real browser (Debian's Chromium, installed by `make test`): served by
`rnnlab serve` and opened from disk, a unit is picked, the characters are recoloured with the
unit's values, the hover shows five predictions, and a screenshot is saved. A page of 20,000
characters for two layers of 512 LSTM units is opened too, and its timings are printed."""

import argparse
import threading

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.commands.char_run import study_run
from rnnlab.viz.page import study_page
from tests.chromium import Browser, find

CHROMIUM = find()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `make test` installs Debian's package")
SCRIPT_PICK = """(async () => {
  const g = document.getElementById('group'), u = document.getElementById('unit');
  g.value = '%d'; g.onchange();
  u.value = '%d'; u.oninput();
  await window.shown;
  const s = document.getElementById('status');
  return [s.dataset.unit, Number(s.dataset.painted), s.dataset.error || '',
          Array.from(document.querySelectorAll('#text span'), e => e.style.backgroundColor)];
})()"""
SCRIPT_HOVER = """(() => {
  const span = document.querySelector('#text span:nth-child(12)');
  const r = span.getBoundingClientRect();
  span.dispatchEvent(new MouseEvent('mouseover', {bubbles: true, clientX: r.x, clientY: r.y}));
  const tip = document.getElementById('tip');
  return [tip.style.display, tip.textContent.split('\\n')];
})()"""
OPENED = "Number(document.getElementById('status').dataset.opened)"
LOADED = "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


def _train(root, text: str, *flags: str):
    (root / "code.py").write_text(text)
    argv = ["train", "--data", str(root / "code.py"), "--out", str(root / "run"), "--max-steps", "2"]
    assert main(argv + "--time-budget 0 --embedding-size 4 --seq-len 16 --batch-size 2".split() + list(flags)) == 0
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    corpus = "".join(f"def f{i}(x):\n    return 'a{i}'  # c\n" for i in range(80))
    return _train(tmp_path_factory.mktemp("browser"), corpus, "--hidden-size", "8")


def _colours(page, group: int, unit: int) -> list[str]:
    """The page's colour of every character for one unit, computed here from the page's bytes."""
    n = len(page.meta["text"])
    q = np.frombuffer(page.groups[group], dtype=np.int8).reshape(-1, n)[unit].astype(np.float64)
    c = np.floor(255 * (1 - np.abs(q) / 127) + 0.5).astype(int)
    return [f"rgb(255, {v}, {v})" if s >= 0 else f"rgb({v}, {v}, 255)" for s, v in zip(q, c)]


def _drive(browser: Browser, url: str, shot, page) -> None:
    browser.open(url)
    last = len(page.groups) - 1
    unit, _, error, colours = browser.evaluate(SCRIPT_PICK % (last, 3))
    assert error == "" and unit == "layer 1 gate o 3" and len(colours) == 500
    assert colours == _colours(page, last, 3)
    _, _, _, colours = browser.evaluate(SCRIPT_PICK % (0, 5))  # back to a group read before
    assert colours == _colours(page, 0, 5) and colours != _colours(page, last, 3)
    display, lines = browser.evaluate(SCRIPT_HOVER)
    assert display == "block" and lines[0].startswith("after ") and len(lines) == 6  # a header and five
    assert all(line.rstrip().endswith("%") for line in lines[1:])
    browser.screenshot(shot)
    assert shot.read_bytes()[:4] == b"\x89PNG"


def _page(run, chars: int):
    found = study_run(run / "run", str(run / "code.py"), chars, 5)
    return study_page(found, run / "check-saturation.png")


def test_the_static_page_opened_from_disk(run):
    assert main(["visualize", str(run / "run"), "--text", str(run / "code.py"), "--chars", "500"]) == 0
    browser = Browser(CHROMIUM)
    try:
        _drive(browser, (run / "run" / "units.html").as_uri(), run / "static.png", _page(run, 500))
    finally:
        browser.close()


def _serving(run, chars: int):
    from rnnlab.commands import serve

    text = str(run / "code.py")
    args = argparse.Namespace(
        run_dir=run / "run", text=text, chars=chars, top=3, port=0, host="127.0.0.1", features="auto"
    )
    started = threading.Event()
    thread = threading.Thread(target=serve.run, args=(args, started), daemon=True)
    thread.start()
    assert started.wait(120)
    host, port = started.server.server_address[:2]
    return f"http://{host}:{port}/", started.server, thread


@pytest.mark.slow  # the static page keeps a real browser in the fast tier
def test_the_page_served_by_rnnlab_serve(run):
    url, server, thread = _serving(run, 500)
    browser = Browser(CHROMIUM)
    try:
        _drive(browser, url, run / "served.png", _page(run, 500))
    finally:
        browser.close()
        server.shutdown()
        thread.join(10)


@pytest.mark.slow  # trains 2 x 512 LSTM units and opens two big pages
def test_a_page_of_20000_characters_and_two_layers_of_512_units(tmp_path, capsys):
    lines = [f"    if x{i} > {i}:\n        s = 'value {i}'  # note\n" for i in range(700)]
    root = _train(tmp_path, "def f(x):\n" + "".join(lines), "--hidden-size", "512", "--num-layers", "2")
    assert main(["visualize", str(root / "run"), "--text", str(root / "code.py")]) == 0
    url, server, thread = _serving(root, 20_000)
    times, page = {}, _page(root, 20_000)
    browser = Browser(CHROMIUM)
    try:
        for name, address in [("static", (root / "run" / "units.html").as_uri()), ("served", url)]:
            browser.open(address)
            opened = browser.evaluate(OPENED)
            browser.wait(LOADED)  # the whole page read: every layer can be shown at once
            loaded = browser.evaluate(LOADED)
            unit, same_group, error, colours = browser.evaluate(SCRIPT_PICK % (0, 7))
            assert error == "" and unit == "layer 1 h 7" and len(colours) == 20_000
            last = len(page.groups) - 1  # layer 2 gate o
            unit, new_group, _, colours = browser.evaluate(SCRIPT_PICK % (last, 500))
            assert unit == "layer 2 gate o 500" and colours == _colours(page, last, 500)
            times[name] = (opened, loaded, same_group, new_group)
        browser.screenshot(tmp_path / "big.png")
    finally:
        browser.close()
        server.shutdown()
        thread.join(10)
    with capsys.disabled():
        for name, (opened, loaded, same, new) in times.items():
            print(
                f"\n  {name} page, 20,000 chars x 2 layers x 512 units: coloured {opened:.0f} ms after navigation, "
                f"all read at {loaded:.0f} ms; then a unit change on screen in {same:.0f} ms, a new layer or "
                f"gate in {new:.0f} ms",
                end="",
            )
    assert all(0 < t for row in times.values() for t in row)
