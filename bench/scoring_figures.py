"""(c) Running the scoring helper's bench/scoring_bench.py in a subprocess and reading its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.fakeproc import REPO, bench_env

__all__ = ["SCORING_BENCH", "parse_scoring_output", "run_scoring_bench"]

SCORING_BENCH = Path(__file__).resolve().parent / "scoring_bench.py"

_GENERATED = re.compile(r"^generated .*$")
_OTHER = re.compile(r"^(?P<name>duckdb baseline|state size|nothing changed):\s*(?P<text>.*)$")
_PHASE = re.compile(
    r"^(?P<label>full rescore|incremental \([\d,]+\)):\s+(?P<seconds>[\d.]+) s\s+peak RSS\s+(?P<rss>[\d.]+) MB\s*(?P<detail>.*)$"
)


def parse_scoring_output(lines: list[str]) -> dict[str, Any]:
    """The figures in scoring_bench.py's printed lines (its format as of this writing)."""
    found: dict[str, Any] = {}
    for line in lines:
        line = line.strip()
        if _GENERATED.match(line):
            found["generated"] = line
        elif match := _OTHER.match(line):
            found[match["name"].replace(" ", "_")] = match["text"].strip()
        elif match := _PHASE.match(line):
            name = "full" if match["label"].startswith("full") else "incremental"
            found[name] = {"label": match["label"], "seconds": float(match["seconds"]),
                           "peak_rss_mb": float(match["rss"]), "detail": match["detail"].strip()}  # fmt: skip
    return found


def run_scoring_bench(quick: bool, *, timeout: float = 1800.0) -> dict[str, Any]:
    """Run bench/scoring_bench.py (full: 1M leads / 10M activities; quick: its --quick)."""
    command = [sys.executable, str(SCORING_BENCH.relative_to(REPO))] + (["--quick"] if quick else [])
    shown = "python " + " ".join(command[1:])
    if not SCORING_BENCH.exists():
        return {"missing": f"{SCORING_BENCH.relative_to(REPO)} not found", "command": shown}
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=bench_env(), cwd=REPO, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "command": shown}
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {completed.returncode}: " + " | ".join(tail), "command": shown, "output": lines}
    return {"command": shown, "output": lines, **parse_scoring_output(lines)}
