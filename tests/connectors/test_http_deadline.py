"""Every attempt has an overall deadline: an answer that trickles in never holds a run."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from leadsync.connectors.errors import AmbiguousWriteError, VendorUnavailable
from leadsync.connectors.http import HttpClient


class TricklingServer:
    """Answers every request with a 200 whose 60-byte body arrives one byte every 0.1 s."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.requests += 1
            body = b"x" * 60
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 60\r\n\r\n")
            for byte in body:
                if self.stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def trickle():
    server = TricklingServer()
    yield server
    server.close()


def test_a_trickling_answer_is_cut_at_the_deadline_and_retried_then_given_up(trickle) -> None:
    # Each read gets a byte within the 1 s timeout, so only the overall deadline can end it.
    client = HttpClient(base_url=trickle.url, timeout=1.0, deadline_s=0.5, max_retries=1, sleep=lambda s: None)
    with pytest.raises(VendorUnavailable, match="ReadTimeout"):
        client.get("/slow")
    assert trickle.requests == 2  # one retry, then the call ends
    client.close()


def test_a_trickling_answer_to_a_write_is_ambiguous_not_resent(trickle) -> None:
    client = HttpClient(base_url=trickle.url, timeout=1.0, deadline_s=0.5, max_retries=3, sleep=lambda s: None)
    with pytest.raises(AmbiguousWriteError):
        client.post("/create", json={"a": 1})
    assert trickle.requests == 1
    client.close()


def test_an_answer_within_the_deadline_is_read_whole(trickle) -> None:
    client = HttpClient(base_url=trickle.url, timeout=1.0, deadline_s=30, sleep=lambda s: None)
    assert client.get("/slow").content == b"x" * 60
    client.close()
