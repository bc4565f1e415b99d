"""The hidden-unit page in a real browser (Debian's Chromium, installed by `make test`): served by
`rnnlab serve` and opened from disk, a unit is picked, the characters are recoloured, the hover
shows five predictions, and a screenshot is saved."""

import argparse
import threading

import pytest

from rnnlab.cli import main
from tests.chromium import Browser, find

CHROMIUM = find()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `make test` installs Debian's package")
SCRIPT_PICK = """(() => {
  const g = document.getElementById('group'), u = document.getElementById('unit');
  g.value = String(g.options.length - 1); g.onchange();
  u.value = '3'; u.oninput();
  const s = document.getElementById('status');
  return [s.dataset.unit, Number(s.dataset.ms), document.querySelectorAll('#text span').length,
          document.querySelector('#text span:nth-child(5)').style.backgroundColor];
})()"""
SCRIPT_HOVER = """(() => {
  const span = document.querySelector('#text span:nth-child(12)');
  const r = span.getBoundingClientRect();
  span.dispatchEvent(new MouseEvent('mouseover', {bubbles: true, clientX: r.x, clientY: r.y}));
  const tip = document.getElementById('tip');
  return [tip.style.display, tip.textContent.split('\\n')];
})()"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    corpus = "".join(f"def f{i}(x):\n    return 'a{i}'  # c\n" for i in range(80))
    (root / "code.py").write_text(corpus)
    argv = ["train", "--data", str(root / "code.py"), "--out", str(root / "run"), "--max-steps", "3"]
    assert main(argv + "--time-budget 0 --hidden-size 8 --embedding-size 4 --seq-len 16 --batch-size 2".split()) == 0
    return root


def _drive(browser: Browser, url: str, shot) -> None:
    browser.open(url)
    unit, ms, spans, colour = browser.evaluate(SCRIPT_PICK)
    assert unit == "layer 1 gate o 3" and spans == 500 and colour.startswith("rgb(")
    assert ms < 1000  # recolouring 500 characters
    display, lines = browser.evaluate(SCRIPT_HOVER)
    assert display == "block" and lines[0].startswith("after ") and len(lines) == 6  # a header and five
    assert all(line.rstrip().endswith("%") for line in lines[1:])
    browser.screenshot(shot)
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_the_static_page_opened_from_disk(run):
    assert main(["visualize", str(run / "run"), "--text", str(run / "code.py"), "--chars", "500"]) == 0
    browser = Browser(CHROMIUM)
    try:
        _drive(browser, (run / "run" / "units.html").as_uri(), run / "static.png")
    finally:
        browser.close()


def test_the_page_served_by_rnnlab_serve(run):
    from rnnlab.commands import serve

    text = str(run / "code.py")
    args = argparse.Namespace(run_dir=run / "run", text=text, chars=500, top=3, port=0, host="127.0.0.1")
    started = threading.Event()
    thread = threading.Thread(target=serve.run, args=(args, started), daemon=True)
    thread.start()
    assert started.wait(60)
    host, port = started.server.server_address[:2]
    browser = Browser(CHROMIUM)
    try:
        _drive(browser, f"http://{host}:{port}/", run / "served.png")
    finally:
        browser.close()
        started.server.shutdown()
        thread.join(10)
