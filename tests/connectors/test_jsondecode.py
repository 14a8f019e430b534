"""leadsync.connectors.jsondecode.loads returns what json.loads returns, or raises what it raises."""

from __future__ import annotations

import json
import math
import random

import pytest

from leadsync.connectors import jsondecode
from leadsync.connectors.jsondecode import loads

_TRICKY = [
    b'{"a": 1, "a": 2}', b"-0", b"-0.0", b"[1.0, 2.5e-3, 0.1, 1e22, 5e-324, 2.2250738585072011e-308]",
    b"123456789012345678901234567890", b"-9223372036854775809", b"18446744073709551616", b"9223372036854775807",
    b"[1e400, -1e400]", b'"\\ud800"', b'"\\ud83c\\udf89"', b"\xef\xbb\xbf{}", b'"\xe4\xbd\x90\xe8\x97\xa4"',
    b'{"id": "12345678901234567890", "n": 1}', b"NaN", b"[Infinity]", '{"x": "佐藤"}'.encode("utf-16"),
]
_BROKEN = [b"", b"{", b'{"a": }', b"[1,]", b"\xff", b'{"a": 1} x', b"nul"]


def _same(body: bytes) -> None:
    want = json.loads(body)
    got = loads(body)
    assert type(got) is type(want)
    if isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert json.dumps(got, sort_keys=False) == json.dumps(want, sort_keys=False)


def test_orjson_is_the_decoder_here():
    assert jsondecode.orjson is not None  # the project's dependencies include it


@pytest.mark.parametrize("body", _TRICKY)
def test_tricky_documents_decode_as_json_does(body):
    _same(body)


@pytest.mark.parametrize("body", _BROKEN)
def test_broken_documents_raise_what_json_raises(body):
    with pytest.raises(ValueError) as want:
        json.loads(body)
    with pytest.raises(type(want.value)) as got:
        loads(body)
    assert str(got.value) == str(want.value)


def test_random_documents_decode_as_json_does():
    rng = random.Random(18)

    def value(depth: int):  # type: ignore[no-untyped-def]
        kind = rng.randrange(8 if depth < 4 else 5)
        if kind == 0:
            return rng.choice([0, -1, 2**31, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**70), rng.randrange(-10**25, 10**25)])
        if kind == 1:
            return rng.choice([0.0, -0.0, 1.5, 1e-300, 1e300, rng.random() * 10 ** rng.randrange(-30, 30)])
        if kind == 2:
            return "".join(rng.choice("aZ0 佐藤ｻﾄｳ🎉\"\\\n\t\x01é") for _ in range(rng.randrange(12)))
        if kind == 3:
            return rng.choice([True, False, None])
        if kind == 4:
            return str(rng.randrange(10**25))
        if kind in (5, 6):
            return {f"k{rng.randrange(50)}": value(depth + 1) for _ in range(rng.randrange(6))}
        return [value(depth + 1) for _ in range(rng.randrange(6))]

    for _ in range(2000):
        document = value(0)
        for ensure_ascii in (True, False):
            _same(json.dumps(document, ensure_ascii=ensure_ascii).encode())


def test_without_orjson_the_standard_library_decodes(monkeypatch):
    monkeypatch.setattr(jsondecode, "orjson", None)
    for body in _TRICKY:
        _same(body)
