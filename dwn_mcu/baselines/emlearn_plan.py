"""An emlearn model's flash and RAM on a board, priced by building: its library compiled for the board's
architecture with the emulated target's compiler and flags (`targets/toolchains.py`, without LTO, as
the targets' stack-usage build does), the object's sections summed (`predict_proba`, which no caller
links, left out) and `predict`'s frame read from `-fstack-usage`. Accounted by the DWN planner's rules
(`compiler.budget.Sizes`: the same board files and sketch allowance, `BudgetError` with a breakdown).

The price is the object's, not the linked firmware's (LTO may inline differently): `compare` builds the
chosen model and judges by the ELF, searching again when it overshoots, as for every family.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..architectures import architecture
from ..compiler.boards import Board, get_board
from ..compiler.budget import Budget, BudgetError, Sizes
from . import BaselineError
from .emlearn_export import EmlearnModel, render_sources

FLASH_SECTION_PREFIXES = (".text", ".rodata", ".data", ".progmem")
RAM_SECTION_PREFIXES = (".data", ".bss", ".rodata")  # AVR: .rodata is copied to RAM (no PROGMEM in emlearn)


@dataclass(frozen=True)
class EmlearnPlan(Sizes):
    board: Board
    flash: dict = field(default_factory=dict)
    ram: dict = field(default_factory=dict)


def _target(board: Board):
    tc = architecture(board.arch).toolchain
    if tc is None:
        raise BaselineError(f"emlearn models are priced by building; no compiler for {board.arch} ({board.key})")
    return tc


def _sections(obj: Path) -> dict:
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as fh:
        return {s.name: s["sh_size"] for s in ELFFile(fh).iter_sections() if s["sh_flags"] & 0x2 and s["sh_size"]}


def _kept(section: str, prefixes, name: str) -> bool:
    return section.startswith(prefixes) and not section.endswith(f"{name}_eml_predict_proba")


def measure(model: EmlearnModel, board, name: str = "eml_model") -> tuple[int, int, int]:
    """(code and constant bytes, RAM data bytes, predict's stack frame) of the model's object for `board`."""
    tc = _target(get_board(board))
    flags = [f for f in tc.cflags if f not in ("-flto", "-fno-fat-lto-objects")]
    with tempfile.TemporaryDirectory(prefix="eml_price_") as tmp:
        work = Path(tmp)
        for fname, text in render_sources(model, name).items():
            (work / fname).write_text(text)
        proc = subprocess.run([tc.cc, *flags, "-fstack-usage", "-I.", "-c", f"{name}.c", "-o", f"{name}.o"],
                              cwd=work, capture_output=True, text=True, timeout=300)
        if proc.returncode:
            first = (proc.stderr.strip().splitlines() or ["failed"])[0]
            raise BaselineError(f"{tc.cc} could not compile the emlearn {model.kind}: {first}")
        secs = _sections(work / f"{name}.o")
        frames = [int(line.split("\t")[1]) for line in (work / f"{name}.su").read_text().splitlines()
                  if "\t" in line and not line.split("\t")[0].endswith("_predict_proba")]
    ram_prefixes = RAM_SECTION_PREFIXES if get_board(board).arch == "avr" else (".data", ".bss")
    flash = sum(v for k, v in secs.items() if _kept(k, FLASH_SECTION_PREFIXES, name))
    ram = sum(v for k, v in secs.items() if _kept(k, ram_prefixes, name))
    return flash, ram, sum(frames)


def plan_emlearn(model: EmlearnModel, board, flash_budget: int | None = None, ram_budget: int | None = None,
                 name: str = "eml_model") -> EmlearnPlan:
    """Flash and RAM of `model` on `board`; BudgetError when it does not fit the board or the budget."""
    board = get_board(board)
    code, data, stack = measure(model, board, name)
    flash = {"code": code, "sketch": board.sketch_flash}
    ram = {"data": data, "stack": stack, "sketch input buffer": 2 * model.num_features, "sketch": board.sketch_ram}
    plan = EmlearnPlan(board, flash, ram)
    budget = None
    if flash_budget is not None or ram_budget is not None:
        budget = Budget(board.flash if flash_budget is None else flash_budget,
                        board.ram if ram_budget is None else ram_budget)
    problems = plan.problems(budget)
    if problems:
        raise BudgetError(f"emlearn {model.kind} does not fit {board.name}: " + "; ".join(problems))
    return plan


def planned_flash(board, name: str = "eml_model"):
    """A `size_fn` for `train_emlearn`: the model's planned flash share on `board` (priced by building)."""
    board = get_board(board)
    return lambda model: EmlearnPlan(board, {"code": measure(model, board, name)[0]}, {}).model_flash
