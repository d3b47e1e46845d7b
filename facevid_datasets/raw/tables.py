"""Metadata tables of a release (JSONL, CSV, Parquet) read row by row.

A malformed row (bad JSON or encoding, wrong column count, too deeply nested) becomes an
`AnnotationError` naming the file and line and the rest of the table is read; a file that cannot
be read at all (not Parquet, unreadable) is one error naming the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import AnnotationError
from ..parsing import sniff_encoding
from .layout import METADATA_NAMES

_LIST_FIELDS = {"attributes.appearance", "attributes.action", "attributes.light"}
#: Longest metadata line or CSV field read (a row is a clip's annotation, not a payload).
MAX_FIELD_CHARS = 16 * 1024 * 1024


def metadata_tables(root: Path) -> list[Path]:
    """The metadata tables present in a release folder, in reading order."""
    return [root / n for n in METADATA_NAMES if (root / n).is_file()]


def _set_dotted(row: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    cur = row
    for part in parts[:-1]:
        nxt = cur.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ValueError(f"column {key!r} nests under {part!r}, which has a value")
        cur = nxt
    cur[parts[-1]] = value


def _csv_value(key: str, text: str) -> Any:
    if text == "":
        return None
    if key in _LIST_FIELDS:
        if text.startswith("["):
            return json.loads(text)
        return [t.strip() for t in text.split(";") if t.strip()]
    return text


def _iter_jsonl(path: Path, errors: list[AnnotationError]) -> Iterator[tuple[int, dict]]:
    with path.open("rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8-sig" if i == 1 else "utf-8")
            except UnicodeDecodeError as e:
                errors.append(AnnotationError(path, i, f"not valid UTF-8 (byte {e.start})"))
                continue
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                errors.append(AnnotationError(path, i, f"not valid JSON ({e.msg} at column {e.colno})"))
                continue
            except RecursionError:
                errors.append(AnnotationError(path, i, "JSON nested too deeply"))
                continue
            if not isinstance(row, dict):
                errors.append(AnnotationError(path, i, f"expected a JSON object, got {type(row).__name__}"))
                continue
            yield i, row


def _utf8_lines(path: Path, errors: list[AnnotationError]) -> Iterator[str]:
    """Lines of a text file decoded as UTF-8; an undecodable line is reported and read as empty."""
    with path.open("rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                yield raw.decode("utf-8-sig" if i == 1 else "utf-8")
            except UnicodeDecodeError as e:
                errors.append(AnnotationError(path, i, f"not valid UTF-8 (byte {e.start})"))
                yield "\n"  # keeps the reader's line numbers in step with the file's


def _iter_csv(path: Path, errors: list[AnnotationError]) -> Iterator[tuple[int, dict]]:
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.DictReader(_utf8_lines(path, errors))
    header = reader.fieldnames or []
    if len(header) == 1:
        sep = next((c for c in (";", "\t", "|") if c in header[0]), None)
        if sep is not None:
            errors.append(AnnotationError(path, 1, f"the header is one column ({header[0][:60]!r}): the columns look "
                                          f"separated by {sep!r}; a CSV table separates them with ','"))  # fmt: skip
            return
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            errors.append(AnnotationError(path, reader.line_num, f"malformed CSV ({e})"))
            continue
        i = reader.line_num
        if not any(v not in (None, "") for v in raw.values()):
            continue  # a line emptied by a decoding error (already reported) or a blank row
        if None in raw or any(v is None for v in raw.values()):
            errors.append(AnnotationError(path, i, "wrong number of columns"))
            continue
        row: dict[str, Any] = {}
        try:
            for k, v in raw.items():
                _set_dotted(row, k, _csv_value(k, v))
        except json.JSONDecodeError as e:
            errors.append(AnnotationError(path, i, f"list column is not valid JSON ({e.msg})"))
            continue
        except (ValueError, RecursionError) as e:
            errors.append(AnnotationError(path, i, str(e) if isinstance(e, ValueError) else "nested too deeply"))
            continue
        yield i, row


def _iter_parquet(path: Path, errors: list[AnnotationError]) -> Iterator[tuple[int, dict]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        errors.append(AnnotationError(path, None, f"not a readable Parquet file ({e})"))
        return
    i = 0
    try:
        for batch in pf.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                i += 1
                yield i, row
    except (pa.ArrowException, OSError) as e:
        errors.append(AnnotationError(path, i + 1, f"Parquet file unreadable from this row on ({e})"))


def iter_table(path: Path, errors: list[AnnotationError]) -> Iterator[tuple[int, dict]]:
    """(line, row) of a JSONL / CSV / Parquet table; malformed rows go to `errors` and are skipped.

    For Parquet the "line" is the row number (1-based). A table that cannot be opened at all is
    one error with no line.
    """
    try:
        if path.suffix in (".jsonl", ".csv"):
            with path.open("rb") as f:
                encoding = sniff_encoding(f.read(256))
            if encoding is not None:  # read line by line as UTF-8, it would be one error per line
                errors.append(AnnotationError(path, None, f"is {encoding[1]} text, not UTF-8: save it as UTF-8"))
                return
        if path.suffix == ".jsonl":
            yield from _iter_jsonl(path, errors)
        elif path.suffix == ".csv":
            yield from _iter_csv(path, errors)
        else:
            yield from _iter_parquet(path, errors)
    except OSError as e:
        errors.append(AnnotationError(path, None, f"cannot be read ({e.strerror or e})"))
