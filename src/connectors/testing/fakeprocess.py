"""A fake vendor server in a process of its own: survives a kill -9 of the client under test.

    python -m leadsync.connectors.testing.fakeprocess --app module:factory [--state FILE] [--latency S]

prints the server's URL on its first line, then serves until terminated.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from leadsync.connectors.testing.fakeapp import FakeApp
from leadsync.connectors.testing.fakeserver import FAULTS, FakeServer

__all__ = ["FakeServerProcess", "load_app", "main", "spawn_fake_server"]


def load_app(spec: str) -> FakeApp:
    """Build an app from "package.module:factory" (a FakeApp subclass or a function returning one)."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"--app must look like module:factory, got {spec!r}")
    factory = getattr(importlib.import_module(module_name), attr)
    app = factory()
    if not isinstance(app, FakeApp):
        raise TypeError(f"{spec} returned {type(app).__name__}, not a FakeApp")
    return app


class FakeServerProcess:
    """A fake server running in its own process (survives a kill -9 of the client under test)."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def stop(self) -> None:
        """Terminate the server process and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> FakeServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def spawn_fake_server(
    app: str,
    *,
    state_path: Path | str | None = None,
    port: int = 0,
    latency: float = 0.0,
    fault_rate: float = 0.0,
    faults: Sequence[str] = FAULTS,
    seed: int = 0,
    fault_timeout: float = 2.0,
    env: dict[str, str] | None = None,
) -> FakeServerProcess:
    """Start `python -m leadsync.connectors.testing.fakeprocess` for app spec "module:factory"."""
    command = [
        sys.executable, "-m", "leadsync.connectors.testing.fakeprocess", "--app", app, "--port", str(port),
        "--latency", str(latency), "--fault-rate", str(fault_rate), "--faults", ",".join(faults),
        "--seed", str(seed), "--fault-timeout", str(fault_timeout),
    ]  # fmt: skip
    if state_path is not None:
        command += ["--state", str(state_path)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("http://"):
        process.kill()
        process.wait(5)
        raise RuntimeError(f"fake server {app} did not start (exit {process.poll()}): {line!r}")
    return FakeServerProcess(process, line)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a fake vendor server until terminated.")
    parser.add_argument("--app", required=True, help="module:factory returning a FakeApp")
    parser.add_argument("--state", type=Path, default=None, help="JSON file the state lives in")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--fault-timeout", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    server = FakeServer(
        load_app(args.app),
        latency=args.latency,
        fault_rate=args.fault_rate,
        faults=[f for f in args.faults.split(",") if f],
        seed=args.seed,
        state_path=args.state,
        fault_timeout=args.fault_timeout,
        port=args.port,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
