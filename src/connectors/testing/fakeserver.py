"""Fake vendor servers: real keep-alive HTTP on 127.0.0.1 with routing, vendor-shaped rate limits and faults.

To run one in a process of its own: `fakeprocess` (`python -m leadsync.connectors.testing.fakeprocess`)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Sequence
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FAULTS",
    "FakeApp",
    "FakeServer",
    "LogEntry",
    "Request",
    "Response",
    "route",
]

FAULTS = ("429", "500", "503", "timeout", "reset", "reset_after_apply")
# Injected only on purpose (`FakeServer.inject`), never drawn at random: apply, then answer the
# status with only the first half of the body (a complete HTTP answer whose JSON is cut short).
TARGETED_FAULTS = ("truncated",)
CONTROL_PREFIX = "/__fake__/"

# The vendor-app half lives in fakeapp.py; importing it from here keeps working.
from leadsync.connectors.testing.fakeapp import FakeApp, Request, Response, route  # noqa: E402


class LogEntry(NamedTuple):
    """One served request: `status` is None when a fault dropped the connection."""

    time: float
    method: str
    path: str
    status: int | None
    fault: str | None




class _Config:
    def __init__(self, latency: float, fault_rate: float, faults: Sequence[str], fault_timeout: float, seed: int):
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(FAULTS)}")
        self.latency = latency
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.fault_timeout = fault_timeout
        self.rng = random.Random(seed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "fault_rate": self.fault_rate,
            "faults": list(self.faults),
            "fault_timeout": self.fault_timeout,
        }


class _Dropped(Exception):
    """The connection was dropped on purpose (a reset fault)."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the server keeps its own log
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _Dropped:
            self.close_connection = True
        except (ConnectionError, BrokenPipeError, TimeoutError):
            self.close_connection = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        parts = urlsplit(self.path)
        query_lists = parse_qs(parts.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        content_type = headers.get("content-type", "")
        parsed_json = None
        form: dict[str, str] = {}
        if body and "json" in content_type:
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = None
        elif body and "x-www-form-urlencoded" in content_type:
            form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        request = Request(
            method=self.command,
            path=parts.path,
            query={k: v[-1] for k, v in query_lists.items()},
            query_lists=query_lists,
            headers=headers,
            body=body,
            json=parsed_json,
            form=form,
        )
        response = self.server.serve(request, self)
        payload, extra = response.encode()
        lines = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}"]
        extra.setdefault("Content-Length", str(len(payload)))
        extra.setdefault("Date", formatdate(self.server.app.now(), usegmt=True))
        lines += [f"{k}: {v}" for k, v in extra.items()]
        if self.close_connection:
            lines.append("Connection: close")
        # One write per response: with TCP_NODELAY each write is a packet.
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)

    def drop(self) -> None:
        """Close the socket at once with a TCP reset, answering nothing."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        raise _Dropped()


class FakeServer(ThreadingHTTPServer):
    """A fake vendor on 127.0.0.1: HTTP/1.1 keep-alive, TCP_NODELAY, seeded fault injection.

    `latency` delays every answer; with probability `fault_rate` a request gets one of `faults`
    ("429", "500", "503", "timeout": answer after `fault_timeout` s, "reset": drop before applying,
    "reset_after_apply": apply, then drop). `state_path` keeps the app's state across restarts and
    processes (written after each write request). Control: GET /__fake__/log, GET|POST
    /__fake__/state, POST /__fake__/config.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        app: FakeApp,
        *,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        faults: Sequence[str] = FAULTS,
        seed: int = 0,
        state_path: Path | str | None = None,
        fault_timeout: float = 2.0,
        port: int = 0,
    ) -> None:
        self.app = app
        self.config = _Config(latency, fault_rate, faults, fault_timeout, seed)
        self.state_path = Path(state_path) if state_path is not None else None
        self.log: list[LogEntry] = []
        self._log_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.connections_accepted = 0
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self._injected: list[list[Any]] = []  # [compiled path regex, fault, remaining count]
        if self.state_path is not None and self.state_path.exists():
            app.load_state(json.loads(self.state_path.read_text(encoding="utf-8")))
        super().__init__(("127.0.0.1", port), _RequestHandler)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        """Serve in a background thread (the socket is bound and `url` known from construction)."""
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name=f"fake-{type(self.app).__name__}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        with self._log_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # Without TCP_NODELAY, Nagle plus delayed ACK stalls keep-alive clients ~40 ms a request.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._log_lock:
            self._connections.add(conn)
            self.connections_accepted += 1
        return conn, address

    def shutdown_request(self, request: Any) -> None:
        with self._log_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    # -- serving -------------------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change latency, fault_rate, faults or fault_timeout at runtime; returns the new config."""
        with self._log_lock:
            config = self.config.as_dict()
            unknown = set(changes) - set(config)
            if unknown:
                raise ValueError(f"unknown config keys {sorted(unknown)}")
            config.update(changes)
            rng = self.config.rng
            self.config = _Config(config["latency"], config["fault_rate"], config["faults"], config["fault_timeout"], 0)
            self.config.rng = rng
            return self.config.as_dict()

    def _record(self, request: Request, status: int | None, fault: str | None) -> None:
        with self._log_lock:
            self.log.append(LogEntry(time.monotonic() - self._started, request.method, request.path, status, fault))

    def inject(self, path_regex: str, fault: str, times: int = 1) -> None:
        """Give the next `times` requests whose path fully matches `path_regex` the fault `fault`
        (one of FAULTS or TARGETED_FAULTS), whatever the random fault rate."""
        if fault not in FAULTS + TARGETED_FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS + TARGETED_FAULTS)}")
        with self._log_lock:
            self._injected.append([re.compile(path_regex), fault, times])

    def _pick_fault(self, path: str = "") -> str | None:
        with self._log_lock:
            for entry in self._injected:
                if entry[2] > 0 and entry[0].fullmatch(path):
                    entry[2] -= 1
                    return str(entry[1])
            config = self.config
            if config.fault_rate <= 0 or not config.faults:
                return None
            if config.rng.random() >= config.fault_rate:
                return None
            return config.rng.choice(config.faults)

    def persist(self) -> None:
        """Write the app's state to `state_path` atomically (no-op without one)."""
        if self.state_path is None:
            return
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(self.app.dump_state(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def serve(self, request: Request, handler: _RequestHandler) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        app = self.app
        with app.in_flight() as within_limit:
            if self.config.latency > 0:
                time.sleep(self.config.latency)
            fault = self._pick_fault(request.path)
            if fault == "reset":
                self._record(request, None, fault)
                handler.drop()
            if fault in ("429", "500", "503"):
                response = app.fault_response(request, fault)
                self._record(request, response.status, fault)
                return response
            if fault == "timeout":
                time.sleep(self.config.fault_timeout)
            response = self._apply(request, within_limit)
            if fault == "reset_after_apply":
                self._record(request, None, fault)
                handler.drop()
            if fault == "truncated":
                payload, headers = response.encode()
                response = Response(response.status, headers=headers, body=payload[: len(payload) // 2])
            self._record(request, response.status, fault)
            return response

    def _apply(self, request: Request, within_limit: bool) -> Response:
        app = self.app
        matched = app.match(request)
        if isinstance(matched, Response):
            return matched
        if not within_limit:
            return app.concurrency_limited_response(request)
        if app.over_rate_limit(matched.endpoint, time.monotonic()):
            return app.rate_limited_response(request)
        with app.lock:
            early = app.before_request(request)
            if early is not None:
                return early
            response = matched.handler(request)
            if matched.write:
                self.persist()
        return response

    def _control(self, request: Request) -> Response:
        name = request.path[len(CONTROL_PREFIX):]
        if name == "log" and request.method == "GET":
            with self._log_lock:
                return Response(200, json={"log": [list(entry) for entry in self.log]})
        if name == "state" and request.method == "GET":
            with self.app.lock:
                return Response(200, json=self.app.dump_state())
        if name == "state" and request.method == "POST":
            with self.app.lock:
                self.app.load_state(request.json if isinstance(request.json, dict) else {})
                self.persist()
                return Response(200, json=self.app.dump_state())
        if name == "config" and request.method == "POST":
            try:
                return Response(200, json=self.configure(**(request.json or {})))
            except (TypeError, ValueError) as exc:
                return Response(400, json={"message": str(exc)})
        return Response(404, json={"message": f"no control endpoint {request.method} {request.path}"})

    def requests_to(self, path_regex: str, method: str | None = None) -> list[LogEntry]:
        """Logged requests whose path fully matches `path_regex` (and `method`, if given)."""
        pattern = re.compile(path_regex)
        with self._log_lock:
            return [e for e in self.log if pattern.fullmatch(e.path) and (method is None or e.method == method)]
