"""The subset of kintone's query language the fake answers: and/or, parentheses, comparisons, [not] in."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["QueryParser"]

_QTOKEN = re.compile(r'\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<num>-?\d+)|(?P<op>>=|<=|!=|=|<|>|\(|\)|,)|(?P<word>[^\s<>=!(),"]+))')


class QueryParser:
    """kintone's query conditions: field op value, field [not] in (...), and/or, parentheses."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text.rstrip()):
            match = _QTOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError(f"unexpected text at {pos}: {text[pos:pos + 20]!r}")
            kind = match.lastgroup or ""
            value = match.group(kind)
            if kind == "str":
                value = re.sub(r'\\(.)', r"\1", value[1:-1])
            self.tokens.append((kind, value))
            pos = match.end()
        self.i = 0

    def _peek_word(self, word: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i][0] in ("word", "op") \
            and self.tokens[self.i][1].lower() == word

    def _take(self) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise ValueError("the query ends too early")
        self.i += 1
        return self.tokens[self.i - 1]

    def parse(self) -> Any:
        node = self._or()
        if self.i != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.i][1]!r}")
        return node

    def _or(self) -> Any:
        node = self._and()
        while self._peek_word("or"):
            self._take()
            node = ("or", node, self._and())
        return node

    def _and(self) -> Any:
        node = self._factor()
        while self._peek_word("and"):
            self._take()
            node = ("and", node, self._factor())
        return node

    def _factor(self) -> Any:
        if self._peek_word("("):
            self._take()
            node = self._or()
            if self._take()[1] != ")":
                raise ValueError("missing )")
            return node
        kind, code = self._take()
        if kind != "word":
            raise ValueError(f"expected a field code, got {code!r}")
        negate = False
        if self._peek_word("not"):
            self._take()
            negate = True
            if not self._peek_word("in"):
                raise ValueError("expected in after not")
        if self._peek_word("in"):
            self._take()
            if self._take()[1] != "(":
                raise ValueError("expected ( after in")
            values = []
            while True:
                kind, value = self._take()
                if kind not in ("str", "num"):
                    raise ValueError(f"expected a value in the list, got {value!r}")
                values.append(value)
                sep = self._take()[1]
                if sep == ")":
                    break
                if sep != ",":
                    raise ValueError("expected , or )")
            return ("in", code, values, negate)
        kind, op = self._take()
        if kind != "op" or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise ValueError(f"expected an operator after {code}")
        kind, literal = self._take()
        if kind not in ("str", "num"):
            raise ValueError(f"expected a value after {code} {op}")
        return ("cmp", code, op, literal)
