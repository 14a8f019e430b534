"""The fake-server framework: keep-alive, TCP_NODELAY, routing, limits, faults, persistence, processes."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from leadsync.connectors.errors import AmbiguousWriteError
from leadsync.connectors.auth import BearerToken
from leadsync.connectors.http import HttpClient
from leadsync.connectors.retry import Resolution
from leadsync.connectors.testing.fakeprocess import spawn_fake_server
from leadsync.connectors.testing.fakeserver import FakeServer

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("fake_notes_app", HERE / "fake_notes_app.py")
notes = importlib.util.module_from_spec(_spec)
sys.modules["fake_notes_app"] = notes
_spec.loader.exec_module(notes)

AUTH = {"Authorization": "Bearer good-token"}


@pytest.fixture
def server():
    with FakeServer(notes.NotesApp()) as srv:
        yield srv


def test_routes_params_query_and_auth_hook(server: FakeServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        created = client.post("/notes", json={"text": "hello"})
        assert created.status_code == 201 and created.json() == {"id": "1", "text": "hello"}
        client.post("/notes", json={"text": "world"})
        assert client.get("/notes/2").json()["text"] == "world"
        assert client.get("/notes/99").status_code == 404
        assert len(client.get("/notes", params={"limit": 1}).json()["results"]) == 1
        assert client.get("/nowhere").status_code == 404
        assert client.delete("/notes").status_code == 405
        assert client.get("/notes", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert [(e.method, e.path, e.status) for e in server.log[:2]] == [("POST", "/notes", 201)] * 2


def test_keep_alive_reuses_one_connection_and_nodelay_is_set(server: FakeServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        client.post("/notes", json={"text": "x"})
        started = time.perf_counter()
        for _ in range(50):
            assert client.post("/notes/search", json={"text": "x"}).status_code == 200
        elapsed = time.perf_counter() - started
    assert server.connections_accepted == 1
    # Nagle + delayed ACK would cost ~40 ms per request; 50 requests must take far less than 2 s.
    assert elapsed < 1.0, elapsed

    raw = socket.create_connection(("127.0.0.1", server.server_address[1]))
    raw.sendall(b"GET /__fake__/state HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    accepted = list(server._connections)
    assert accepted and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in accepted)
    raw.close()


def test_vendor_shaped_rate_limit_window(server: FakeServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        answers = [client.post("/notes/search", json={}).json() for _ in range(5)]
        assert client.get("/notes").status_code == 200  # other endpoint classes are unaffected
    assert [a["success"] for a in answers] == [True, True, True, False, False]
    assert answers[3]["errors"][0]["code"] == "606"


def test_concurrency_limit() -> None:
    app = notes.NotesApp()
    app.concurrency_limit = 1
    with FakeServer(app, latency=0.2) as srv:
        import concurrent.futures

        with httpx.Client(base_url=srv.url, headers=AUTH) as client:
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                bodies = list(pool.map(lambda _: client.get("/notes").json(), range(4)))
    assert sum(1 for b in bodies if b.get("success") is False) >= 1
    assert sum(1 for b in bodies if "results" in b) >= 1


@pytest.mark.parametrize("fault", ["429", "500", "503"])
def test_status_faults(fault: str) -> None:
    with FakeServer(notes.NotesApp(), fault_rate=1.0, faults=[fault]) as srv:
        response = httpx.get(f"{srv.url}/notes", headers=AUTH)
    if fault == "429":
        assert response.json()["errors"][0]["code"] == "606"  # the app's own rate-limit shape
    else:
        assert response.status_code == int(fault)
    assert srv.log[-1].fault == fault


def test_reset_drops_before_applying() -> None:
    with FakeServer(notes.NotesApp(), fault_rate=1.0, faults=["reset"]) as srv:
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{srv.url}/notes", json={"text": "lost"}, headers=AUTH)
        assert srv.app.state["notes"] == {}
        assert srv.log[-1].status is None and srv.log[-1].fault == "reset"


def test_reset_after_apply_applies_then_drops_and_client_raises_ambiguous() -> None:
    with FakeServer(notes.NotesApp(), fault_rate=1.0, faults=["reset_after_apply"]) as srv:
        with HttpClient(base_url=srv.url, auth=BearerToken("good-token"), sleep=lambda s: None) as client:
            with pytest.raises(AmbiguousWriteError):
                client.post("/notes", json={"text": "applied"})
        assert [n["text"] for n in srv.app.state["notes"].values()] == ["applied"]


def test_timeout_fault_answers_too_late() -> None:
    with FakeServer(notes.NotesApp(), fault_rate=1.0, faults=["timeout"], fault_timeout=0.5) as srv:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{srv.url}/notes", headers=AUTH, timeout=0.1)


def marketo_rate_limit(response: httpx.Response) -> Resolution | None:
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if isinstance(body, dict) and body.get("success") is False:
        return Resolution.RETRY
    return None


def test_http_client_rides_through_random_faults_on_reads() -> None:
    with FakeServer(notes.NotesApp(), fault_rate=0.3, faults=["429", "500", "503", "reset"], seed=7) as srv:
        srv.app.state["notes"]["1"] = {"id": "1", "text": "a"}
        with HttpClient(
            base_url=srv.url, auth=BearerToken("good-token"), sleep=lambda s: None, max_retries=10,
            classify=marketo_rate_limit,
        ) as client:
            for _ in range(30):
                assert client.get("/notes/1").json()["text"] == "a"
        faults = [e.fault for e in srv.log if e.fault]
    assert len(faults) >= 3  # faults really happened and were retried


def test_faults_are_reproducible_with_a_seed() -> None:
    def run() -> list[str | None]:
        with FakeServer(notes.NotesApp(), fault_rate=0.5, faults=["500", "503"], seed=3) as srv:
            with httpx.Client(base_url=srv.url, headers=AUTH) as client:
                for _ in range(20):
                    client.get("/notes")
            return [e.fault for e in srv.log]

    assert run() == run()


def test_control_endpoints(server: FakeServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        client.post("/notes", json={"text": "a"})
        assert client.get("/__fake__/state").json()["notes"]["1"]["text"] == "a"
        config = client.post("/__fake__/config", json={"latency": 0.05, "fault_rate": 0.0}).json()
        assert config["latency"] == 0.05
        assert client.post("/__fake__/config", json={"bogus": 1}).status_code == 400
        started = time.perf_counter()
        client.get("/notes")
        assert time.perf_counter() - started >= 0.05
        log = client.get("/__fake__/log").json()["log"]
        assert [entry[1:4] for entry in log] == [["POST", "/notes", 201], ["GET", "/notes", 200]]
        replaced = client.post("/__fake__/state", json={"notes": {}, "next_id": 10}).json()
        assert replaced["next_id"] == 10


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FakeServer(notes.NotesApp(), faults=["explode"])


def test_state_persists_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "notes.json"
    with FakeServer(notes.NotesApp(), state_path=state) as srv:
        httpx.post(f"{srv.url}/notes", json={"text": "kept"}, headers=AUTH)
        httpx.post(f"{srv.url}/notes/search", json={"text": "kept"}, headers=AUTH)  # not a write
    assert json.loads(state.read_text())["next_id"] == 2
    with FakeServer(notes.NotesApp(), state_path=state) as srv:
        assert httpx.get(f"{srv.url}/notes/1", headers=AUTH).json()["text"] == "kept"
        created = httpx.post(f"{srv.url}/notes", json={"text": "next"}, headers=AUTH).json()
    assert created["id"] == "2"


def test_separate_process_survives_a_killed_client(tmp_path: Path) -> None:
    state = tmp_path / "notes.json"
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    with spawn_fake_server("fake_notes_app:make_app", state_path=state, env=env) as proc:
        client_code = (
            "import httpx, os, signal, sys\n"
            "httpx.post(sys.argv[1] + '/notes', json={'text': 'before kill'},"
            " headers={'Authorization': 'Bearer good-token'})\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        import subprocess

        result = subprocess.run([sys.executable, "-c", client_code, proc.url], timeout=30)
        assert result.returncode == -signal.SIGKILL
        notes_now = httpx.get(f"{proc.url}/notes", headers=AUTH).json()["results"]
        assert [n["text"] for n in notes_now] == ["before kill"]
    assert proc.process.returncode is not None
    assert json.loads(state.read_text())["notes"]["1"]["text"] == "before kill"


def test_spawn_reports_a_bad_app() -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        spawn_fake_server("no_such_module_xyz:factory")


def test_client_concurrency_cap_keeps_within_the_vendor_limit() -> None:
    import concurrent.futures

    from leadsync.connectors.ratelimit import RateLimiter

    app = notes.NotesApp()
    app.concurrency_limit = 2
    with FakeServer(app, latency=0.05) as srv:
        assert srv.url.startswith("http://127.0.0.1:") and not srv.url.endswith(":0")
        with HttpClient(
            base_url=srv.url, auth=BearerToken("good-token"), limiter=RateLimiter(concurrency=2),
            classify=marketo_rate_limit, max_retries=0,
        ) as client:
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                statuses = list(pool.map(lambda _: client.get("/notes").json(), range(12)))
    assert all("results" in body for body in statuses)  # never over the limit, so never refused
    assert srv.connections_accepted <= 2
