"""The markdown report of a benchmark run (bench/results/latest.md)."""

from __future__ import annotations

from typing import Any

from bench.machine import machine_markdown

__all__ = ["render"]


def _n(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _goal(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _phase_rows(run: dict[str, Any]) -> list[list[str]]:
    rows = []
    for phase in run["phases"]:
        counts = ", ".join(f"{bucket} {n}" for bucket, n in sorted(phase["counts"].items()))
        kinds = ", ".join(f"{kind} {n}" for kind, n in phase["kinds"].items())
        ratio = _n(phase["rate_ratio"], 2) if phase["rate_bound"] else f"({_n(phase['rate_ratio'], 2)}, one burst)"
        rows.append([phase["name"], kinds, counts, _n(phase["minimum"]), _n(phase["duration_s"], 1), phase["binding"], ratio])
    return rows


def _sync(section: dict[str, Any]) -> list[str]:
    first, rerun = section["first_sync"], section["no_change"]
    budget = section["budget"]
    summary = first["summary"]
    pulled = summary["pulled"].get("hubspot", {})
    lines = [
        "## (a) First sync under HubSpot's rate limits",
        "",
        *([f"**What-if run: leadsync patched with experiments {', '.join(section['experiments'])} "
           "(bench/experiments.py); these are not stock figures.**", ""] if section.get("experiments") else []),
        f"{section['contacts']:,} contacts and {section['activities']:,} activities (calls and meetings) in the "
        f"HubSpot fake, {section['latency_s'] * 1000:.0f} ms latency per request, limits {budget['per_10s']} requests "
        f"per 10 s (default bucket) and {budget['search_per_s']} searches per second. One `run_sync` pulls, scores, "
        "hands off and pushes.",
        "",
    ]
    rate_ratio, request_ratio = first["rate_ratio"], first["request_ratio"]
    rows = [
        ["records pulled", ", ".join(f"{k} {v:,}" for k, v in pulled.items()), ""],
        ["scores pushed / tasks created", f"{summary['scores_pushed']:,} / {summary['tasks_created']:,}", ""],
        ["wall time (run_sync)", f"{first['seconds']:,.1f} s" + (
            f" (pull {first['timeline']['pull_s']:,.1f} s, score + hand off {first['timeline']['score_handoff_s']:,.1f} s, "
            f"push {first['timeline']['push_s']:,.1f} s)" if first.get("timeline") else ""), ""],
        ["theoretical minimum (minimum requests / allowed rate, buckets in parallel)", f"{first['theoretical_min_s']:,.1f} s", ""],
        ["wall time / theoretical minimum", _n(first["seconds"] / first["theoretical_min_s"], 2) if first["theoretical_min_s"] else "n/a", ""],
        ["achieved request rate / allowed rate (rate-bound phases)", _n(rate_ratio, 3), f">= 0.95: {_goal(None if rate_ratio is None else rate_ratio >= 0.95)}"],
        ["requests made / minimum for the documented batch sizes", f"{first['requests']['total']:,} / {first['minimum_total']:,} = {_n(request_ratio, 2)}",
         f"<= 1.02: {_goal(None if request_ratio is None else request_ratio <= 1.02)}"],
        ["non-2xx answers received", f"{first['requests']['refused']:,} "
         f"({', '.join(f'{k} x{v}' for k, v in first['requests'].get('refused_kinds', {}).items()) or 'none'})", ""],
        ["peak RSS (client process)", f"{first['peak_rss_mib']:,.0f} MiB", ""],
    ]  # fmt: skip
    lines += _table(["figure", "value", "goal"], rows)
    lines += ["", "Per phase (minimum: HubSpot's documented page and batch sizes):", ""]
    lines += _table(["phase", "requests", "by bucket", "minimum", "seconds", "binding bucket", "achieved / allowed"], _phase_rows(first))
    rs = rerun["summary"]
    writes = rerun["requests"]["writes"]
    streams = len(rs["pulled"].get("hubspot", {}))
    echo = {k: v for k, v in rs["pulled"].get("hubspot", {}).items() if v}
    lines += [
        "",
        "## (b) Second run, nothing changed upstream",
        "",
        f"The same state store and fake, run again at once. Goal: only the empty increments ({streams} requests: "
        "one empty search per stream) and no write. Records read now can only be echoes of the first run's own "
        "writes (HubSpot bumps `lastmodifieddate` when leadsync writes its score properties).",
        "",
    ]
    rows = [
        ["requests made", f"{rerun['requests']['total']:,} ({', '.join(f'{k} {v:,}' for k, v in rerun['requests']['kinds'].items())})",
         f"{streams}: {_goal(rerun['requests']['total'] <= streams)}"],
        ["records re-read (echoes)", ", ".join(f"{k} {v:,}" for k, v in echo.items()) or "none", ""],
        ["leads rescored / segment changes", f"{rs['scored']:,} / {rs['segment_changes']:,}", ""],
        ["writes (score updates, task creates, upserts)", f"{writes:,}", f"0: {_goal(writes == 0)}"],
        ["non-2xx answers received", f"{rerun['requests']['refused']:,}", ""],
        ["wall time", f"{rerun['seconds']:,.1f} s" + (
            f" (pull {rerun['timeline']['pull_s']:,.1f} s, score + hand off {rerun['timeline']['score_handoff_s']:,.1f} s)"
            if rerun.get("timeline") else ""), ""],
        ["peak RSS (client process)", f"{rerun['peak_rss_mib']:,.0f} MiB", ""],
    ]  # fmt: skip
    lines += _table(["figure", "value", "goal"], rows)
    return lines


def _scoring(section: dict[str, Any]) -> list[str]:
    lines = ["## (c) Scoring", ""]
    if section.get("missing"):
        return lines + [f"bench/scoring_bench.py is not there: {section['missing']}"]
    if section.get("error"):
        return lines + [f"bench/scoring_bench.py failed: {section['error']}"]
    lines += [f"`{section['command']}` (the scoring helper's benchmark, run as a subprocess):", ""]
    rows = []
    for name in ("full", "incremental"):
        phase = section.get(name)
        if phase:
            rows.append([phase["label"], _n(phase["seconds"], 2) + " s", _n(phase["peak_rss_mb"]) + " MB", phase["detail"]])
    if rows:
        lines += _table(["rescore", "time", "peak RSS", "detail"], rows)
    if section.get("generated"):
        lines += ["", f"Store: {section['generated']}"]
    for name in ("duckdb_baseline", "state_size", "nothing_changed"):
        if section.get(name):
            lines += ["", f"{name.replace('_', ' ').capitalize()}: {section[name]}"]
    if not rows:
        lines += ["```", *section.get("output", []), "```"]
    return lines


def _pull(section: dict[str, Any]) -> list[str]:
    results = section["results"]
    ours = results.get("leadsync")
    lines = [
        f"### {section['contacts']:,} contacts, no rate limit, {section['latency_s'] * 1000:.0f} ms latency",
        "",
        *([f"**What-if: leadsync patched with {', '.join(section['experiments'])} (bench/experiments.py); "
           "not stock figures.**", ""] if section.get("experiments") else []),
    ]
    rows = []
    for name, result in results.items():
        ratio = ours["records_per_s"] / result["records_per_s"] if ours and result["records_per_s"] else None
        rss = ours["peak_rss_mib"] / result["peak_rss_mib"] if ours and result["peak_rss_mib"] else None
        cpu = result.get("cpu_seconds")
        cpu_us = cpu / result["records"] * 1e6 if cpu and result["records"] else None
        ours_cpu = ours.get("cpu_seconds") if ours else None
        cpu_ratio = cpu / ours_cpu if cpu and ours_cpu else None  # = leadsync records per CPU-second ÷ this
        rows.append([name, _n(result["records"]), _n(result["requests"]), _n(result["seconds"], 2),
                     _n(result.get("process_seconds"), 2), _n(result["records_per_s"]),
                     _n(result["peak_rss_mib"]), _n(ratio, 2), _n(rss, 2), _n(cpu_us), _n(cpu_ratio, 2)])  # fmt: skip
    lines += _table(["contender", "records", "requests", "seconds (pull)", "seconds (process)", "records/s (pull)",
                     "peak RSS MiB", "leadsync records/s ÷ this", "leadsync RSS ÷ this", "CPU µs per record (pull)",
                     "leadsync records per CPU-s ÷ this"], rows)  # fmt: skip
    if ours and "dlt_duckdb" in results and "dlt_fetch" in results:
        duck, fetch = results["dlt_duckdb"], results["dlt_fetch"]
        lines += ["", *_table(["goal", "value", ""], [
            ["leadsync >= 2x dlt's duckdb pipeline", _n(ours["records_per_s"] / duck["records_per_s"], 2), _goal(ours["records_per_s"] >= 2 * duck["records_per_s"])],
            ["leadsync no slower than dlt fetch-only", _n(ours["records_per_s"] / fetch["records_per_s"], 2), _goal(ours["records_per_s"] >= fetch["records_per_s"])],
            ["leadsync peak RSS no higher than dlt's (lower of the two)", _n(ours["peak_rss_mib"] / min(duck["peak_rss_mib"], fetch["peak_rss_mib"]), 2),
             _goal(ours["peak_rss_mib"] <= min(duck["peak_rss_mib"], fetch["peak_rss_mib"]))],
        ])]  # fmt: skip
    return lines + [""]


def render(results: dict[str, Any]) -> str:
    """The whole report."""
    lines = [
        f"# leadsync benchmarks ({results['mode']} mode)",
        "",
        f"Command: `{results['command']}`  ",
        f"Started {results['started']}, took {results['seconds']:,.0f} s.",
        "",
        "## Machine",
        "",
        machine_markdown(results["machine"]),
        f"- Load average at end (1/5/15 min): {results.get('load_average_end')}",
        "",
        *([f"Note: {results['note']}", ""] if results.get("note") else []),
    ]
    if "sync" in results:
        lines += _sync(results["sync"]) + [""]
    if "scoring" in results:
        lines += _scoring(results["scoring"]) + [""]
    if "pull" in results:
        lines += [
            "## (d) Full pull side by side: leadsync, dlt, bare httpx",
            "",
            "Each contender runs alone in its own subprocess against one fake process (peak RSS = the child's "
            "ru_maxrss). leadsync: the HubSpot connector's contacts stream through the engine's pull and ingest "
            "into a SQLite StateStore (its client-side rate limiter removed, as the fake has none). dlt: the "
            "`rest_api` source, iterated alone (fetch-only) and in a pipeline into duckdb with the **parquet** "
            "loader file format. bare httpx: a keep-alive paging loop that parses the JSON and counts (the ceiling).",
            "",
        ]
        for section in results["pull"]:
            lines += _pull(section)
    return "\n".join(lines).rstrip() + "\n"
