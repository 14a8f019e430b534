"""kill -9 trials for a plugin's end-to-end tests: start runs, SIGKILL them at random moments, settle.

A world is a project against a fake vendor (`demo_project` and a FakeServer) that can run
`leadsync sync run` as a child process. The caller then checks exactly-once against the vendor's
state and the state store.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from typing import Any, Protocol

__all__ = ["KillWorld", "kill_trials", "kill_trials_until_settled"]


class KillWorld(Protocol):
    """What the trials need of a world."""

    rng: random.Random

    def run(self) -> dict[str, Any]:
        """`leadsync sync run --json` to the end; its summary."""

    def start(self) -> subprocess.Popen[Any]:
        """`leadsync sync run` started as a child process."""

    def mutate(self) -> None:
        """Edit the upstream data so the next run has work to do."""


def kill_trials(default: int = 12) -> int:
    """How many kill -9 trials to run: LEADSYNC_KILL_TRIALS, else a CI-sized default."""
    return int(os.environ.get("LEADSYNC_KILL_TRIALS") or default)


def kill_trials_until_settled(world: KillWorld, trials: int) -> dict[str, float]:
    """Run `trials` kill -9 trials (edit upstream, start a run, SIGKILL it at a random moment), then
    rerun until a run has nothing left to do. Returns the figures."""
    baseline = world.run()
    assert baseline["exit_status"] == 0 and baseline["tasks_created"] > 0, baseline
    for _ in range(3):  # a random edit may move no score; the kill window is a run that pushes
        world.mutate()
        started = time.monotonic()
        second = world.run()
        incremental = time.monotonic() - started
        if second["scores_pushed"] > 0:
            break
    else:
        raise AssertionError(f"edits moved no score: {second}")
    killed = 0
    began = time.monotonic()
    for _ in range(trials):
        world.mutate()
        process = world.start()
        time.sleep(world.rng.uniform(0.05, incremental))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.communicate(timeout=120)
    settle_runs = 0
    for _ in range(5):
        summary = world.run()
        settle_runs += 1
        assert summary["exit_status"] == 0, summary
        if (summary["tasks_created"], summary["scores_pushed"], summary["tasks_planned"]) == (0, 0, 0):
            break
    else:
        raise AssertionError(f"runs did not settle: {summary}")
    return {"trials": trials, "killed": killed, "settle_runs": settle_runs,
            "seconds": round(time.monotonic() - began, 1), "incremental_run_s": round(incremental, 2)}
