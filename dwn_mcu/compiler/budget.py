"""A budget: the flash and RAM a model may take on a board, beside the sketch around it (the model's
share, as `Plan.model_flash` / `Plan.model_ram` count it), and optionally the latency of one inference
(the planner's price, `dwn_mcu.latency`: cycles on AVR, instructions on the QEMU-measured targets).
Passed as a value to the planner and the budget search; the board itself is never edited to express one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DWNError


class BudgetError(DWNError):
    """The model does not fit the board's flash or RAM, or the budget given for it."""


@dataclass(frozen=True)
class Budget:
    flash: int  # bytes of flash for the model (tables, mappings, thresholds, code)
    ram: int  # bytes of RAM for the model (buffers, scores, stack)
    latency: int | None = None  # priced cycles (instructions on QEMU targets) per inference; None: no limit

    def latency_problem(self, price: int) -> str | None:
        """What is over the latency budget for a model priced at `price`, or None."""
        if self.latency is None or price <= self.latency:
            return None
        return f"latency {price} > budget {self.latency} cycles per inference (priced)"

    def ram_limit(self, board) -> int:
        """The whole-firmware RAM the planner may fill (sketch included) under this budget."""
        return min(board.ram, self.ram + board.sketch_ram)


#: Parts of an estimate that belong to the firmware around the model, not to the model's share.
SKETCH_FLASH_PARTS = ("sketch", "selftest vectors")
SKETCH_RAM_PARTS = ("sketch", "sketch input buffer")


class Sizes:
    """Flash and RAM accounting shared by every model family's plan (a dataclass with `board`, and
    `flash` and `ram` dicts of bytes by part): totals, the model's share, and what is over budget."""

    @property
    def flash_total(self) -> int:
        return sum(self.flash.values())

    @property
    def ram_total(self) -> int:
        return sum(self.ram.values())

    @property
    def model_flash(self) -> int:
        return sum(v for k, v in self.flash.items() if k not in SKETCH_FLASH_PARTS)

    @property
    def model_ram(self) -> int:
        return sum(v for k, v in self.ram.items() if k not in SKETCH_RAM_PARTS)

    def problems(self, budget: Budget | None = None) -> list[str]:
        """What does not fit: the board's flash and RAM (sketch included), then the budget's shares."""
        board, out = self.board, []
        if self.flash_total > board.flash:
            out.append(f"flash {self.flash_total} > {board.flash} bytes ({breakdown(self.flash)})")
        if self.ram_total > board.ram:
            out.append(f"RAM {self.ram_total} > {board.ram} bytes ({breakdown(self.ram)})")
        if budget is not None and self.model_flash > budget.flash:
            out.append(f"model flash {self.model_flash} > budget {budget.flash} bytes ({breakdown(self.flash)})")
        if budget is not None and self.model_ram > budget.ram:
            out.append(f"model RAM {self.model_ram} > budget {budget.ram} bytes ({breakdown(self.ram)})")
        return out


@dataclass(frozen=True)
class Footprint(Sizes):
    """Flash and RAM by part (the sketch's included) of a family whose plan is nothing more (XGBoost)."""

    board: object  # a `compiler.boards.Board`
    flash: dict = field(default_factory=dict)
    ram: dict = field(default_factory=dict)


def check_fits(sizes: Sizes, budget: Budget | None = None, what: str = "model", how: str = "") -> None:
    """BudgetError naming `what`, the board (and the budget), `how` it was planned and what takes the
    space, when `sizes` does not fit. Every family's lowering raises it here."""
    problems = sizes.problems(budget)
    if problems:
        board = sizes.board
        where = board.name if budget is None else (f"a budget of {budget.flash} bytes of flash and {budget.ram} "
                                                   f"bytes of RAM on {board.name}")
        raise BudgetError(f"{what} does not fit {where}{how}: " + "; ".join(problems))


def breakdown(parts: dict) -> str:
    """Parts by size, largest first, the empty ones left out."""
    return ", ".join(f"{k} {v}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v)


def budget_for(board, flash: int | None = None, ram: int | None = None, latency=None) -> Budget:
    """The given shares, each defaulting to what the board leaves beside its sketch, and the latency
    budget (`latency_cycles`: cycles or a "150us" text; None: no limit); BudgetError when that leaves
    nothing for a model."""
    flash = board.flash - board.sketch_flash if flash is None else int(flash)
    ram = board.ram - board.sketch_ram if ram is None else int(ram)
    if flash <= 0 or ram <= 0:
        raise BudgetError(f"budget of {flash} bytes of flash and {ram} bytes of RAM leaves nothing for a model")
    return Budget(flash, ram, None if latency is None else latency_cycles(latency, board))


def latency_cycles(value, board) -> int:
    """A latency budget in cycles: an integer (cycles), or a text of cycles ("2000") or microseconds
    ("150us") at the board's clock (on the QEMU-measured targets an instruction counts as a cycle).
    BudgetError for anything else, or a budget that is not positive."""
    text = str(value).strip().lower()
    try:
        cycles = (int(float(text[:-2]) * board.f_cpu / 1_000_000) if text.endswith("us")
                  else int(text) if not isinstance(value, float) else int(value))
    except (ValueError, OverflowError):
        raise BudgetError(f"latency budget {value!r}: not cycles (2000) or microseconds (150us)") from None
    if cycles <= 0:
        raise BudgetError(f"latency budget {value!r}: must be at least one cycle")
    return cycles


def metadata_budget(model, board) -> Budget | None:
    """The budget a model was trained for (`train --board B --flash-budget ...` stores `board`,
    `flash_budget` and `ram_budget` in its metadata), when it was trained for this board; else None."""
    meta = model.metadata
    if meta.get("board") != board.key or "flash_budget" not in meta:
        return None
    flash, ram, latency = meta.get("flash_budget"), meta.get("ram_budget"), meta.get("latency_budget")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (flash, ram)):
        raise BudgetError(f"model metadata: flash_budget and ram_budget must be integers, got {flash!r}, {ram!r}")
    if latency is not None and (not isinstance(latency, int) or isinstance(latency, bool) or latency <= 0):
        raise BudgetError(f"model metadata: latency_budget must be a positive integer, got {latency!r}")
    return budget_for(board, flash, ram, latency)
