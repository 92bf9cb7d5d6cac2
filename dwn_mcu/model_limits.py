"""The bounds a model, and a `.dwn` file holding one, must keep; and the checks of its text fields.

The byte limits are derived from the targets: the largest board's flash is 2 MiB (`dwn-mcu boards`), and a
model's arrays in memory (int64 counts and mappings, one byte per table bit) are at most about 32 times
the flash they compile to, so 96 MiB in memory and 32 MiB per stored array leave a wide margin while
keeping a hostile file's load under ~512 MB of memory. Each check raises DWNFormatError naming the field.
"""

from __future__ import annotations

import re

from .errors import DWNFormatError

MIB = 1 << 20

#: Most LUT layers a model may have (each is three members of a `.dwn` file).
MAX_LAYERS = 64
#: Most members a `.dwn` zip may list: header, thresholds, bits_per_feature, class_bias, input_scale,
#: input_offset, and three per layer.
MAX_MEMBERS = 6 + 3 * MAX_LAYERS
#: Largest zip central directory (a real one is under 20 KiB): bounds the memory the listing itself takes.
MAX_DIRECTORY_BYTES = 256 * 1024
#: Largest `.dwn` file on disk.
MAX_FILE_BYTES = 64 * MIB
#: Largest uncompressed member (one `.npy` array), declared or actual.
MAX_MEMBER_BYTES = 32 * MIB
#: Largest sum of the uncompressed members.
MAX_TOTAL_BYTES = 64 * MIB
#: Largest loaded model: the arrays in memory (in-memory dtypes), from the `.npy` headers, before any data.
MAX_MODEL_BYTES = 96 * MIB
#: Largest JSON header (`header.npy`), and its deepest nesting of objects and lists.
MAX_HEADER_BYTES = 1 * MIB
MAX_JSON_DEPTH = 32
#: Longest class or feature name, and longest other string in the header (metadata keys and values).
MAX_NAME_CHARS = 64
MAX_TEXT_CHARS = 1024
#: Largest |class_bias|: bias plus the largest popcount or binary score (< 2**30) fits a signed 32-bit score.
MAX_CLASS_BIAS = 1 << 30
#: Largest count a header field (num_features, num_classes) may declare.
MAX_COUNT = (1 << 31) - 1

#: Characters no name or header string may hold: C0 and C1 controls (NUL, tab, CR, LF, ...), DEL, the
#: Unicode line and paragraph separators, and lone surrogates (not encodable as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def check_text(field: str, value, max_chars: int) -> None:
    """`value` must be a str of at most `max_chars` characters with no control character."""
    if not isinstance(value, str):
        raise DWNFormatError(f"{field}: {type(value).__name__} where a string is needed")
    if len(value) > max_chars:
        raise DWNFormatError(f"{field}: {len(value)} characters, at most {max_chars}")
    bad = _FORBIDDEN.search(value)
    if bad:
        raise DWNFormatError(f"{field}: control character {bad.group()!r} at position {bad.start()}")


def check_names(field: str, names) -> None:
    """Every entry of `names` (class or feature names) is a short string without control characters."""
    for i, name in enumerate(names):
        check_text(f"{field}[{i}]", name, MAX_NAME_CHARS)


def check_metadata(metadata) -> None:
    """`metadata` is a dict nested at most MAX_JSON_DEPTH deep whose strings (keys and values) are at most
    MAX_TEXT_CHARS long without control characters. Walks without recursion."""
    if not isinstance(metadata, dict):
        raise DWNFormatError(f"metadata: {type(metadata).__name__} where a JSON object is needed")
    stack = [("metadata", metadata, 1)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise DWNFormatError(f"{where}: nested deeper than {MAX_JSON_DEPTH}")
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    check_text(f"{where}: key", key, MAX_TEXT_CHARS)
                stack.append((f"{where}.{key}"[:200], item, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{where}[{i}]", item, depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            check_text(where, value, MAX_TEXT_CHARS)


def shown(value, width: int = 40) -> str:
    """`repr(value)` cut to `width` characters: a value from a file, quoted safely in a one-line message."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def json_depth(value) -> int:
    """Deepest nesting of dicts and lists in a parsed JSON value (a scalar is depth 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in value)
    return deepest
