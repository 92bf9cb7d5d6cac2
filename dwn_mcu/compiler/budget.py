"""A budget: the flash and RAM a model may take on a board, beside the sketch around it (the model's
share, as `Plan.model_flash` / `Plan.model_ram` count it). Passed as a value to the planner and the
budget search; the board itself is never edited to express one. (The next issue adds latency.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DWNError


class BudgetError(DWNError):
    """The model does not fit the board's flash or RAM, or the budget given for it."""


@dataclass(frozen=True)
class Budget:
    flash: int  # bytes of flash for the model (tables, mappings, thresholds, code)
    ram: int  # bytes of RAM for the model (buffers, scores, stack)

    def ram_limit(self, board) -> int:
        """The whole-firmware RAM the planner may fill (sketch included) under this budget."""
        return min(board.ram, self.ram + board.sketch_ram)


def budget_for(board, flash: int | None = None, ram: int | None = None) -> Budget:
    """The given shares, each defaulting to what the board leaves beside its sketch; BudgetError when
    that leaves nothing for a model."""
    flash = board.flash - board.sketch_flash if flash is None else int(flash)
    ram = board.ram - board.sketch_ram if ram is None else int(ram)
    if flash <= 0 or ram <= 0:
        raise BudgetError(f"budget of {flash} bytes of flash and {ram} bytes of RAM leaves nothing for a model")
    return Budget(flash, ram)


def metadata_budget(model, board) -> Budget | None:
    """The budget a model was trained for (`train --board B --flash-budget ...` stores `board`,
    `flash_budget` and `ram_budget` in its metadata), when it was trained for this board; else None."""
    meta = model.metadata
    if meta.get("board") != board.key or "flash_budget" not in meta:
        return None
    flash, ram = meta.get("flash_budget"), meta.get("ram_budget")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (flash, ram)):
        raise BudgetError(f"model metadata: flash_budget and ram_budget must be integers, got {flash!r}, {ram!r}")
    return budget_for(board, flash, ram)
