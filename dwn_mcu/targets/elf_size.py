"""Flash and RAM of a linked ELF, summed the way PlatformIO's size check does, and stack depth from
GCC's `-fstack-usage` files.

PlatformIO sums `.text|.data|.bootloader` (AVR) or `.text|.data|.rodata|.text.align|.ARM.exidx` (ARM)
for flash and `.data|.bss|.noinit` for RAM (docs/design.md). Section names are matched exactly or as a
prefix followed by a dot (`.rodata.foo`), as a linker script without `*(.rodata*)` folding would leave
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection


@dataclass(frozen=True)
class ElfSize:
    flash: int
    ram: int
    sections: dict  # name -> size, every allocated section

    def __sub__(self, other: "ElfSize") -> "ElfSize":
        names = set(self.sections) | set(other.sections)
        return ElfSize(
            self.flash - other.flash,
            self.ram - other.ram,
            {n: self.sections.get(n, 0) - other.sections.get(n, 0) for n in sorted(names)},
        )


def _matches(name: str, wanted: tuple[str, ...]) -> bool:
    return any(name == w or name.startswith(w + ".") for w in wanted)


def section_sizes(elf_path) -> dict:
    """Sizes of the ELF's allocated sections (SHF_ALLOC), by name."""
    with open(elf_path, "rb") as fh:
        elf = ELFFile(fh)
        return {s.name: s["sh_size"] for s in elf.iter_sections() if s["sh_flags"] & 0x2 and s["sh_size"]}


def elf_size(elf_path, flash_sections, ram_sections) -> ElfSize:
    """Flash and RAM of a linked ELF (bytes), summed over the named sections."""
    sections = section_sizes(elf_path)
    flash = sum(v for k, v in sections.items() if _matches(k, tuple(flash_sections)))
    ram = sum(v for k, v in sections.items() if _matches(k, tuple(ram_sections)))
    return ElfSize(flash, ram, sections)


def symbols_in_section(elf_path, section_prefix: str) -> dict:
    """Data symbols (name -> size) placed in sections whose name starts with `section_prefix`
    (for example the tables a model left in AVR `.data`, that is in RAM)."""
    out = {}
    with open(elf_path, "rb") as fh:
        elf = ELFFile(fh)
        names = {i: s.name for i, s in enumerate(elf.iter_sections())}
        for sec in elf.iter_sections():
            if not isinstance(sec, SymbolTableSection):
                continue
            for sym in sec.iter_symbols():
                shndx = sym["st_shndx"]
                if isinstance(shndx, int) and names.get(shndx, "").startswith(section_prefix):
                    if sym["st_info"]["type"] == "STT_OBJECT" and sym["st_size"]:
                        out[sym.name] = sym["st_size"]
    return out


def stack_usage(su_files) -> dict:
    """Frame size of every function in GCC `.su` files: {function: bytes}. A line reads
    `file.c:12:9:name<TAB>bytes<TAB>static|dynamic|dynamic,bounded`."""
    frames = {}
    for path in su_files:
        for line in Path(path).read_text().splitlines():
            parts = line.split("\t")
            if len(parts) < 2:
                continue
            func = parts[0].rsplit(":", 1)[-1]
            frames[func] = max(frames.get(func, 0), int(parts[1]))
    return frames


def stack_bound(frames: dict, entry: str, functions: set | None = None) -> int:
    """A static bound on the stack of the model's own code: `entry`'s frame plus the frames of every
    other function in `functions` (the generated code has no recursion, so a call chain visits each
    function at most once). Calls into libgcc or libc, which have no .su file here, come on top."""
    others = set(functions if functions is not None else frames) - {entry}
    return frames.get(entry, 0) + sum(frames.get(f, 0) for f in others)
