"""``rnnlab serve OUT --text FILE``: the hidden-unit page of ``rnnlab visualize``, served over HTTP.

Binds to the loopback address by default (``--host`` to change it) on ``--port`` (default 8765;
0 picks a free port) and serves the page at ``/`` until Ctrl-C. The page is small: it fetches
each layer's values (raw int8 bytes, ``/group/<k>``) when it first shows them.

Anyone who can reach the address can read the model's states: a ``--host`` other than loopback
prints a warning. A request whose Host header names another server (a page of another site
pointing its own name at this address) is refused with 403; open the page at the address printed.
"""

from __future__ import annotations

import errno
import http.server
import ipaddress
import re
import socket
import sys
import threading

from rnnlab.commands.common import UsageError
from rnnlab.commands.text_flags import add_text_flags, check_text_flags, described

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HOST = re.compile(r"(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+))(?::([0-9]{1,5}))?")
_GROUP = re.compile(r"/group/([0-9]{1,9})")  # ASCII digits only: "²" is a digit to str.isdigit, not to int
_CHUNK = 1 << 18  # the socket timeout bounds each write, so a large body goes out in pieces
_BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the hidden-unit page on localhost", description=described(__doc__))
    add_text_flags(p)
    p.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only; another warns)")
    p.set_defaults(func=run)


def host_name(value: str) -> str | None:
    """The name in a Host header: lowercased, without its port, an IP address in its usual spelling
    (IPv6 without brackets); ``None`` when the value is not a name with an optional port."""
    found = _HOST.fullmatch(value.strip().lower())
    if found is None or (found[3] is not None and int(found[3]) > 65535):
        return None
    if found[1] is not None:  # only an IPv6 address goes in brackets
        address = _address(found[1])
        return str(address) if isinstance(address, ipaddress.IPv6Address) else None
    name = found[2].rstrip(".")
    address = _address(name)
    return str(address) if address is not None else (name or None)


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def served_names(given: str, bound: str) -> tuple[frozenset[str], bool]:
    """The names a server bound to address ``bound`` (asked for as ``given``) answers to, and whether
    it answers to any IP address as well (see :func:`make_server`)."""
    address = ipaddress.ip_address(bound)
    names = {str(address), given.strip("[]").lower().rstrip(".")} - {""}
    if address.is_loopback:
        return frozenset(names | LOOPBACK_NAMES), False
    if address.is_unspecified:  # every interface: loopback too, and the machine's own names
        names |= LOOPBACK_NAMES | {socket.gethostname().lower(), socket.getfqdn().lower()}
    return frozenset(names), True


def exposure_warning(server: http.server.HTTPServer) -> str | None:
    """The warning for a server that others can reach (``None`` on loopback)."""
    address = server.server_address[0]
    if ipaddress.ip_address(address).is_loopback:
        return None
    return (
        f"rnnlab serve: warning: {address} is not a loopback address: anyone who can reach it "
        "can read the model's states on this page"
    )


def make_server(
    content: dict, host: str, port: int, timeout: float = 10.0, connections: int = 32
) -> http.server.ThreadingHTTPServer:
    """An HTTP server answering ``/`` with ``content["html"]`` and ``/group/<k>`` with ``content["groups"][k]``
    (bytes, set when ready; 503 before), anything else with 404.

    Only requests that name this server in their Host header are answered, so that a page of
    another site cannot read the states by pointing its own name at this address (DNS
    rebinding); others get 403. Bound to loopback, the names are ``localhost``, ``127.0.0.1``,
    ``[::1]``, the bound address and ``host`` as given. Bound to another address: that address,
    ``host`` as given and any IP address (a browser sends an address only when its page was
    opened at that address, never for a page named otherwise). Bound to every interface
    (``0.0.0.0``, ``::``): also the loopback names, the machine's hostname and its fully
    qualified name; any other name is refused. Any port is accepted after the name (a tunnel may
    forward another port). A request without Host is answered in HTTP/1.0 (browsers always send
    one) and refused with 400 in HTTP/1.1, which requires it; so are several Host headers.

    A connection is closed after ``timeout`` seconds without progress, and at most ``connections``
    are handled at once (a thread each): one more is answered 503 and closed at once.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    host = host.strip("[]") if family == socket.AF_INET6 else host
    slots = threading.BoundedSemaphore(connections)

    class Handler(http.server.BaseHTTPRequestHandler):
        def setup(self) -> None:
            self.timeout = timeout  # read by StreamRequestHandler.setup: the socket's timeout
            super().setup()

        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            refused = self._refused()
            path = self.path.split("?")[0]
            group = _GROUP.fullmatch(path)
            if refused is not None:
                self.send_error(*refused)
            elif "html" not in content:
                self.send_error(503, "the page is still being computed")
            elif path in ("/", "/index.html"):
                self._send(content["html"], "text/html; charset=utf-8")
            elif group is not None and int(group[1]) < len(content["groups"]):
                self._send(content["groups"][int(group[1])], "application/octet-stream")
            else:
                self.send_error(404)

        def _refused(self) -> tuple[int, str] | None:
            values = self.headers.get_all("Host") or []
            if not values:
                return None if self.request_version in ("HTTP/0.9", "HTTP/1.0") else (400, "no Host header")
            if len(values) > 1:
                return 400, "more than one Host header"
            name = host_name(values[0])
            if name is None:
                return 400, "malformed Host header"
            if name in self.server.names or (self.server.any_address and _address(name) is not None):
                return None
            return 403, "the Host header names another server; open the address rnnlab serve printed"

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # another run may be served on this port later
            self.end_headers()
            view = memoryview(body)
            for start in range(0, len(body), _CHUNK):
                self.wfile.write(view[start : start + _CHUNK])

        def log_message(self, format, *args) -> None:  # one line per request would bury the useful ones
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = family
        request_queue_size = 64  # the listen backlog (5 by default): a browser opens several at once

        def process_request(self, request, client_address) -> None:
            if not slots.acquire(blocking=False):  # every slot taken: refuse rather than grow threads
                try:
                    request.setblocking(False)
                    request.send(_BUSY)
                except OSError:
                    pass
                self.shutdown_request(request)
                return
            try:
                super().process_request(request, client_address)
            except BaseException:
                slots.release()
                raise

        def process_request_thread(self, request, client_address) -> None:
            try:
                super().process_request_thread(request, client_address)
            finally:
                slots.release()

        def handle_error(self, request, client_address) -> None:
            error = sys.exc_info()[1]
            if not isinstance(error, (ConnectionError, TimeoutError)):  # not a client that went away
                print(f"rnnlab serve: a request from {client_address[0]} failed: {error!r}", file=sys.stderr)

    try:
        server = Server((host, port), Handler)
    except (OSError, OverflowError) as e:
        if getattr(e, "errno", None) == errno.EADDRINUSE:
            raise UsageError(f"--port: {host}:{port} is already in use; pick another with --port") from e
        raise UsageError(f"--host/--port: cannot listen on {host}:{port} ({getattr(e, 'strerror', None) or e})") from e
    server.names, server.any_address = served_names(host, server.server_address[0])
    return server


def run(args, started: threading.Event | None = None) -> int:
    """Serve until Ctrl-C (or ``server.shutdown()``); ``started`` is set once the page is served,
    and carries the server as ``started.server`` (for tests)."""
    from rnnlab.commands.char_run import study_run
    from rnnlab.viz.page import render, study_page

    check_text_flags(args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0 to 65535, got {args.port}")
    content: dict = {}
    server = make_server(content, args.host, args.port)  # claim the port before the seconds of work
    try:
        warning = exposure_warning(server)
        if warning is not None:
            print(warning, file=sys.stderr)
        found = study_run(args.run_dir, args.text, args.chars, args.top, args.features)
        page = study_page(found, args.run_dir / "units-saturation.png")
        content["groups"] = page.groups
        content["html"] = render(page, group_url="group/").encode("utf-8")
        host, port = server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        chars = found.summary()["characters"]
        print(f"serving {chars:,} characters, features {found.choice.name}, at http://{shown}:{port}/ (Ctrl-C to stop)")
        if started is not None:
            started.server = server
            started.set()
        server.serve_forever()
    finally:
        server.server_close()
    return 0
