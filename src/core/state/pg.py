"""The PostgreSQL connection adapter: what the group modules call on `db`, over psycopg 3.

`PgConnection` offers the part of `sqlite3.Connection` the state layer uses (`execute`,
`executemany`, `in_transaction`, rows readable by index and by column name, `lastrowid`), runs
every statement through `pgsql.translate`, and turns a server that cannot be reached or refuses
into a one-line `StateStoreError` (exit 5) whose text never holds the password.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from leadsync.connectors.redact import redact as redact_known
from leadsync.connectors.redact import register_secret
from leadsync.core.errors import ConfigError, StateStoreError
from leadsync.core.state.pgsql import translate

__all__ = ["PgConnection", "Row", "connect", "redact", "register_passwords", "store_failure"]

# Tables whose rows have an integer `id` the caller may read back as `lastrowid`.
_ID_TABLES = re.compile(r"^\s*INSERT\s+INTO\s+(score_history|outbox|handoffs|runs|dead_letters)\b", re.IGNORECASE)


def register_passwords(url: str, password: str | None) -> None:
    """Tell the process-wide redactor (logs, errors, summaries) every password the store may use."""
    try:
        in_url = urlsplit(url).password
    except ValueError:
        in_url = None
    for secret in (password, in_url, os.environ.get("PGPASSWORD")):
        register_secret(secret)


def redact(url: str, password: str | None = None) -> str:
    """The URL (or any text) with its password replaced by `***`."""
    text = redact_known(url)
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            text = urlunsplit(parts._replace(netloc=netloc))
            password = password or parts.password
    except ValueError:
        pass
    text = re.sub(r"(password=)\S+", r"\1***", text)
    for secret in (password, os.environ.get("PGPASSWORD")):
        if secret:
            text = text.replace(secret, "***")
    return text


class Row(tuple):  # type: ignore[type-arg]
    """A result row readable by position and by column name, like `sqlite3.Row`."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    description = cursor.description
    if description is None:
        return tuple
    index = {column.name: i for i, column in enumerate(description)}
    return lambda values: Row(values, index)


def store_failure(where: str, exc: BaseException, password: str | None = None) -> StateStoreError:
    """The one-line StateStoreError for a PostgreSQL failure that makes the store unusable."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return StateStoreError(redact(f"{where}: the PostgreSQL state store cannot be used: {detail}", password))


def _unusable(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, psycopg.errors.DiskFull,
                            psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege,
                            psycopg.errors.OutOfMemory, psycopg.errors.DataCorrupted))


class _Cursor:
    """A result of one statement: fetchone/fetchall/iteration, rowcount, lastrowid."""

    def __init__(self, owner: PgConnection, cursor: Any, lastrowid: int | None = None) -> None:
        self._owner = owner
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount

    def fetchone(self) -> Any:
        if self._cursor.description is None:
            return None
        return self._owner.guard(self._cursor.fetchone)

    def fetchall(self) -> list[Any]:
        if self._cursor.description is None:
            return []
        return self._owner.guard(self._cursor.fetchall)

    def fetchmany(self, size: int = 1) -> list[Any]:
        if self._cursor.description is None:
            return []
        return self._owner.guard(self._cursor.fetchmany, size)

    def __iter__(self) -> Iterator[Any]:
        while True:
            rows = self.fetchmany(1000)
            if not rows:
                return
            yield from rows

    def close(self) -> None:
        self._cursor.close()


class PgConnection:
    """A psycopg connection (autocommit; transactions are explicit BEGIN/COMMIT) with the SQLite API."""

    dialect = "postgresql"

    def __init__(self, raw: Any, where: str, password: str | None) -> None:
        self.raw = raw
        self.where = where
        self._password = password

    def guard(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except Exception as exc:
            if _unusable(exc):
                raise store_failure(self.where, exc, self._password) from None
            raise

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Cursor:
        cursor = self.raw.cursor()
        if params is None:
            self.guard(cursor.execute, translate(sql, False))
            return _Cursor(self, cursor)
        statement = translate(sql)
        returning = _ID_TABLES.match(statement) is not None and "RETURNING" not in statement.upper()
        if returning:
            statement += " RETURNING id"
        self.guard(cursor.execute, statement, tuple(params))
        if not returning:
            return _Cursor(self, cursor)
        row = self.guard(cursor.fetchone) if cursor.rowcount else None
        return _Cursor(self, cursor, lastrowid=None if row is None else int(row[0]))

    def executemany(self, sql: str, rows: Any) -> _Cursor:
        cursor = self.raw.cursor()
        self.guard(cursor.executemany, translate(sql), [tuple(r) for r in rows])
        return _Cursor(self, cursor)

    def cursor(self) -> Any:
        return self.raw.cursor()

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, password: str | None, schema: str | None, application: str,
            readonly: bool = False, where: str | None = None) -> PgConnection:
    """Open an autocommit session; `schema` first on its search_path (None: leave it)."""
    try:
        import psycopg
        from psycopg.adapt import Loader
    except ImportError:
        raise ConfigError("[state] url is a PostgreSQL URL but psycopg is not installed: "
                          "pip install 'leadsync[postgres]'") from None

    class NumericLoader(Loader):
        """numeric (SUM and AVG of integers) as int when whole, else float: what SQLite returns."""

        def load(self, data: Any) -> Any:
            text = bytes(data).decode()
            if text in ("NaN", "Infinity", "-Infinity"):
                return float(text)
            return int(text) if "." not in text and "e" not in text.lower() else float(text)

    register_passwords(url, password)
    where = where or redact(url, password)
    options: dict[str, Any] = {"autocommit": True, "application_name": application[:63], "connect_timeout": 10}
    if password:
        options["password"] = password
    settings = []
    if schema:
        settings.append(f"-c search_path={schema}")
    if readonly:
        settings.append("-c default_transaction_read_only=on")
    if settings:
        options["options"] = " ".join(settings)
    try:
        raw = psycopg.connect(url, **options)
    except psycopg.Error as exc:
        raise store_failure(where, exc, password) from None
    except Exception as exc:  # a malformed URL
        raise StateStoreError(redact(f"{where}: cannot connect to the PostgreSQL state store: {exc}", password)) from None
    raw.adapters.register_loader("numeric", NumericLoader)
    raw.row_factory = _row_factory
    return PgConnection(raw, where, password)
