"""CSV plumbing for the file connector: streaming reads of a CSV file row by row, atomic writes.

Column names and header aliases are in `csvcolumns`, encoding detection in `csvencoding`."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from leadsync.connectors.builtin.csvcolumns import (
    ACTIVITY_ALIASES,
    ACTIVITY_COLUMNS,
    LEAD_ALIASES,
    LEAD_COLUMNS,
    OPPORTUNITY_ALIASES,
    OPPORTUNITY_COLUMNS,
    OUTPUT_ALIASES,
    SCORE_COLUMNS,
    TASK_COLUMNS,
    TASK_TEXT_COLUMNS,
    header_key,
)
from leadsync.connectors.builtin.csvencoding import ENCODING_NAMES, detect_encoding, not_text, utf16_to_utf8
from leadsync.connectors.spreadsheet import safe_cell
from leadsync.core.errors import ConfigError

__all__ = [
    "ACTIVITY_ALIASES",
    "ACTIVITY_COLUMNS",
    "LEAD_ALIASES",
    "LEAD_COLUMNS",
    "MAX_CELL_CHARS",
    "MAX_ROW_BYTES",
    "OPPORTUNITY_ALIASES",
    "OPPORTUNITY_COLUMNS",
    "SCORE_COLUMNS",
    "TASK_COLUMNS",
    "TASK_TEXT_COLUMNS",
    "BadRow",
    "CsvTable",
    "header_key",
    "read_csv",
    "read_output_rows",
    "write_csv_atomic",
]

# Excel's own limit for one cell; a longer cell is a broken export, not data.
MAX_CELL_CHARS = 32_767
# One record (a row, with the line breaks inside its quotes) may not exceed this many bytes: an
# unclosed quote would otherwise swallow the rest of the file into one row.
MAX_ROW_BYTES = 4 * 1_048_576
_SAMPLE_BYTES = 1_048_576
_HASH_CHUNK = 1_048_576


@dataclass
class BadRow:
    """A row that could not be read at all: where it is, why, and the hash of its bytes."""

    number: int  # spreadsheet row number, the header being row 1
    offset: int  # byte offset of the row (of the failure, for a decoding error) in the file
    reason: str
    payload: dict[str, str]


@dataclass
class CsvTable:
    """A CSV file opened for streaming: canonical column per position, headers, hash, encoding.

    Nothing but the header is held in memory; `records()` reads the file again, one row at a time.
    """

    path: Path
    columns: list[str | None]  # canonical name per position; None: an extra column
    headers: list[str]
    sha256: str
    encoding: str
    data_offset: int  # where the first row after the header starts
    size: int
    delimiter: str = ","  # "\t" for Excel's "Unicode text" and other tab-separated exports
    # A UTF-16 file is read from a UTF-8 copy (a temporary file); offsets are that copy's.
    transcoded: IO[bytes] | None = field(default=None, repr=False, compare=False)

    def records(self) -> Iterator[tuple[int, dict[str, str], dict[str, str]] | BadRow]:
        """(spreadsheet row number, canonical values, extra columns) for every non-blank row, or
        a `BadRow` for a row that cannot be decoded, is malformed or holds an oversized cell."""
        with contextlib.ExitStack() as stack:
            handle = self.transcoded if self.transcoded is not None else stack.enter_context(self.path.open("rb"))
            handle.seek(self.data_offset)
            number = 1
            for offset, raw in _raw_records(handle, self.data_offset):
                number += 1
                if isinstance(raw, BadRow):
                    raw.number = number
                    yield raw
                    continue
                row = self._parse(number, offset, raw)
                if row is not None:
                    yield row

    def _parse(self, number: int, offset: int, raw: bytes) -> tuple[int, dict[str, str], dict[str, str]] | BadRow | None:
        try:
            text = raw.decode("utf-8" if self.transcoded is not None else self.encoding)
        except UnicodeDecodeError as exc:
            at = offset + exc.start
            return BadRow(number, at, f"cannot decode as {ENCODING_NAMES.get(self.encoding, self.encoding)} at byte "
                          f"{at} (0x{raw[exc.start]:02x}); the row was saved in another encoding",
                          _raw_payload(raw))
        try:
            cells = next(csv.reader([text], delimiter=self.delimiter), [])
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                reason = (f"a cell of more than {csv.field_size_limit():,} characters, more than the "
                          f"{MAX_CELL_CHARS:,} a cell may hold")
            else:
                reason = f"malformed CSV ({exc})"
            return BadRow(number, offset, reason, _raw_payload(raw))
        if not any(cell.strip() for cell in cells):
            return None  # Excel leaves blank lines at the end of exports
        values: dict[str, str] = {}
        extra: dict[str, str] = {}
        for position, cell in enumerate(cells):
            if len(cell) > MAX_CELL_CHARS:
                name = self.headers[position] if position < len(self.headers) else f"column {position + 1}"
                return BadRow(number, offset, f"column {name}: {len(cell):,} characters, more than the "
                              f"{MAX_CELL_CHARS:,} a cell may hold", _raw_payload(raw))
            if position >= len(self.columns):
                extra[f"column {position + 1}"] = cell
                continue
            name = self.columns[position]
            if name is None:
                if cell.strip():
                    extra[self.headers[position]] = cell
            elif cell.strip() and not values.get(name):
                values[name] = cell.strip()
        return number, values, extra


def _raw_payload(raw: bytes) -> dict[str, str]:
    """What a dead letter keeps of an unreadable row: an excerpt and the hash of its bytes."""
    excerpt = raw[:200].decode("utf-8", errors="backslashreplace").rstrip("\r\n")
    if len(raw) > 200:
        excerpt += f"… ({len(raw):,} bytes)"
    return {"row": excerpt, "row_sha256": hashlib.sha256(raw).hexdigest()}


def _raw_records(handle: Any, start: int) -> Iterator[tuple[int, bytes | BadRow]]:
    """(byte offset, bytes) of each CSV record: physical lines joined while a quote is open.

    Works on bytes, so one badly encoded row cannot hide the others: a double quote (0x22) or a
    line feed never occurs inside a multi-byte character of UTF-8 or Shift_JIS.
    """
    offset = start
    parts: list[bytes] = []
    size = quotes = 0
    record_start = start
    while True:
        line = handle.readline(MAX_ROW_BYTES + 1)
        if not line:
            break
        if not parts:
            record_start = offset
        offset += len(line)
        parts.append(line)
        size += len(line)
        quotes += line.count(b'"')
        if size > MAX_ROW_BYTES:
            tail = line
            while tail and not tail.endswith(b"\n"):  # skip to the end of the physical line
                tail = handle.readline(_HASH_CHUNK)
                offset += len(tail)
            raw = b"".join(parts)
            yield record_start, BadRow(0, record_start, f"row longer than {MAX_ROW_BYTES:,} bytes (an oversized "
                                       "cell or an unclosed quote)", _raw_payload(raw))
            parts, size, quotes = [], 0, 0
            continue
        if quotes % 2 == 0 or not line.endswith(b"\n"):
            yield record_start, b"".join(parts)
            parts, size, quotes = [], 0, 0
    if parts:
        yield record_start, b"".join(parts)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _alias_index(aliases: Mapping[str, Sequence[str]], extra: Mapping[str, str]) -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical, names in aliases.items():
        for name in names:
            index.setdefault(header_key(name), canonical)
    for canonical, name in extra.items():  # the connection's `fields` mapping wins
        index[header_key(name)] = canonical
    return index


def read_csv(
    path: Path,
    aliases: Mapping[str, Sequence[str]],
    *,
    field_map: Mapping[str, str] | None = None,
) -> CsvTable:
    """Open a CSV file for streaming: its header, encoding and hash; ConfigError naming the file
    when it cannot be used at all (missing, binary, an undecodable or malformed header)."""
    transcoded: IO[bytes] | None = None
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            sample = handle.read(_SAMPLE_BYTES)
            if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
                handle.seek(0)
                transcoded = utf16_to_utf8(path, handle)
            elif problem := not_text(sample):
                raise ConfigError(f"{path}: {problem}")
        encoding = "utf-16" if transcoded is not None else detect_encoding(sample)
        source = transcoded if transcoded is not None else path.open("rb")
        try:
            start = 3 if encoding == "utf-8-sig" else 0
            source.seek(start)
            first = next(_raw_records(source, start), None)
        finally:
            if transcoded is None:
                source.close()
        sha256 = file_sha256(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if first is None:
        raise ConfigError(f"{path}: the file is empty; the first row must be the header")
    header_start, raw = first
    if isinstance(raw, BadRow):
        raise ConfigError(f"{path}:1: the header row is longer than {MAX_ROW_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8" if transcoded is not None else encoding)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}:1: cannot decode the header at byte {header_start + exc.start} as UTF-8 or Shift_JIS (cp932); "
            "save it as CSV UTF-8"
        ) from None
    delimiter = "\t" if text.count("\t") > text.count(",") else ","
    try:
        headers = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error as exc:
        raise ConfigError(f"{path}:1: malformed CSV ({exc})") from None
    if not headers or not any(h.strip() for h in headers):
        raise ConfigError(f"{path}: the file is empty; the first row must be the header")
    index = _alias_index(aliases, field_map or {})
    columns: list[str | None] = []
    for header in headers:
        canonical = index.get(header_key(header))
        columns.append(canonical if canonical not in columns else None)
    return CsvTable(path, columns, [h.strip() for h in headers], sha256, encoding, header_start + len(raw), size,
                    delimiter, transcoded)


def read_output_rows(path: Path, kind: str) -> list[dict[str, str]]:
    """Rows of a scores.csv or tasks.csv written earlier (empty when the file does not exist yet)."""
    if not path.exists():
        return []
    table = read_csv(path, OUTPUT_ALIASES[kind])
    return [row[1] for row in table.records() if not isinstance(row, BadRow)]


def _created_mode() -> int:
    """The mode a new file gets from open(): 0666 less the process umask (0644 under umask 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_csv_atomic(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    *,
    text_columns: Collection[str] = (),
) -> None:
    """Write a CSV (UTF-8 with BOM, for Excel) to a temp file beside `path`, then os.replace it.

    Readers see the old file or the new one, never a partial file, even if the write dies midway.
    Cells of `text_columns` (free text people read) are neutralised against formula injection;
    every other column is written exactly, for the programs that read it back.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8-sig", newline="", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([
                    safe_cell(row.get(c)) if c in text_columns else ("" if row.get(c) is None else row.get(c))
                    for c in columns
                ])
            handle.flush()
            os.chmod(handle.name, _created_mode())  # mkstemp makes 0600; a plain open would honour the umask
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except FileNotFoundError:
            pass
        raise
