"""Telling a CSV file's encoding: UTF-8 (with or without BOM), Shift_JIS (cp932), UTF-16 with a BOM, or not text."""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path
from typing import IO

from leadsync.core.errors import ConfigError

__all__ = ["ENCODING_NAMES", "decode", "detect_encoding", "not_text", "utf16_to_utf8"]

_CHUNK = 1_048_576
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp932": "Shift_JIS (cp932)", "utf-16": "UTF-16"}


def decode(path: Path, data: bytes) -> tuple[str, str]:
    """The text of a small CSV file and its encoding: UTF-8 (BOM or not), else Shift_JIS (cp932)."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ConfigError(f"{path}: cannot decode the file as UTF-8 or Shift_JIS (cp932); save it as CSV UTF-8")


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) or Shift_JIS, judged from the first lines of a file.

    UTF-8 wins when any non-ASCII line is valid UTF-8 (Shift_JIS text almost never is) or no line
    fails as UTF-8; a file whose lines fail as UTF-8 and pass as Shift_JIS is Shift_JIS.
    """
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    lines = sample.split(b"\n")[:-1] or [sample]  # the last line may be cut mid-character
    valid_utf8 = failed_utf8 = valid_sjis = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            valid_utf8 += 1
        except UnicodeDecodeError:
            failed_utf8 += 1
            try:
                line.decode("cp932")
                valid_sjis += 1
            except UnicodeDecodeError:
                pass
    if valid_utf8 or not failed_utf8 or not valid_sjis:
        return "utf-8"
    return "cp932"


def not_text(sample: bytes) -> str | None:
    """Why a file is not CSV text, judged from its first bytes; None when it may be."""
    if sample.startswith(b"PK\x03\x04"):
        return "an Excel workbook (.xlsx), not CSV text; in Excel choose Save As > CSV UTF-8 (or Unicode Text)"
    if sample.startswith(b"\xd0\xcf\x11\xe0"):
        return "an Excel 97-2003 workbook (.xls), not CSV text; in Excel choose Save As > CSV UTF-8 (or Unicode Text)"
    if b"\x00" in sample[:4096]:
        return ("not CSV text: it holds NUL bytes (UTF-16 without a byte order mark, or a binary file); "
                "save it as CSV UTF-8, or as Unicode Text, which starts with a byte order mark")
    return None


def utf16_to_utf8(path: Path, handle: IO[bytes]) -> IO[bytes]:
    """A UTF-8 copy of a UTF-16 file with a byte order mark (Excel's "Unicode Text"), in a
    temporary file that is deleted when closed; ConfigError naming the byte that is not UTF-16."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    copy = tempfile.TemporaryFile()
    done = 0
    try:
        while chunk := handle.read(_CHUNK):
            copy.write(decoder.decode(chunk).encode("utf-8"))
            done += len(chunk)
        copy.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        copy.close()
        raise ConfigError(f"{path}: not valid UTF-16 at byte {done + exc.start}; save it again as Unicode Text "
                          "or CSV UTF-8") from None
    except UnicodeEncodeError:  # a lone surrogate
        copy.close()
        raise ConfigError(f"{path}: not valid UTF-16 (an unpaired surrogate); save it again as CSV UTF-8") from None
    return copy


