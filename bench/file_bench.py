"""Peak memory and speed of the file connector on a big leads.csv (never committed: made in a temp folder).

    .venv/bin/python -m bench.file_bench                  # ~200 MB, 946,500 rows: connections check + pull-only read
    .venv/bin/python -m bench.file_bench --rows 100000 --sync   # also a whole `sync run` (slow on big files)

Each command runs as a child process; its peak RSS is the child's ru_maxrss. The file is built
by repeating the demo's leads with unique e-mails, so it looks like a real export (Japanese
names and companies, UTF-8 with BOM).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from leadsync.connectors.testing.project import demo_project

READ_ONLY = """
import sys, time
from datetime import datetime, timezone
from leadsync.connectors.base import ReadContext
from leadsync.connectors.builtin.file import FileConnector, FileSettings
c = FileConnector("ma", FileSettings(plugin="file", path=sys.argv[1], roles=["leads"]), timezone="Asia/Tokyo")
n = 0
t = time.monotonic()
for page in c.streams()[0].read(ReadContext(cursor=None, signpost=datetime.now(timezone.utc))):
    n += len(page.records)
print(n, time.monotonic() - t)
"""


def make_big_leads(folder: Path, rows: int) -> Path:
    """leads.csv of `rows` rows: the demo's leads again and again, each with its own e-mail."""
    source = (folder / "data" / "leads.csv").read_text(encoding="utf-8-sig").splitlines()
    header, template = source[0], source[1:]
    email_at = header.split(",").index("email")
    id_at = header.split(",").index("id")
    path = folder / "data" / "leads.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        handle.write(header + "\r\n")
        for n in range(rows):
            cells = template[n % len(template)].split(",")
            if len(cells) > max(email_at, id_at):
                cells[email_at] = f"lead{n}@example{n % 997}.co.jp"
                cells[id_at] = f"L{n}"
            handle.write(",".join(cells) + "\r\n")
    (folder / "data" / "activities.csv").write_text("email,type,occurred_at\r\n", encoding="utf-8-sig")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=946_500)
    parser.add_argument("--step", choices=["check", "read", "sync"], action="append",
                        help="what to measure (repeatable; default: check and read)")
    parser.add_argument("--sync", action="store_true", help="also measure a whole `sync run`")
    options = parser.parse_args()
    steps = options.step or ["check", "read"] + (["sync"] if options.sync else [])
    with tempfile.TemporaryDirectory(prefix="leadsync-file-bench-") as temp:
        folder = Path(temp)
        demo_project(folder, None, leads=2000, activities=10, anchor=datetime(2026, 1, 5, tzinfo=timezone.utc))
        path = make_big_leads(folder, options.rows)
        print(f"leads.csv: {options.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB")
        base = [sys.executable, "-m", "leadsync", "--config", str(folder / "leadsync.toml")]
        for step in steps:
            # One child per step: RUSAGE_CHILDREN keeps the maximum over all children.
            runner = [sys.executable, "-c", (
                "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
                "print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else '', r.returncode,"
                " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")]
            command = {"check": base + ["connections", "check", "ma"],
                       "read": [sys.executable, "-c", READ_ONLY, str(folder / "data")],
                       "sync": base + ["sync", "run", "--json"]}[step]
            started = time.monotonic()
            out = subprocess.run(runner + command, capture_output=True, text=True, cwd=folder).stdout.strip().split()
            elapsed = time.monotonic() - started
            peak_mb = int(out[-1]) / 1024
            print(f"{step:5s}: exit {out[-2]}, {elapsed:6.1f} s, peak RSS {peak_mb:6.0f} MB, "
                  f"{options.rows / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
