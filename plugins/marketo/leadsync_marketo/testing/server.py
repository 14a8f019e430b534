"""The Marketo fake on a real HTTP server (keep-alive, a daemon thread), for tests that need sockets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from leadsync_marketo.testing.fake import MarketoFake

__all__ = ["serve"]


class _Handler(BaseHTTPRequestHandler):
    fake: MarketoFake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        content = self.rfile.read(length) if length else b""
        url = f"http://{self.headers.get('host', 'localhost')}{self.path}"
        request = httpx.Request(self.command, url, headers=dict(self.headers.items()), content=content)
        try:
            response = self.fake.handle(request)
        except httpx.ReadTimeout:  # executed, answer lost: drop the connection without a reply
            self.close_connection = True
            return
        payload = response.content
        self.send_response(response.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request resets its connection: expected here, not worth a traceback."""


def serve(fake: MarketoFake, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The fake on a real HTTP server in a daemon thread; its URL is ``server.url``; ``server.shutdown()``."""
    handler = type("MarketoHandler", (_Handler,), {"fake": fake})
    server = _QuietServer((host, 0), handler)
    server.daemon_threads = True
    server.url = f"http://{host}:{server.server_address[1]}"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
