"""The one place where text becomes generated source: C identifiers, C comments, C string literals, JSON
and INI values, and the Jinja environment every template renderer uses (in the spirit of emlearn's
`cgen.py`). A name or string from a model file, a board file or the command line reaches a template only
through one of these filters, so no such text can end a comment, a string or a line and become code.

Filters registered on `environment()`:
    c_comment   text safe anywhere inside /* ... */
    c_string    a complete C string literal, quotes included
    json        a JSON value (strings quoted and escaped)
    ini         a value on one INI/properties line (control characters refused)
"""

from __future__ import annotations

import functools
import json
import re

import jinja2

from ..errors import DWNError
from ..resources import resource_dir

#: Longest identifier accepted: C99's minimum of significant characters for internal identifiers (5.2.4.1).
MAX_IDENTIFIER = 63

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
    "volatile while _Bool _Complex _Imaginary".split()
)
_PRINTABLE = frozenset(range(0x20, 0x7F))


class CGenError(DWNError):
    """A value cannot be put into generated source: not a C identifier, or text an INI line cannot hold."""


def _shown(text, limit: int = 40) -> str:
    """`text` for a one-line message: repr (control characters escaped), cut to `limit` characters."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def c_identifier(name, what: str = "name", error: type[DWNError] = CGenError) -> str:
    """`name` itself when it is a C identifier ([A-Za-z_][A-Za-z0-9_]*, at most MAX_IDENTIFIER characters,
    not a keyword); otherwise `error` with one line naming `what`."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or name in C_KEYWORDS:
        raise error(f"{what} {_shown(name)} is not a C identifier (letters, digits and _, not starting with a "
                    f"digit, not a C keyword)")
    if len(name) > MAX_IDENTIFIER:
        raise error(f"{what} {_shown(name)} is not a C identifier: {len(name)} characters, at most {MAX_IDENTIFIER}")
    return name


def _escape_bytes(text: str, keep) -> str:
    """UTF-8 bytes of `text`: those `keep` accepts as themselves, every other one as \\xNN."""
    return "".join(chr(b) if keep(b) else f"\\x{b:02X}" for b in str(text).encode("utf-8"))


def c_comment(text) -> str:
    """`text` made safe anywhere inside a /* */ comment, deterministically: a backslash becomes `\\\\`,
    every byte outside printable ASCII `\\xNN` (so no newline, no line splice), `*/` and `/*` get a space
    inside (`* /`, `/ *`), a `?` before a `?` becomes `?\\` (no trigraph), and a leading or trailing `*` or
    `/` gets a space outside, so the text cannot join the template's own `*` or `/` into a comment marker.
    Printable ASCII without these sequences comes out unchanged."""
    out = _escape_bytes(str(text).replace("\\", "\\\\"), lambda b: b in _PRINTABLE)
    while "*/" in out or "/*" in out:
        out = out.replace("*/", "* /").replace("/*", "/ *")
    out = re.sub(r"\?(?=\?)", r"?\\", out)
    if out.startswith(("*", "/")):
        out = " " + out
    if out.endswith(("*", "/")):
        out += " "
    return out


def c_string(text) -> str:
    """A C string literal, quotes included, of `text`'s UTF-8 bytes: `"` and `\\` escaped, every byte
    outside printable ASCII as a three-digit octal escape (which, unlike \\x, cannot swallow a following
    digit), and a `?` that follows a `?` as `\\?`, so no trigraph can form."""
    parts, prev = [], ""
    for b in str(text).encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            parts.append("\\" + ch)
        elif b not in _PRINTABLE:
            parts.append(f"\\{b:03o}")
        elif ch == "?" and prev == "?":
            parts.append("\\?")
        else:
            parts.append(ch)
        prev = ch
    return '"' + "".join(parts) + '"'


def json_value(value) -> str:
    """`value` as JSON (a string quoted, with control and non-ASCII characters escaped)."""
    return json.dumps(value, ensure_ascii=True)


def ini_value(text) -> str:
    """`text` for one line of an INI or properties file; CGenError when it holds a control character
    (a newline would start a new key or section)."""
    text = str(text)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise CGenError(f"{_shown(text)} cannot go into a project file: it contains a control character")
    return text


FILTERS = {"c_comment": c_comment, "c_string": c_string, "json": json_value, "ini": ini_value}


def environment(subdir: str = "", trim_blocks: bool = False) -> jinja2.Environment:
    """The Jinja environment for `firmware_templates/<subdir>` (one per folder and setting, made once):
    strict undefined, no HTML escaping, trailing newline kept, and the filters above. `trim_blocks` also
    sets `lstrip_blocks` (the testbench and XGBoost templates are written for it)."""
    return _environment(str(subdir), bool(trim_blocks))


@functools.lru_cache(maxsize=None)
def _environment(subdir: str, trim_blocks: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("firmware_templates") / subdir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=trim_blocks,
        lstrip_blocks=trim_blocks,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env
