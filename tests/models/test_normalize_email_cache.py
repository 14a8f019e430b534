"""normalize_email is cached: cached answers equal fresh ones, whatever the order of the inputs."""

from __future__ import annotations

import random

from leadsync.core import normalize
from leadsync.core.normalize import normalize_email

_PARTS = ("Taro", "taro", "ｔａｒｏ", "lead.1", "x+tag", "<", ">", " ", "@", "＠", "example", "例え", ".", "。", "JP",
          "テスト", "\u200b", "co", "a@b.c>.", "", "..")


def test_cached_answers_equal_fresh_ones():
    rng = random.Random(18)
    inputs = ["".join(rng.choice(_PARTS) for _ in range(rng.randrange(1, 7))) for _ in range(3000)]
    inputs += [normalize_email(v) or "" for v in inputs]  # the engine normalizes the connector's result again
    fresh = {v: normalize._email_text.__wrapped__(v) for v in inputs}
    normalize._email_text.cache_clear()
    for value in rng.sample(inputs, len(inputs)) * 2:
        assert normalize_email(value) == fresh[value]
    assert normalize_email(None) is None
    assert normalize_email(12345) is None and normalize_email("Taro@Example.JP.") == "taro@example.jp"
