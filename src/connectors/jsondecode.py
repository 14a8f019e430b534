"""Decoding a vendor's JSON answer: `json.loads`'s result, by orjson (about twice as fast) when it
is installed and gives exactly that result.

orjson reads integers beyond 64 bits as floats where `json` keeps them exact, and refuses what
`json` accepts (NaN, lone surrogates, a byte-order mark, other encodings). So an answer with a run
of 19 or more digits goes to `json` at once, and anything orjson refuses goes to `json`, which
returns the same value or raises the same error as before.
"""

from __future__ import annotations

import json
from typing import Any

try:  # an optional accelerator: without it every answer is decoded by the standard library
    import orjson
except ImportError:  # pragma: no cover - the project's environment has it
    orjson = None  # type: ignore[assignment]

__all__ = ["loads"]

# Every digit as "0", everything else as " ": a run of 19 digits is then a plain substring search.
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19  # 19 digits can exceed a signed 64-bit integer


def loads(body: bytes) -> Any:
    """`json.loads(body)`: the same value, or the same error."""
    if orjson is not None and _LONG_RUN not in body.translate(_DIGITS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)
