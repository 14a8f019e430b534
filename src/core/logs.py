"""Logging to stderr: readable on a terminal, JSON lines otherwise, secrets always masked."""

from __future__ import annotations

import json
import logging
import sys
import time

__all__ = ["setup_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str | None = None, *, verbose: int = 0, quiet: bool = False) -> None:
    """Configure the root logger once per command; `fmt` None picks text on a TTY, else JSON."""
    if fmt is None:
        fmt = "text" if sys.stderr.isatty() else "json"
    level = logging.ERROR if quiet else logging.DEBUG if verbose > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    try:
        from leadsync.connectors.redact import RedactingFilter

        handler.addFilter(RedactingFilter())
    except ImportError:  # pragma: no cover
        pass
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_leadsync", False):
            root.removeHandler(old)
    handler._leadsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
