"""Byte-level sniffing: what a file is (empty, binary, JSON, HTML...), its text
encoding, and the streamed transcoding of non-UTF-8 files into UTF-8."""

from __future__ import annotations

import codecs
import json
import os
import re
from dataclasses import dataclass

from uploads.profiling.errors import ProfileError
from uploads.profiling.limits import CHUNK, SNIFF_BYTES

_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or XLSX/ODS workbook)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"%PDF-", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE document (XLS/DOC)"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"RIFF", "a RIFF media file"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
)

#: Text formats no CSV starts with (lowercased, after a BOM and whitespace).
_TEXT_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%pdf-", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<?xml", "an XML document"),
)

#: Typographic marks (quotes, dashes, guillemets, soft hyphen...) that Western
#: text puts next to anything: they neither make nor break a run below.
_CP1252_MARKS = frozenset(
    "\u2018\u2019\u201a\u201c\u201d\u201e\u00b4\u00b7\u2013\u2014\u2026"
    "\u2039\u203a\u00ab\u00bb\u00ae\u2122\u00a9\u00b0\u00a0\u00ad"
)

#: Runs of cp1252's non-ASCII characters (marks excluded). Only cp1252's own
#: repertoire: the late-bytes check reads valid UTF-8 ("Москва") as such.
_CP1252_RUN = re.compile(
    "["
    + "".join(
        re.escape(c)
        for c in bytes(range(0x80, 0x100)).decode("cp1252", errors="ignore")
        if c not in _CP1252_MARKS
    )
    + "]+"
)

#: A cp1252 reading is garbled when garbled runs hold at least this share of
#: the characters of its distinct non-ASCII runs.
_CP1252_MAX_GARBLED_SHARE = 0.5

_OTHER_ENCODING = (
    "The file is not UTF-8, and read as Windows-1252 (cp1252) its text is "
    "garbled ({example!r}): it is probably in another 8-bit encoding (Cyrillic, "
    "Greek, Chinese...). Save it as UTF-8 and upload it again."
)


@dataclass
class Encoding:
    name: str  # reported encoding
    transcode: str | None  # Python codec to transcode with, or None
    fallback: bool = False  # utf-8 with per-byte cp1252 fallback


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start : err.end]
    return bad.decode("cp1252", errors="replace"), err.end


codecs.register_error("profile_cp1252_fallback", _cp1252_fallback)


def sniff_bytes(path: str) -> Encoding:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise ProfileError("not_found", "The file does not exist.") from None
    except IsADirectoryError:
        raise ProfileError("not_found", "The path is a directory.") from None
    if size == 0:
        raise ProfileError("empty_file", "The file is empty (0 bytes).")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16", "utf-16")
    bom = head.startswith(codecs.BOM_UTF8)
    body = head[3:] if bom else head
    if size <= SNIFF_BYTES and not body.strip():
        raise ProfileError("empty_file", "The file contains no data.")
    for magic, what in _SIGNATURES:
        # a printable magic ("MZ", "GIF89a") could start a CSV header: trust it
        # only when the head has NUL bytes too
        binary = any(b < 0x20 or b >= 0x7F for b in magic) or b"\x00" in head
        if head.startswith(magic) and binary:
            raise ProfileError("not_csv", f"The file is {what}, not a CSV file.")
    start = body.lstrip()[:64].lower()
    for magic, what in _TEXT_SIGNATURES:
        if start.startswith(magic):
            raise ProfileError("not_csv", f"The file is {what}, not a CSV file.")
    if _is_json(body, whole=size <= SNIFF_BYTES):
        raise ProfileError("not_csv", "The file is JSON, not a CSV file.")
    if b"\x00" in head:
        raise ProfileError(
            "not_csv", "The file contains NUL bytes: it is binary, not CSV text."
        )
    control = sum(body.count(bytes([b])) for b in (*range(1, 9), *range(14, 32), 127))
    if control > 0.01 * len(body):
        raise ProfileError(
            "not_csv", "The file is mostly control characters: it is not CSV text."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(body, final=size <= SNIFF_BYTES)
    except UnicodeDecodeError:
        pass
    else:
        return Encoding("utf-8-sig" if bom else "utf-8", None)
    high = sum(1 for b in body if b >= 0x80)
    undefined = sum(1 for b in body if b in _CP1252_UNDEFINED)
    if undefined > 0.01 * high:
        raise ProfileError(
            "undecodable",
            "The file is neither UTF-8 nor Windows-1252 (cp1252) text.",
        )
    example = _garbled_cp1252(body.decode("cp1252", errors="replace"))
    if example:
        raise ProfileError("undecodable", _OTHER_ENCODING.format(example=example))
    return Encoding("cp1252", "cp1252")


def check_late_bytes(path: str, position: int) -> None:
    """Refuse a file whose non-UTF-8 part, first met at byte ``position`` (past
    the sniffed head), is garbled as cp1252 (the sniff never saw it)."""
    with open(path, "rb") as fh:
        fh.seek(position)
        window = fh.read(SNIFF_BYTES)
    decoder = codecs.getincrementaldecoder("utf-8")("profile_cp1252_fallback")
    example = _garbled_cp1252(decoder.decode(window, final=False))
    if example:
        raise ProfileError("undecodable", _OTHER_ENCODING.format(example=example))


def _is_json(body: bytes, *, whole: bool) -> bool:
    """A JSON document (the whole file, when it fits the sniffed head; else a
    head that is valid JSON up to where it was cut) or JSON Lines (a first line
    that is a JSON object or array)."""
    text = body.lstrip()
    if not text.startswith((b"{", b"[")):
        return False
    if not whole:
        head = text.decode("utf-8", errors="replace")
        try:
            json.loads(head)
        except json.JSONDecodeError as exc:
            # a cut document fails only at the cut: in its last token, or in a
            # string still open there (JSON strings hold no raw newline)
            rest = head[exc.pos :]
            if exc.msg.startswith("Unterminated string") or (
                len(rest) <= 64 and "\n" not in rest
            ):
                return True
    candidates = [text] if whole else []
    candidates.append(text.split(b"\n", 1)[0])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict | list):
            return True
    return False


def _garbled_cp1252(text: str) -> str | None:
    """A garbled run when text decoded as cp1252 is not a Western language.

    Western words hold one or two non-ASCII characters in a row ("Café",
    "Straße", "ação", "süß"); another 8-bit encoding read as cp1252 turns whole
    words into such runs: "Ìîñêâà" (cp1251 Москва), "ÁèÞíá" (cp1253), "±±¾©"
    (GBK 北京), "éøåùìéí" (cp1255). A run is garbled when it has 3+ characters
    (not all the same: "€€€" is a price band), or is made of symbols between
    two ASCII letters (cp1250 Polish "z³oty"). Each distinct run is judged once,
    so a value repeated on every row ("été", "Ö", "µ") weighs as one; the text
    is garbled when garbled runs hold half the characters of all the runs.
    Returns the longest garbled run (cut to 20 characters), or None.
    """
    runs: dict[str, bool] = {}
    for m in _CP1252_RUN.finditer(text):
        run = m.group()
        if run in runs:
            continue
        garbled = len(run) >= 3 and len(set(run)) >= 2
        if not garbled and not any(c.isalpha() for c in run):
            before = text[m.start() - 1 : m.start()]
            after = text[m.end() : m.end() + 1]
            garbled = all(c.isascii() and c.isalpha() for c in (before, after))
        runs[run] = garbled
    bad = [run for run, garbled in runs.items() if garbled]
    total = sum(len(run) for run in runs)
    if not bad or sum(len(run) for run in bad) < _CP1252_MAX_GARBLED_SHARE * total:
        return None
    return max(bad, key=len)[:20]


def transcode_file(src: str, dst: str, enc: Encoding) -> int:
    """Stream ``src`` into a UTF-8 copy; return the number of replaced bytes."""
    decoder: codecs.IncrementalDecoder
    if enc.fallback:
        decoder = codecs.getincrementaldecoder("utf-8")("profile_cp1252_fallback")
    else:
        assert enc.transcode is not None
        decoder = codecs.getincrementaldecoder(enc.transcode)("replace")
    replaced = 0
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        while True:
            chunk = fin.read(CHUNK)
            text = decoder.decode(chunk, final=not chunk)
            if text:
                replaced += text.count("\ufffd")
                fout.write(text)
            if not chunk:
                break
    return replaced
