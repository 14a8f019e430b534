"""Run the test suite several times in a row with every core busy, and say which rounds failed.

A test that passes only on an idle machine hides a bug. This starts one CPU burner per core (pure
Python loops in child processes), runs pytest ROUNDS times, stops the burners, and exits non-zero
when any round failed:

    python tests/reliability/under_load.py                     # the whole suite, 5 rounds
    python tests/reliability/under_load.py --reliability       # the kill/fault/signal tests only
    python tests/reliability/under_load.py --rounds 3 -- -k kill9   # extra arguments go to pytest
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _burn() -> None:
    while True:
        pass


def _reliability_paths() -> list[str]:
    patterns = ("test_*kill*.py", "test_*reliability*.py")
    plugin_tests = sorted({path for pattern in patterns
                           for path in glob.glob(str(REPO / "plugins" / "*" / "tests" / pattern))})
    return [str(REPO / "tests" / "reliability"), *plugin_tests]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2, help="busy processes (default: cores)")
    parser.add_argument("--reliability", action="store_true", help="only the reliability tests")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)

    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += _reliability_paths() if args.reliability else []
    command += args.pytest_args
    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(args.burners)]
    for burner in burners:
        burner.start()
    failed: list[int] = []
    try:
        for round_number in range(1, args.rounds + 1):
            started = time.monotonic()
            result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"round {round_number}/{args.rounds}: exit {result.returncode} in "
                  f"{time.monotonic() - started:.0f} s with {args.burners} burners: {last}", flush=True)
            if result.returncode != 0:
                failed.append(round_number)
                print(result.stdout[-4000:], result.stderr[-2000:], sep="\n", flush=True)
    finally:
        for burner in burners:
            burner.terminate()
    print(f"{args.rounds - len(failed)} passed, {len(failed)} failed" + (f" (rounds {failed})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
