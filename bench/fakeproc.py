"""Starting a fake vendor in its own process (its CPU must not count against the client) and reading its log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from leadsync.connectors.testing.fakeprocess import FakeServerProcess, spawn_fake_server

__all__ = ["REPO", "bench_env", "fake_process", "fetch_log"]

REPO = Path(__file__).resolve().parents[1]


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for subprocesses: the repo on sys.path (for `bench.*`), dlt telemetry off, and
    bytecode cached as in any installation (a shell with PYTHONDONTWRITEBYTECODE=1 would make every
    contender compile, inside its timed pull, the modules it imports lazily)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": path, "RUNTIME__DLTHUB_TELEMETRY": "false", **(extra or {})}


@contextmanager
def fake_process(app: str, *, latency: float, env: dict[str, str] | None = None) -> Iterator[FakeServerProcess]:
    """A fake server process for app spec "module:factory", stopped on exit."""
    server = spawn_fake_server(app, latency=latency, fault_rate=0.0, env=bench_env(env))
    try:
        yield server
    finally:
        server.stop()


def fetch_log(url: str) -> list[list[Any]]:
    """The fake's request log: [time_s, method, path, status, fault] per request, in order served."""
    response = httpx.get(f"{url}/__fake__/log", timeout=60)
    response.raise_for_status()
    return response.json()["log"]
