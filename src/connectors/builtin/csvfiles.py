"""CSV plumbing for the file connector: encoding detection, header aliases, atomic writes."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from leadsync.connectors.spreadsheet import safe_cell
from leadsync.core.errors import ConfigError

__all__ = [
    "ACTIVITY_COLUMNS",
    "LEAD_COLUMNS",
    "SCORE_COLUMNS",
    "TASK_COLUMNS",
    "TASK_TEXT_COLUMNS",
    "CsvTable",
    "header_key",
    "read_csv",
    "read_output_rows",
    "write_csv_atomic",
]

LEAD_COLUMNS = (
    "id", "email", "first_name", "last_name", "company", "title", "department", "phone", "employees",
    "industry", "lead_source", "owner", "status", "created_at", "updated_at",
)
ACTIVITY_COLUMNS = ("id", "email", "type", "occurred_at", "url", "duration_seconds", "outcome")
SCORE_COLUMNS = ("email", "score", "behavior_score", "attribute_score", "segment", "sheet_version", "scored_at")
TASK_COLUMNS = ("key", "email", "owner", "subject", "body", "due_at", "priority")
# tasks.csv columns of free text made from lead data (names, companies): neutralised for Excel.
# Everything else in scores.csv and tasks.csv is written exactly: the MA's import job joins on it.
TASK_TEXT_COLUMNS = ("subject", "body")

# Header aliases seen in Japanese (and English) spreadsheet exports, by canonical column.
# Matching is on header_key(), so case, width, spaces, '_' and '-' do not matter.
LEAD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "lead_id", "record_id", "リードID", "レコードID", "レコード番号", "顧客ID"),
    "email": ("email", "e-mail", "email_address", "mail", "メールアドレス", "メール", "Eメール", "Eメールアドレス", "電子メール"),
    "first_name": ("first_name", "firstname", "given_name", "名", "下の名前"),
    "last_name": ("last_name", "lastname", "family_name", "surname", "姓", "名字", "苗字"),
    "full_name": ("name", "full_name", "氏名", "名前", "お名前", "担当者名"),
    "company": ("company", "company_name", "account", "account_name", "organization", "会社名", "企業名", "会社", "法人名", "取引先名"),
    "title": ("title", "job_title", "position", "役職", "肩書", "肩書き", "役職名"),
    "department": ("department", "division", "部署", "部門", "部署名", "所属"),
    "phone": ("phone", "phone_number", "tel", "telephone", "電話番号", "電話", "TEL"),
    "employees": ("employees", "employee_count", "number_of_employees", "company_size", "従業員数", "従業員規模", "社員数", "企業規模"),
    "industry": ("industry", "業種", "業界"),
    "lead_source": ("lead_source", "source", "流入経路", "リードソース", "獲得経路", "流入元"),
    "owner": ("owner", "owner_id", "lead_owner", "所有者", "担当者", "リード所有者", "営業担当", "担当営業"),
    "status": ("status", "lead_status", "ステータス", "リードステータス", "状況"),
    "status_reason": ("status_reason", "reason", "ステータス理由", "不適格理由", "見送り理由", "失注理由"),
    "created_at": ("created_at", "created", "created_date", "create_date", "作成日", "作成日時", "登録日", "登録日時"),
    "updated_at": ("updated_at", "updated", "modified", "last_modified", "updated_date", "更新日", "更新日時", "最終更新日", "最終更新日時"),
}
ACTIVITY_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "activity_id", "活動ID", "アクティビティID", "履歴ID"),
    "email": ("email", "e-mail", "email_address", "mail", "メールアドレス", "メール", "Eメール", "Eメールアドレス"),
    "lead_id": ("lead_id", "lead", "リードID", "顧客ID", "レコードID"),
    "type": ("type", "activity_type", "activity", "種別", "活動種別", "アクティビティ", "アクティビティ種別", "行動", "種類"),
    "occurred_at": ("occurred_at", "timestamp", "date", "datetime", "activity_date", "日時", "発生日時", "活動日時", "日付", "実施日時"),
    "url": ("url", "page_url", "page", "URL", "ページURL", "ページ", "閲覧ページ"),
    "duration_seconds": ("duration_seconds", "duration", "call_duration", "通話時間(秒)", "通話時間", "通話秒数", "所要時間(秒)"),
    "outcome": ("outcome", "result", "結果", "通話結果", "成果"),
}
_OUTPUT_ALIASES = {
    "scores": {name: (name,) for name in SCORE_COLUMNS},
    "tasks": {name: (name,) for name in TASK_COLUMNS},
}


def header_key(text: str) -> str:
    """A header folded for matching: NFKC, case-folded, without spaces, '_', '-' and '.'."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "_-.・")


@dataclass
class CsvTable:
    """A decoded CSV file: canonical column per position, the raw rows, and the file's hash."""

    path: Path
    columns: list[str | None]  # canonical name per position; None: an extra column
    headers: list[str]
    rows: list[list[str]]
    sha256: str
    encoding: str

    def records(self) -> Iterable[tuple[int, dict[str, str], dict[str, str]]]:
        """(spreadsheet row number, canonical values, extra columns) for every non-blank row."""
        for index, row in enumerate(self.rows, start=2):
            if not any(cell.strip() for cell in row):
                continue  # Excel leaves blank lines at the end of exports
            values: dict[str, str] = {}
            extra: dict[str, str] = {}
            for position, cell in enumerate(row):
                if position >= len(self.columns):
                    extra[f"column {position + 1}"] = cell
                    continue
                name = self.columns[position]
                if name is None:
                    if cell.strip():
                        extra[self.headers[position]] = cell
                elif cell.strip() and not values.get(name):
                    values[name] = cell.strip()
            yield index, values, extra


def decode(path: Path, data: bytes) -> tuple[str, str]:
    """The text of a CSV file and its encoding: UTF-8 (BOM or not), else Shift_JIS (cp932)."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ConfigError(f"{path}: cannot decode the file as UTF-8 or Shift_JIS (cp932); save it as CSV UTF-8")


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
    """Read and decode a whole CSV file; ConfigError naming the file (and row) if it is unusable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if b"\x00" in data[:4096]:
        raise ConfigError(f"{path}: not a CSV text file (an Excel workbook? save it as CSV UTF-8)")
    text, encoding = decode(path, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    try:
        headers = next(reader, None)
        rows.extend(reader)
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if not headers or not any(h.strip() for h in headers):
        raise ConfigError(f"{path}: the file is empty; the first row must be the header")
    index = _alias_index(aliases, field_map or {})
    columns: list[str | None] = []
    for header in headers:
        canonical = index.get(header_key(header))
        columns.append(canonical if canonical not in columns else None)
    return CsvTable(path, columns, [h.strip() for h in headers], rows, hashlib.sha256(data).hexdigest(), encoding)


def read_output_rows(path: Path, kind: str) -> list[dict[str, str]]:
    """Rows of a scores.csv or tasks.csv written earlier (empty when the file does not exist yet)."""
    if not path.exists():
        return []
    table = read_csv(path, _OUTPUT_ALIASES[kind])
    return [values for _, values, _ in table.records()]


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
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except FileNotFoundError:
            pass
        raise
