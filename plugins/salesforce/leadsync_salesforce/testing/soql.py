"""The SOQL subset the fake Salesforce answers: SELECT fields FROM object WHERE ... ORDER BY ... LIMIT."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

__all__ = ["SoqlError", "field_value", "matches", "parse_soql"]


class SoqlError(ValueError):
    """MALFORMED_QUERY."""


_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<dt>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))
    |(?P<date>\d{4}-\d\d-\d\d)|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>|\(|\)|,)|(?P<word>[A-Za-z_][\w.]*))""", re.X)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SoqlError(f"unexpected token at column {pos + 1}: {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        value: Any = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "dt":
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif kind == "num":
            value = float(value)
        out.append((kind, value))
        pos = match.end()
    return out


def field_value(record: dict[str, Any], field: str) -> Any:
    value = record.get(field)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT.*[+-]\d{4}", value):
        return datetime.fromisoformat(value[:-2] + ":" + value[-2:])
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens, self.i = _tokens(text), 0

    def peek(self, word: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        kind, value = self.tokens[self.i]
        return word is None or (kind in ("word", "op") and str(value).upper() == word)

    def take(self, word: str | None = None) -> tuple[str, Any]:
        if self.i >= len(self.tokens) or (word and not self.peek(word)):
            raise SoqlError(f"expected {word or 'more'} at token {self.i + 1}")
        self.i += 1
        return self.tokens[self.i - 1]

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "word":
            lowered = value.lower()
            if lowered in ("null", "true", "false"):
                return {"null": None, "true": True, "false": False}[lowered]
            raise SoqlError(f"unexpected {value}")
        if kind == "op":
            raise SoqlError(f"unexpected {value}")
        return value

    def expr(self) -> Any:
        node = self.term()
        while self.peek("OR"):
            self.take()
            node = ("or", node, self.term())
        return node

    def term(self) -> Any:
        node = self.factor()
        while self.peek("AND"):
            self.take()
            node = ("and", node, self.factor())
        return node

    def factor(self) -> Any:
        if self.peek("NOT"):
            self.take()
            return ("not", self.factor())
        if self.peek("("):
            self.take()
            node = self.expr()
            self.take(")")
            return node
        kind, field = self.take()
        if kind != "word":
            raise SoqlError(f"expected a field, got {field}")
        if self.peek("IN") or self.peek("NOT"):
            negate = self.take()[1].upper() == "NOT"
            if negate:
                self.take("IN")
            self.take("(")
            values = [self.literal()]
            while self.peek(","):
                self.take()
                values.append(self.literal())
            self.take(")")
            return ("in", field, values, negate)
        kind, op = self.take()
        if kind != "op" or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise SoqlError(f"expected an operator after {field}")
        return ("cmp", field, op, self.literal())


def matches(node: Any, record: dict[str, Any]) -> bool:
    tag = node[0]
    if tag == "and":
        return matches(node[1], record) and matches(node[2], record)
    if tag == "or":
        return matches(node[1], record) or matches(node[2], record)
    if tag == "not":
        return not matches(node[1], record)
    if tag == "in":
        inside = field_value(record, node[1]) in node[2]
        return not inside if node[3] else inside
    _, field, op, right = node
    left = field_value(record, field)
    if isinstance(left, int | float) and isinstance(right, float):
        left = float(left)
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    except TypeError:
        return False


def parse_soql(text: str) -> dict[str, Any]:
    """SELECT/FROM/WHERE/ORDER BY/LIMIT as a dict; SoqlError when malformed."""
    p = _Parser(text)
    p.take("SELECT")
    fields = [p.take()[1]]
    while p.peek(","):
        p.take()
        fields.append(p.take()[1])
    p.take("FROM")
    obj = p.take()[1]
    where = None
    if p.peek("WHERE"):
        p.take()
        where = p.expr()
    order: list[tuple[str, bool]] = []
    if p.peek("ORDER"):
        p.take()
        p.take("BY")
        while True:
            field = p.take()[1]
            descending = False
            if p.peek("ASC") or p.peek("DESC"):
                descending = p.take()[1].upper() == "DESC"
            order.append((field, descending))
            if not p.peek(","):
                break
            p.take()
    limit = None
    if p.peek("LIMIT"):
        p.take()
        limit = int(p.take()[1])
    if p.i != len(p.tokens):
        raise SoqlError(f"unexpected token {p.tokens[p.i][1]!r}")
    return {"fields": fields, "object": obj, "where": where, "order": order, "limit": limit}


# -- the app ---------------------------------------------------------------------------------------

