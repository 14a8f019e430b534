"""The run lock: a second run is refused at once; a killed holder leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from leadsync.core.errors import LockHeld
from leadsync.core.sync.lock import RunLock


def test_second_lock_is_refused(tmp_path):
    state = tmp_path / "state.db"
    with RunLock(state):
        with pytest.raises(LockHeld, match=str(os.getpid())):
            RunLock(state).__enter__()
    with RunLock(state):  # released on exit
        pass


def test_lock_of_a_killed_process_is_released(tmp_path):
    state = tmp_path / "state.db"
    code = f"from leadsync.core.sync.lock import RunLock\nimport time, pathlib\nwith RunLock(pathlib.Path({str(state)!r})):\n    print('held', flush=True); time.sleep(60)\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(LockHeld):
        RunLock(state).__enter__()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.time() + 5
    while True:
        try:
            with RunLock(state):
                break
        except LockHeld:
            assert time.time() < deadline
            time.sleep(0.05)
