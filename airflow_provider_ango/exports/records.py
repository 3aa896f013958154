"""Records streamed out of an Ango export zip, one at a time, in constant memory.

Ango's zip holds one ``.json`` file (a JSON array of assets) or one ``.ndjson`` file (one
asset per line). Both come out as orjson loads them, so a JSON and an NDJSON export of the
same tasks give equal records.

The JSON array is read in 256 KiB chunks by :class:`_ArrayReader`, a small scanner that only
finds where each top-level element ends; ``orjson.loads`` then parses that slice of the
buffer (no copy) and does all the validation. Memory follows the size of one record plus a
chunk, never the file. The scanner needs no JSON knowledge beyond strings (quotes, with
backslash escapes, hide brackets) and bracket depth, and one regular expression skips a whole
element up to :data:`FAST_DEPTH` levels deep in a single C call; deeper or cut-off elements
are walked bracket by bracket. ijson's C backend (yajl2_c), used before, built each record at
about a quarter of the speed of this scan plus orjson (``benchmarks/bench_exports.py``).
"""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from airflow_provider_ango.exceptions import AngoExportFormatError

READ_CHUNK = 256 * 1024
FAST_DEPTH = 16  # nesting the one-call expression covers; Ango tasks are about 8 deep
_JSON_SUFFIXES = (".json",)
_NDJSON_SUFFIXES = (".ndjson", ".jsonl")
_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


class ScanPatterns(NamedTuple):
    """The scanner's regular expressions (bytes). Their alternatives start with distinct bytes, so
    a failed match backtracks in linear time; possessive quantifiers (Python 3.11+) skip even that.
    """

    container: re.Pattern[bytes]  # one whole object/array up to FAST_DEPTH deep
    string: re.Pattern[bytes]
    skip_to_bracket: re.Pattern[bytes]  # plain bytes and whole strings, up to the next bracket
    scalar: re.Pattern[bytes]  # numbers, true, false, null (orjson checks which)
    space: re.Pattern[bytes]


def scan_patterns(possessive: bool = sys.version_info >= (3, 11)) -> ScanPatterns:
    many = b"*+" if possessive else b"*"
    plain = rb'[^"\[\]{}]' + many  # anything outside strings that is not a bracket
    string = rb'"[^"\\]' + many + rb'(?:\\.[^"\\]' + many + rb")" + many + rb'"'
    # Bracket kinds are not paired up (``{`` may close with ``]``): orjson rejects such a slice
    # afterwards, so the pattern only has to find the closing bracket at the right depth.
    unit, container = string, b""
    for _ in range(FAST_DEPTH):
        container = rb"[\[{]" + plain + rb"(?:" + unit + plain + rb")" + many + rb"[\]}]"
        unit = rb"(?:" + string + rb"|" + container + rb")"
    return ScanPatterns(
        container=re.compile(container, re.DOTALL),
        string=re.compile(string, re.DOTALL),
        skip_to_bracket=re.compile(plain + rb"(?:" + string + plain + rb")" + many, re.DOTALL),
        scalar=re.compile(rb'[^ \t\r\n,\[\]{}"]' + many),
        space=re.compile(rb"[ \t\r\n]" + many),
    )


PATTERNS = scan_patterns()
_OPENERS = frozenset(b"[{")
_QUOTE, _COMMA, _CLOSE = ord('"'), ord(","), ord("]")


def member_format(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(_NDJSON_SUFFIXES):
        return "ndjson"
    if lowered.endswith(_JSON_SUFFIXES):
        return "json"
    return None


def data_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The export files in the zip (``.json`` / ``.ndjson``), in name order; macOS debris skipped."""
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and not Path(info.filename).name.startswith("._")
        and member_format(info.filename) is not None
    ]
    return sorted(members, key=lambda info: info.filename)


class _ArrayReader:
    """Cuts a streamed JSON array into its elements' bytes and loads each with orjson.

    ``_buffer[_start:]`` is what is not handed out yet; ``_start`` is always the first byte of
    the element (or separator) being looked for. A container cut off by the end of the buffer
    keeps its scan state (``_resume`` bytes past ``_start`` at ``_depth``), so a record that
    spans many reads is walked once, not once per read.
    """

    def __init__(self, stream: IO[bytes], where: str, patterns: ScanPatterns = PATTERNS) -> None:
        self._container = patterns.container.match
        self._string = patterns.string.match
        self._skip_to_bracket = patterns.skip_to_bracket.match
        self._scalar = patterns.scalar.match
        self._space = patterns.space.match
        self._stream = stream
        self._where = where
        self._buffer = b""
        self._start = 0
        self._dropped = 0  # bytes of the member before _buffer[0], for error positions
        self._ended = False
        self._resume = 0
        self._depth = 0

    def _read_more(self) -> bool:
        """Append the next read (at least the size of what is held: a long record takes few reads)."""
        if self._ended:
            return False
        pending = len(self._buffer) - self._start
        chunk = self._stream.read(max(READ_CHUNK, pending))
        if not chunk:
            self._ended = True
            return False
        self._dropped += self._start
        self._buffer = self._buffer[self._start :] + chunk
        self._start = 0
        return True

    def _at(self, offset: int = 0) -> str:
        return f"byte {self._dropped + self._start + offset:,}"

    def _error(self, problem: str) -> AngoExportFormatError:
        return AngoExportFormatError(f"{self._where} is not valid JSON: {problem}")

    def _skip_space(self) -> int | None:
        """The next non-blank byte at ``_start`` (reading on as needed), or None at the end."""
        while True:
            self._start = self._space(self._buffer, self._start).end()  # type: ignore[union-attr]
            if self._start < len(self._buffer):
                return self._buffer[self._start]
            if not self._read_more():
                return None

    def _enter_array(self) -> None:
        """Skip the BOM and blanks up to the opening ``[``; the messages name what was found."""
        while len(self._buffer) < len(_BOM) and self._read_more():
            pass  # a stream may hand out fewer bytes than asked
        if self._buffer.startswith(_BOM):
            self._buffer = self._buffer[len(_BOM) :]
            self._dropped += len(_BOM)
        first = self._skip_space()
        if first is None:
            raise AngoExportFormatError(f"{self._where} is empty; an empty Ango JSON export is '[]'")
        if first != ord("["):
            head = self._buffer[self._start : self._start + 20]
            raise AngoExportFormatError(
                f"{self._where} is not a JSON array (it starts with {head!r}); Ango's JSON export "
                "is a list of assets. Was the export format set to something else?"
            )
        self._start += 1

    def __iter__(self) -> Iterator[Any]:
        self._enter_array()
        if self._skip_space() == _CLOSE:
            self._start += 1
            self._check_rest()
            return
        number = 0
        while True:
            number += 1
            end = self._element_end(number)
            with memoryview(self._buffer) as view:
                try:
                    record = orjson.loads(view[self._start : end])
                except orjson.JSONDecodeError as error:
                    raise self._error(f"element {number} (from {self._at()}): {error}") from error
            yield record
            self._start = end
            separator = self._skip_space()
            if separator == _CLOSE:
                self._start += 1
                self._check_rest()
                return
            if separator != _COMMA:
                found = "the end of the file" if separator is None else repr(chr(separator))
                raise self._error(
                    f"expected ',' or ']' after element {number} at {self._at()}, found {found}"
                )
            self._start += 1
            if self._skip_space() in (_CLOSE, None):
                raise self._error(f"a value must follow the ',' after element {number} ({self._at()})")

    def _element_end(self, number: int) -> int:
        self._resume, self._depth = 0, 0
        while True:
            first = self._buffer[self._start]
            if first in _OPENERS:
                end = self._container_end()
            elif first == _QUOTE:
                string = self._string(self._buffer, self._start)
                end = None if string is None else string.end()
            else:
                end = self._scalar(self._buffer, self._start).end()  # type: ignore[union-attr]
                if end == self._start:
                    raise self._error(f"element {number} at {self._at()} starts with {chr(first)!r}")
                if end == len(self._buffer):
                    end = None  # the number may go on in the next read
            if end is not None:
                return end
            if not self._read_more():
                if first not in _OPENERS and first != _QUOTE:
                    return len(self._buffer)  # a last scalar; the missing ']' is reported next
                raise self._error(
                    f"the file ends inside element {number} (from {self._at()}); is it truncated?"
                )

    def _container_end(self) -> int | None:
        """End of the object/array at ``_start``, or None when the buffer ends inside it."""
        buffer, size = self._buffer, len(self._buffer)
        position, depth = self._start + self._resume, self._depth
        while True:
            if depth:
                position = self._skip_to_bracket(buffer, position).end()  # type: ignore[union-attr]
                if position >= size or buffer[position] == _QUOTE:  # cut off, maybe inside a string
                    self._resume, self._depth = position - self._start, depth
                    return None
            if buffer[position] in _OPENERS:
                whole = self._container(buffer, position)
                if whole is not None:
                    position = whole.end()
                    if not depth:
                        return position
                    continue
                depth += 1
            else:
                depth -= 1
            position += 1
            if not depth:
                return position

    def _check_rest(self) -> None:
        """Only blanks may follow the closing bracket, as for orjson reading the whole file."""
        if self._skip_space() is not None:
            raise self._error(f"unexpected data after the closing ']' at {self._at()}")


def iter_json_array(stream: IO[bytes], where: str, patterns: ScanPatterns = PATTERNS) -> Iterator[Any]:
    """Elements of the JSON array in ``stream``; a top level that is not an array is an error."""
    yield from _ArrayReader(stream, where, patterns)


def iter_ndjson(stream: IO[bytes], where: str) -> Iterator[Any]:
    """One record per non-blank line."""
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if number == 1:
            text = text.removeprefix(_BOM)
        if not text:
            continue
        try:
            yield orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise AngoExportFormatError(f"{where} line {number} is not valid JSON: {error}") from error


def iter_zip_records(zip_path: Path) -> Iterator[Any]:
    """Every record of every export file in the zip at ``zip_path``, in order."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise AngoExportFormatError(f"the staged export is not a readable zip: {error}") from error
    with archive:
        members = data_members(archive)
        if not members:
            names = ", ".join(info.filename for info in archive.infolist()[:5]) or "nothing"
            raise AngoExportFormatError(
                f"the export zip holds no .json or .ndjson file (it holds {names}); is it an Ango export?"
            )
        for info in members:
            where = f"export member {info.filename!r}"
            with archive.open(info) as stream:
                if member_format(info.filename) == "ndjson":
                    yield from iter_ndjson(stream, where)
                else:
                    yield from iter_json_array(stream, where)


def zip_formats(zip_path: Path) -> list[str]:
    """Formats of the export files in the zip (``json`` / ``ndjson``)."""
    with zipfile.ZipFile(zip_path) as archive:
        return [member_format(info.filename) or "?" for info in data_members(archive)]


__all__ = [
    "data_members",
    "iter_json_array",
    "iter_ndjson",
    "iter_zip_records",
    "member_format",
    "zip_formats",
]
