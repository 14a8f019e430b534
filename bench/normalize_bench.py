"""Micro-benchmark of normalize_email on the hot path: plain ASCII addresses, and a mixed set.

    .venv/bin/python -m bench.normalize_bench
"""

from __future__ import annotations

import timeit

from leadsync.core.normalize import normalize_email

ASCII = [f"User.{i}@Example{i % 50}.co.jp" for i in range(1000)]
MIXED = ASCII[:900] + ["ｔａｒｏ@ｅｘａｍｐｌｅ.ｊｐ", "a\u200b@example.jp", "x@例え.テスト", "y@example.com."] * 25


def per_call_ns(values: list[str], repeat: int = 5, number: int = 20) -> float:
    best = min(timeit.repeat(lambda: [normalize_email(v) for v in values], repeat=repeat, number=number))
    return best / (number * len(values)) * 1e9


if __name__ == "__main__":
    print(f"normalize_email ASCII: {per_call_ns(ASCII):.0f} ns/call")
    print(f"normalize_email mixed (10% non-ASCII): {per_call_ns(MIXED):.0f} ns/call")
