"""``rnnlab serve OUT --text FILE``: the hidden-unit page of ``rnnlab visualize``, served on localhost.

Binds to the loopback address by default (``--host`` to change it) on ``--port`` (default 8765;
0 picks a free port) and serves the page at ``/`` until Ctrl-C. The page is small: it fetches
each layer's values (raw int8 bytes, ``/group/<k>``) when it first shows them.
"""

from __future__ import annotations

import errno
import http.server
import threading

from rnnlab.commands.common import UsageError
from rnnlab.commands.visualize import add_text_flags, check_text_flags


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the hidden-unit page on localhost", description=__doc__)
    add_text_flags(p)
    p.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.set_defaults(func=run)


def make_server(content: dict, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """An HTTP server answering ``/`` with ``content["html"]`` and ``/group/<k>`` with ``content["groups"][k]``
    (bytes, set when ready; 503 before), anything else with 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            path = self.path.split("?")[0]
            if "html" not in content:
                self.send_error(503, "the page is still being computed")
            elif path in ("/", "/index.html"):
                self._send(content["html"], "text/html; charset=utf-8")
            elif path.startswith("/group/") and path[7:].isdigit() and int(path[7:]) < len(content["groups"]):
                self._send(content["groups"][int(path[7:])], "application/octet-stream")
            else:
                self.send_error(404)

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # another run may be served on this port later
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args) -> None:  # one line per request would bury the useful ones
            pass

    try:
        return http.server.ThreadingHTTPServer((host, port), Handler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"--port: {host}:{port} is already in use; pick another with --port") from e
        raise UsageError(f"--host/--port: cannot listen on {host}:{port} ({e.strerror})") from e


def run(args, started: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or ``server.shutdown()``); ``started`` is set once the page is served,
    and carries the server as ``started.server`` (for tests)."""
    from rnnlab.interpret.study import study
    from rnnlab.viz.page import render

    check_text_flags(args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0 to 65535, got {args.port}")
    content: dict = {}
    server = make_server(content, args.host, args.port)  # claim the port before the seconds of work
    try:
        found = study(args.run_dir, args.text, args.chars, args.top)
        page = found.page(args.run_dir / "units-saturation.png")
        content["groups"] = page.groups
        content["html"] = render(page, group_url="group/").encode("utf-8")
        host, port = server.server_address[:2]
        print(f"serving {found.summary()['characters']:,} characters at http://{host}:{port}/ (Ctrl-C to stop)")
        if started is not None:
            started.server = server
            started.set()
        server.serve_forever()
    finally:
        server.server_close()
    return 0
