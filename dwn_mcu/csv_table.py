"""Reading a CSV file into a table of features, labels and an optional test split, treating the file as
hostile: every fault is one `DataError` line naming the file, and the row and column where it can.

The format: UTF-8 (a byte-order mark is allowed), comma-separated, a header row of unique names, one
label column (`target`), an optional `is_test` column of 0/1, and numbers in every other column. Empty,
`NA`, `NaN`, `?` or `null` is a missing feature value (NaN); a label must be present.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .model_limits import MAX_NAME_CHARS

MISSING = {"", "na", "nan", "?", "null"}  # what a cell may hold for "no value"
SPLIT_COLUMN = "is_test"
# A column name or label becomes a feature or class name of the model: the model file's limit holds here,
# so a name `save()` would refuse is refused before any training.
MAX_NAME = MAX_NAME_CHARS
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_SPLIT_VALUES = {"0": False, "1": True, "false": False, "true": True}
_SEPARATORS = {";": "';'", "\t": "a tab"}


@dataclass(frozen=True)
class CsvTable:
    X: np.ndarray  # (N, F) float32, NaN where missing, never infinite
    labels: list  # N strings, none missing
    is_test: np.ndarray | None  # (N,) bool from the `is_test` column, or None without one
    feature_names: tuple


def read_csv(path, target: str) -> CsvTable:
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), strict=True)
    header = _header(path, reader, target)
    t_col = header.index(target)
    s_col = header.index(SPLIT_COLUMN) if SPLIT_COLUMN in header else None
    f_cols = [i for i in range(len(header)) if i not in (t_col, s_col)]
    rows, labels, split = [], [], []
    for row_no, row in _records(path, reader, len(header)):
        rows.append([_number(path, row_no, header[i], row[i]) for i in f_cols])
        labels.append(_label(path, row_no, target, row[t_col]))
        if s_col is not None:
            split.append(_split_flag(path, row_no, row[s_col]))
    if not rows:
        raise DataError(f"{path}: no data rows (only the header)")
    X = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(f_cols))
    is_test = np.asarray(split, dtype=bool) if s_col is not None else None
    if is_test is not None and is_test.all():
        raise DataError(f"{path}: column {SPLIT_COLUMN!r} marks every row as a test row; none is left to train on")
    return CsvTable(X, labels, is_test, tuple(header[i] for i in f_cols))


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path}: not a CSV file dwn-mcu reads: it is UTF-16 (a byte-order mark); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}: not a CSV file: row {row} has the byte 0x{data[exc.start]:02x}, which is not "
                        f"UTF-8 (save the file as UTF-8)") from None
    if "\0" in text:
        row = text[:text.index("\0")].count("\n") + 1
        raise DataError(f"{path}: not a CSV file: row {row} holds a NUL byte (a binary file?)")
    return text


def _header(path: Path, reader, target: str) -> list:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path}: empty file") from None
    except csv.Error as exc:
        raise DataError(f"{path}: row 1 (the header): {_csv_fault(exc)}") from None
    if not any(header):
        raise DataError(f"{path}: row 1, the header, is empty (the first line must name the columns)")
    if target not in header:
        hint = _separator_hint(header)
        if hint:  # before the name checks: a tab-separated header is one name holding tabs
            raise DataError(f"{path}: no column named {target!r}{hint}")
    for i, name in enumerate(header, start=1):
        fault = "has no name" if not name else name_fault(name)
        if fault:
            raise DataError(f"{path}: row 1, column {i} of the header {fault}")
    counts = Counter(header)
    for name in (h for h in header if counts[h] > 1):
        cols = [i for i, h in enumerate(header, start=1) if h == name]
        raise DataError(f"{path}: column {name!r} appears {len(cols)} times in the header (columns "
                            f"{', '.join(map(str, cols))}); column names must be unique")
    if target not in header:
        shown = ", ".join(_show(h, quote=False) for h in header[:20])
        raise DataError(f"{path}: no column named {target!r} (columns: {shown}{', ...' if len(header) > 20 else ''})")
    if target == SPLIT_COLUMN:
        raise DataError(f"{path}: {SPLIT_COLUMN!r} marks the test rows; it cannot be the target column")
    return header


def _separator_hint(header: list) -> str:
    """What to say when the header is one column holding another separator; else ''."""
    if len(header) == 1:
        for sep, name in _SEPARATORS.items():
            if sep in header[0]:
                return (f"; the header is one column, {_show(header[0])}, so the separator looks like {name} "
                        f"(dwn-mcu reads comma-separated files)")
    return ""


def _records(path: Path, reader, width: int):
    """(row number, cells) for every non-blank record after the header; row numbers are line numbers."""
    while True:
        row_no = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{path}: row {row_no}: {_csv_fault(exc)}") from None
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != width:
            raise DataError(f"{path}: row {row_no} has {len(row)} cells, the header has {width}")
        yield row_no, row


def _number(path: Path, row_no: int, column: str, cell: str) -> float:
    cell = cell.strip()
    if cell.lower() in MISSING:
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{path}: row {row_no}, column {_show(column)}: {_show(cell)} is not a number") from None
    if math.isnan(value):
        return math.nan
    if not abs(value) <= _FLOAT32_MAX:
        raise DataError(f"{path}: row {row_no}, column {_show(column)}: {_show(cell)} is not a finite number "
                        f"(features are 32-bit floats, at most {_FLOAT32_MAX:.4g} in size)")
    return value


def _label(path: Path, row_no: int, column: str, cell: str) -> str:
    label = cell.strip()
    if label == "":
        raise DataError(f"{path}: row {row_no}, column {_show(column)}: empty label (every row needs one)")
    if label.lower() in MISSING:
        raise DataError(f"{path}: row {row_no}, column {_show(column)}: {_show(label)} is a missing value, "
                        f"not a label (every row needs one)")
    fault = name_fault(label)
    if fault:
        raise DataError(f"{path}: row {row_no}, column {_show(column)}: the label {fault}")
    return label


def _split_flag(path: Path, row_no: int, cell: str) -> bool:
    value = _SPLIT_VALUES.get(cell.strip().lower())
    if value is None:
        raise DataError(f"{path}: row {row_no}, column {SPLIT_COLUMN!r}: {_show(cell)} is not 0 or 1")
    return value


def name_fault(name: str) -> str | None:
    """Why a column name or a label cannot name something in a model (and its generated C), or None."""
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long, more than {MAX_NAME}"
    if not name.isprintable():  # control, format and line-separator characters, tabs
        return f"holds a control character ({_show(name)})"
    return None


def _csv_fault(exc: csv.Error) -> str:
    text = " ".join(str(exc).split())
    if "field larger than field limit" in text:
        return f"a cell is longer than {csv.field_size_limit()} characters"
    if "end of data" in text or "expected" in text:
        return f"{text} (an unclosed or stray quote?)"
    return text


def _show(text: str, quote: bool = True, width: int = 40) -> str:
    """`text` for a one-line message: escaped (repr) and cut to about `width` characters."""
    cut = text if len(text) <= width else text[:width] + "..."
    shown = repr(cut)
    return shown if quote else shown[1:-1]
