"""Learned budgets: a first sync with no rate in leadsync.toml against a HubSpot that announces one.

`python -m bench.learn_bench --contacts 20000` starts the benchmark fake announcing 190 per 10 s
(`X-HubSpot-RateLimit-Max`/`-Interval-Milliseconds`) and 19 per second (`-Secondly`/`-Secondly-
Remaining`, private-app token), enforcing both, and runs `leadsync sync run` with no
`requests_per_10s` or `search_per_second`: leadsync starts at 100 per 10 s and adopts what it is told.
It prints the share of the announced rate used in the phases bound by the ten-secondly budget and
the 429s by kind, as markdown and as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.accounting import Budget
from bench.sync_bench import run_sync_scenario

__all__ = ["learned_figures", "main"]


def learned_figures(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of one learned-budget scenario: announced-rate share, 429s, requests, phases."""
    first = result["first_sync"]
    refused = {k: v for k, v in first["requests"]["refused_kinds"].items() if k.endswith(" 429")}
    return {
        "contacts": result["contacts"],
        "activities": result["activities"],
        "announced": result["budget"],
        "announced_rate_ratio": first["announced_rate_ratio"],
        "rate_ratio_all_buckets": first["rate_ratio"],
        "requests": first["requests"]["total"],
        "minimum": first["minimum_total"],
        "refused_429": sum(refused.values()),
        "refused_kinds": first["requests"]["refused_kinds"],
        "seconds": first["seconds"],
        "phases": [{k: p[k] for k in ("name", "binding", "requests", "duration_s", "rate_ratio", "rate_bound")}
                   for p in first["phases"]],
        "pulled": first["summary"]["pulled"].get("hubspot", {}),
        "scores_pushed": first["summary"]["scores_pushed"],
        "tasks_created": first["summary"]["tasks_created"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--activities", type=int, default=20_000)
    parser.add_argument("--per-10s", type=int, default=190)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args(argv)
    result = run_sync_scenario(args.contacts, args.activities, latency=args.latency_ms / 1000,
                               budget=Budget(args.per_10s, 5), learn=True)
    figures = learned_figures(result)
    print(f"| contacts | {figures['contacts']:,} |\n| announced | {args.per_10s} per 10 s, {max(1, args.per_10s // 10)} per s |")
    print(f"| share of the announced rate (ten-secondly-bound phases) | {figures['announced_rate_ratio']:.3f} |")
    print(f"| 429 answers | {figures['refused_429']} |\n| requests / minimum | {figures['requests']} / {figures['minimum']} |")
    for phase in figures["phases"]:
        print(f"| phase {phase['name']} ({phase['binding']}) | {phase['requests']} requests, {phase['duration_s']:.1f} s, "
              f"{(phase['rate_ratio'] or 0):.3f} of the allowed rate |")
    print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
