"""An XGBoost model's flash and RAM on a board, by the same rules as the DWN's planner
(`dwn_mcu.compiler.plan`): the same board files, the same sketch allowance, the model's share counted
apart from the sketch, and the compiler's `BudgetError` (with a breakdown) when it does not fit.

Flash = the packed tables (exact) + the code of `NAME_predict` and the soft-float add it pulls in
(measured per architecture: the model's share of a linked ELF minus its tables; see
`bench/compare_nano.py`). RAM = the bins and margins on the stack plus the call's frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..architectures import ARCHITECTURES, architecture
from ..compiler.boards import Board, get_board
from ..compiler.plan import BudgetError
from . import BaselineError
from .xgb_export import XGBTables

@dataclass(frozen=True)
class XGBPlan:
    board: Board
    flash: dict = field(default_factory=dict)  # bytes by part, the sketch included
    ram: dict = field(default_factory=dict)

    @property
    def model_flash(self) -> int:
        return sum(v for k, v in self.flash.items() if k != "sketch")

    @property
    def model_ram(self) -> int:
        return sum(v for k, v in self.ram.items() if k not in ("sketch", "sketch input buffer"))


def _parts(tables: XGBTables, board: Board) -> tuple:
    arch = architecture(board.arch)  # code and stack: measured per architecture (`dwn_mcu/architectures.py`)
    cost = arch.xgb_code
    if cost is None:
        measured = sorted(a.name for a in ARCHITECTURES.values() if a.xgb_code is not None)
        raise BaselineError(f"XGBoost's code size on {board.arch} ({board.key}) has not been measured; "
                            f"supported: {', '.join(measured)}")
    flash = {name: int(a.nbytes) for name, a in tables.arrays().items()}
    flash["code"] = cost["fixed"] + cost["per_margin"] * tables.num_margins
    flash["sketch"] = board.sketch_flash
    ram = {
        "bins": tables.num_features * tables.node_rank.dtype.itemsize,
        "margins": 4 * tables.num_margins,
        "stack": arch.xgb_stack,
        "sketch input buffer": 4 * tables.num_features,
        "sketch": board.sketch_ram,
    }
    return flash, ram


def plan_xgboost(tables: XGBTables, board, flash_budget: int | None = None,
                 ram_budget: int | None = None) -> XGBPlan:
    """Flash and RAM of `tables` on `board`. The model must fit the board with its sketch, and, when
    given, its own share must fit `flash_budget` / `ram_budget` bytes; otherwise `BudgetError`."""
    board = get_board(board)
    flash, ram = _parts(tables, board)
    plan = XGBPlan(board, flash, ram)
    problems = []
    if sum(flash.values()) > board.flash:
        problems.append(f"flash {sum(flash.values())} > {board.flash} bytes ({_breakdown(flash)})")
    if sum(ram.values()) > board.ram:
        problems.append(f"RAM {sum(ram.values())} > {board.ram} bytes ({_breakdown(ram)})")
    if flash_budget is not None and plan.model_flash > flash_budget:
        problems.append(f"model flash {plan.model_flash} > budget {flash_budget} bytes")
    if ram_budget is not None and plan.model_ram > ram_budget:
        problems.append(f"model RAM {plan.model_ram} > budget {ram_budget} bytes")
    if problems:
        raise BudgetError(f"XGBoost model does not fit {board.name}: " + "; ".join(problems))
    return plan


def planned_flash(board):
    """A `size_fn` for `train_xgboost`: the model's planned flash share on `board`."""
    board = get_board(board)
    return lambda tables: XGBPlan(board, *_parts(tables, board)).model_flash


def _breakdown(parts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
