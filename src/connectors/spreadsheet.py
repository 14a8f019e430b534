"""CSV cells safe to open in a spreadsheet: no cell of ours is ever evaluated as a formula.

Excel, LibreOffice Calc and Google Sheets read a cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab, a carriage return (or a NUL) as a formula, so a lead named ``=HYPERLINK(...)`` would run
when sales open the file. Following OWASP's CSV injection guidance
(https://owasp.org/www-community/attacks/CSV_Injection), such a cell is prefixed with a single
quote, which the spreadsheet takes as "this is text" and does not show. A plain number, ``-5``
or ``+3.5``, is data and stays as it is. Use this only on CSVs meant for people; files that a
program reads back need the exact value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["FORMULA_TRIGGERS", "safe_cell", "safe_row"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: object) -> str:
    """`value` as a CSV cell a spreadsheet shows as text; None becomes ''."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(values: Iterable[object]) -> list[str]:
    """Every cell of a row through `safe_cell`."""
    return [safe_cell(value) for value in values]
