"""`rnnlab serve`'s HTTP server: which Host names it answers, odd paths, idle connections, large bodies,
and the warning when it is bound beyond loopback. Every server here listens on loopback only."""

import socket
import threading
import time
from contextlib import contextmanager

import pytest

from rnnlab.cli import main
from rnnlab.commands.serve import host_name, make_server, served_names

CONTENT = {"html": b"<!doctype html><p>the page", "groups": [b"\x01\x02\x03"]}


@contextmanager
def _serving(content: dict = CONTENT, **options):
    server = make_server(content, "127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _read_all(sock: socket.socket) -> bytes:
    got = bytearray()
    while chunk := sock.recv(1 << 16):
        got += chunk
    return bytes(got)


def _ask(port: int, request: bytes) -> tuple[int, bytes]:
    """The status and body of a raw request (status 0: the server dropped the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        got = _read_all(s)
    head, _, body = got.partition(b"\r\n\r\n")
    return (int(head.split()[1]) if head else 0), body


def _get(port: int, path: bytes = b"/", host: bytes | None = b"localhost", version: bytes = b"HTTP/1.1"):
    line = b"GET " + path + b" " + version + b"\r\n"
    return _ask(port, line + (b"Host: " + host + b"\r\n" if host is not None else b"") + b"\r\n")


def test_host_header_parsing():
    assert host_name("LocalHost.:8765") == "localhost"
    assert host_name("[0:0::1]:80") == "::1" and host_name("127.0.0.1") == "127.0.0.1"
    for bad in ("", "a b", "localhost:99999", "[127.0.0.1]", "::1", "[::1", "x:y", "évil.example", "a:1:2"):
        assert host_name(bad) is None, bad


def test_a_loopback_server_answers_only_to_loopback_names():
    with _serving() as (_, port):
        p = str(port).encode()
        for host in (b"localhost", b"localhost:" + p, b"127.0.0.1:" + p, b"[::1]", b"[::1]:" + p, b"LOCALHOST."):
            assert _get(port, host=host) == (200, CONTENT["html"]), host
        assert _get(port, host=b"localhost:9000")[0] == 200  # a tunnel may forward another port
        for host in (b"evil.example", b"evil.example:" + p, b"localhost.evil.example", b"10.1.2.3", b"0.0.0.0"):
            status, body = _get(port, host=host)
            assert status == 403 and b"another server" in body and b"the page" not in body, host
        assert _get(port, b"/group/0", host=b"rebind.example")[0] == 403  # the states too
        assert _get(port, host=b"localhost:99999")[0] == 400
        two = b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"
        assert _ask(port, two)[0] == 400
        assert _get(port, host=None)[0] == 400  # HTTP/1.1 requires Host
        assert _get(port, host=None, version=b"HTTP/1.0") == (200, CONTENT["html"])  # no browser omits it


def test_a_server_on_every_interface_answers_to_addresses_and_the_machine_s_names():
    names, any_address = served_names("0.0.0.0", "0.0.0.0")
    assert any_address and {"localhost", "127.0.0.1", "::1", socket.gethostname().lower()} <= names
    assert served_names("192.0.2.7", "192.0.2.7") == (frozenset({"192.0.2.7"}), True)
    assert served_names("localhost", "127.0.0.1") == (frozenset({"localhost", "127.0.0.1", "::1"}), False)
    with _serving() as (server, port):  # bound to loopback, answering as a server on every interface would
        server.names, server.any_address = names, any_address
        for host in (b"10.1.2.3:8765", b"[2001:db8::1]", socket.gethostname().encode(), b"localhost"):
            assert _get(port, host=host)[0] == 200, host
        assert _get(port, host=b"evil.example")[0] == 403


def test_a_path_with_a_raw_non_utf8_byte_or_odd_digits_gets_404():
    with _serving() as (_, port):
        for path in (b"/group/\xb2", b"/\xff\xfe", b"/group/\xd9\xa1", b"/group/" + b"9" * 5000, b"/group/0\xc0"):
            assert _get(port, path)[0] == 404, path
        assert _get(port, b"/group/0") == (200, CONTENT["groups"][0])  # and the server goes on


@pytest.mark.slow  # waits out a 3 s timeout
def test_idle_connections_time_out_and_their_threads_are_capped():
    cap = 4
    with _serving(timeout=3.0, connections=cap) as (_, port):  # 3 s: room for a busy machine's accept loop
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
        peak, refused = before, 0
        try:
            for sock in idle:  # each is refused at once (every slot taken) or closed after the timeout
                peak = max(peak, threading.active_count())
                got = _read_all(sock)
                assert got == b"" or got.startswith(b"HTTP/1.0 503 "), got
                refused += got != b""
        finally:
            for sock in idle:
                sock.close()
        # a finishing thread may still be alive for a moment after freeing its slot: hence the slack
        assert peak <= before + 2 * cap and refused > 0, (peak, before, refused)
        assert _get(port) == (200, CONTENT["html"])


@pytest.mark.slow  # reads for longer than a 3 s timeout
def test_a_large_body_outlasts_the_timeout_while_the_reader_keeps_reading():
    body = bytes(range(256)) * (1 << 17)  # 32 MB: far more than the socket buffers hold
    with _serving({"html": b"", "groups": [body]}, timeout=3.0) as (_, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /group/0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            got = bytearray()
            for part in range(1, 13):  # pauses a tenth of the timeout, adding up to more than it
                time.sleep(0.3)
                while len(got) < len(body) // 12 * part and (chunk := s.recv(1 << 20)):
                    got += chunk
            got += _read_all(s)
    assert got.partition(b"\r\n\r\n")[2] == body


def test_serve_warns_when_bound_beyond_loopback(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("abc\n")
    argv = ["serve", str(tmp_path / "nope"), "--text", str(tmp_path / "t.txt"), "--port", "0"]
    assert main(argv) == 2  # loopback: the missing run is the only line
    assert capsys.readouterr().err.count("\n") == 1
    assert main(argv + ["--host", "0.0.0.0"]) == 2  # bound for a moment, then the missing run stops it
    warning, error = capsys.readouterr().err.splitlines()
    assert warning.startswith("rnnlab serve: warning: 0.0.0.0 is not a loopback address")
    assert "anyone who can reach it" in warning and "nope" in error
