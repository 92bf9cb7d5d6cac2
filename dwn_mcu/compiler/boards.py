"""Board descriptions: one TOML file per board in `boards/` (shipped in the package) plus, optionally, a
user folder named by `--boards-dir` or the `DWN_MCU_BOARDS` environment variable.

A board file states what is about the board: a display name and aliases, the PlatformIO
platform/board/framework, the chip (its architecture, MCU, clock, the flash and RAM the application may
use, whether tables need `PROGMEM`) and the sketch's own cost. Everything about the architecture (code
and stack costs, compiler, flags, emulator) is its record in `dwn_mcu/architectures.py`. Tables a board
file of an older version still has (`[toolchain]`, `[emulator]`) are ignored.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..architectures import ARCHES
from ..errors import DWNError
from ..resources import resource_dir

ENV_VAR = "DWN_MCU_BOARDS"


class BoardError(DWNError):
    """A board file is malformed, or a board name is unknown."""


@dataclass(frozen=True)
class Board:
    key: str  # the file's stem: `nano` for boards/nano.toml
    name: str
    aliases: tuple[str, ...]
    pio_platform: str
    pio_board: str
    pio_framework: str
    arch: str
    mcu: str
    f_cpu: int
    flash: int
    ram: int
    progmem: bool
    sketch_flash: int
    sketch_ram: int
    path: Path
    sketch_flash_integer: int | None = None  # the sketch of an integer-input model (strtol, no floats)

    def sketch_flash_for(self, input_type: str) -> int:
        """The sketch's flash for a model taking `input_type` inputs: an integer model's sketch parses with
        strtol and links no floating point, where the board file measures it (else the float sketch's)."""
        if input_type != "float32" and self.sketch_flash_integer is not None:
            return self.sketch_flash_integer
        return self.sketch_flash

    def as_dict(self) -> dict:
        return {
            "key": self.key, "name": self.name, "platformio_board": self.pio_board, "arch": self.arch,
            "mcu": self.mcu, "f_cpu": self.f_cpu, "flash": self.flash, "ram": self.ram,
        }


def _field(path: Path, table: dict, section: str, key: str, kind, default=...):
    where = f"{section}.{key}" if section else key
    if key not in table:
        if default is not ...:
            return default
        raise BoardError(f"board file {path}: missing field '{where}'")
    value = table[key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is list:
        ok = ok and all(isinstance(v, str) for v in value)
    if not ok:
        raise BoardError(f"board file {path}: field '{where}' must be {_KIND_NAMES[kind]}, got {value!r}")
    texts = [value] if kind is str else value if kind is list else []
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for text in texts for ch in text):
        raise BoardError(f"board file {path}: field '{where}' contains a control character (it would reach "
                         f"the generated files)")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list of strings",
               dict: "a table"}


def load_board(path) -> Board:
    """Read and check one board file; a malformed file raises BoardError naming the file and field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"board file {path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"board file {path}: not valid TOML ({exc})") from None
    sec = {s: _field(path, data, "", s, dict, {} if s == "sketch" else ...) for s in ("platformio", "chip", "sketch")}
    f = lambda s, k, kind, default=...: _field(path, sec[s], s, k, kind, default)  # noqa: E731
    arch = f("chip", "arch", str)
    if arch not in ARCHES:
        raise BoardError(f"board file {path}: field 'chip.arch' is {arch!r}, expected one of {', '.join(ARCHES)}")
    for key in ("f_cpu", "flash", "ram"):
        if f("chip", key, int) <= 0:
            raise BoardError(f"board file {path}: field 'chip.{key}' must be positive")
    return Board(
        key=path.stem,
        name=_field(path, data, "", "name", str),
        aliases=tuple(_field(path, data, "", "aliases", list, [])),
        pio_platform=f("platformio", "platform", str),
        pio_board=f("platformio", "board", str),
        pio_framework=f("platformio", "framework", str),
        arch=arch,
        mcu=f("chip", "mcu", str),
        f_cpu=f("chip", "f_cpu", int),
        flash=f("chip", "flash", int),
        ram=f("chip", "ram", int),
        progmem=f("chip", "progmem", bool),
        sketch_flash=f("sketch", "flash", int, 0),
        sketch_ram=f("sketch", "ram", int, 0),
        path=path,
        sketch_flash_integer=f("sketch", "flash_integer", int, None),
    )


def board_dirs(extra=None) -> list[Path]:
    """The package's boards, then `extra` (option) or $DWN_MCU_BOARDS; later folders override earlier."""
    dirs = [resource_dir("boards")]
    extra = extra if extra is not None else os.environ.get(ENV_VAR)
    if extra:
        extra = Path(extra)
        if not extra.is_dir():
            raise BoardError(f"boards folder {extra} does not exist")
        dirs.append(extra)
    return dirs


def load_boards(extra=None) -> dict[str, Board]:
    """Every board, keyed by file stem, sorted by key."""
    boards = {}
    for d in board_dirs(extra):
        for path in sorted(d.glob("*.toml")):
            boards[path.stem] = load_board(path)
    return dict(sorted(boards.items()))


def get_board(name, extra=None) -> Board:
    """A board by key or alias (case-insensitive); unknown names raise BoardError with the closest names."""
    if isinstance(name, Board):
        return name
    boards = load_boards(extra)
    wanted = str(name).strip().lower()
    names = {}
    for board in boards.values():
        for n in (board.key, *board.aliases):
            names.setdefault(n.lower(), board)
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise BoardError(f"unknown board '{name}'{hint} (`dwn-mcu boards` lists them)")
