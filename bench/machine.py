"""A description of the machine and software a benchmark ran on."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "describe_machine", "machine_markdown"]

# Packages whose versions decide the figures.
PACKAGES = ("leadsync", "leadsync-hubspot", "httpx", "pydantic", "tenacity", "dlt", "duckdb", "pyarrow", "requests")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and the versions of the packages that matter."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "packages": {name: _version(name) for name in PACKAGES},
        "load_average": _load_average(),
        "commit": _commit(),
    }


def _commit() -> str:
    """The checkout's commit, marked when the engine or plugins have uncommitted changes."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "plugins"], cwd=repo, capture_output=True,
                               text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = head.stdout.strip() or "unknown"
    return commit + (" (src/ or plugins/ modified)" if dirty.stdout.strip() else "")


def _load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages: other work on the machine skews every figure."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine_markdown(machine: dict[str, Any]) -> str:
    """The machine description as a markdown list."""
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    return "\n".join(
        [
            f"- CPU: {machine['cpu']} ({machine['cores']} cores)",
            f"- RAM: {machine['ram_gib']} GiB",
            f"- OS: {machine['os']}",
            f"- Python: {machine['python']}",
            f"- Packages: {packages}",
            f"- Load average at start (1/5/15 min): {machine.get('load_average')}",
            f"- leadsync checkout: {machine.get('commit', 'unknown')}",
        ]
    )
