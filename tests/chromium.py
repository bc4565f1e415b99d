"""A headless Chromium driven over the DevTools protocol, for the page tests (no Selenium needed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1400,1000",
]  # fmt: skip


def find() -> str | None:
    """The Chromium binary (Debian's package installs /usr/bin/chromium), or ``None``."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One Chromium process with one tab; ``evaluate`` runs JavaScript in the tab."""

    def __init__(self, binary: str) -> None:
        self.profile = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helper processes share a group that close() ends at once
        )
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        tab = next(p for p in pages if p["type"] == "page")
        self.socket = websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.counter = 0

    def call(self, method: str, **params):
        self.counter += 1
        self.socket.send(json.dumps({"id": self.counter, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == self.counter:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str, ready: str = "document.getElementById('status')?.dataset.ms") -> None:
        """Load ``url`` and wait until the expression ``ready`` is truthy."""
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        self.wait(ready, url)

    def wait(self, expression: str, what: str = "the page") -> None:
        """Wait (at most a minute) until ``expression`` is truthy in the tab."""
        for _ in range(600):
            if self.evaluate(f"Boolean({expression})"):
                return
            time.sleep(0.1)
        raise TimeoutError(f"{what} did not get ready: {expression}")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text", "error in the page"))
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            # the renderer and other helpers outlive the browser process for a moment and go on
            # writing to the profile (seen: rmtree's "Directory not empty"): end the whole group,
            # then remove the profile once they are gone
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)
            for _ in range(50):
                try:
                    self.profile.cleanup()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                self.profile.cleanup()
