"""A generated library's flash, RAM and stack frame for a board, measured by building: compiled for the
board's architecture with the emulated target's compiler and flags (`targets/toolchains.py`, without
LTO, as the targets' stack-usage build does), the object's sections summed and the frames read from
`-fstack-usage`. What emlearn's models and the inline tree layouts (XGBoost's, the forests') are priced
by: their code is their size, and no formula knows what the compiler makes of it.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ..architectures import architecture
from ..compiler.boards import get_board
from . import BaselineError

FLASH_SECTION_PREFIXES = (".text", ".rodata", ".data", ".progmem")
RAM_SECTION_PREFIXES = (".data", ".bss", ".rodata")  # AVR: .rodata is copied to RAM (no PROGMEM)


def toolchain(board, what: str):
    tc = architecture(board.arch).toolchain
    if tc is None:
        raise BaselineError(f"{what} are priced by building; no compiler for {board.arch} ({board.key})")
    return tc


def _sections(obj: Path) -> dict:
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as fh:
        return {s.name: s["sh_size"] for s in ELFFile(fh).iter_sections() if s["sh_flags"] & 0x2 and s["sh_size"]}


def object_size(sources: dict, name: str, board, what: str, skip: str | None = None) -> tuple[int, int, int]:
    """(code and constant bytes, RAM data bytes, summed stack frames) of `NAME.c` built for `board`;
    sections and frames of the function `skip` (one no caller links) are left out."""
    board = get_board(board)
    tc = toolchain(board, what)
    flags = [f for f in tc.cflags if f not in ("-flto", "-fno-fat-lto-objects")]
    with tempfile.TemporaryDirectory(prefix="obj_price_") as tmp:
        work = Path(tmp)
        for fname, text in sources.items():
            (work / fname).write_text(text)
        proc = subprocess.run([tc.cc, *flags, "-fstack-usage", "-I.", "-c", f"{name}.c", "-o", f"{name}.o"],
                              cwd=work, capture_output=True, text=True, timeout=600)
        if proc.returncode:
            first = (proc.stderr.strip().splitlines() or ["failed"])[0]
            raise BaselineError(f"{tc.cc} could not compile the {what}: {first}")
        secs = _sections(work / f"{name}.o")
        frames = [int(line.split("\t")[1]) for line in (work / f"{name}.su").read_text().splitlines()
                  if "\t" in line and not (skip and line.split("\t")[0].endswith(skip))]

    def kept(section, prefixes):
        return section.startswith(prefixes) and not (skip and section.endswith(skip))

    ram_prefixes = RAM_SECTION_PREFIXES if board.arch == "avr" else (".data", ".bss")
    flash = sum(v for k, v in secs.items() if kept(k, FLASH_SECTION_PREFIXES))
    ram = sum(v for k, v in secs.items() if kept(k, ram_prefixes))
    return flash, ram, sum(frames)
