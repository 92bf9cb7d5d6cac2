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
from ..compiler.budget import Budget, BudgetError, Sizes
from . import BaselineError
from .xgb_export import XGBTables

@dataclass(frozen=True)
class XGBPlan(Sizes):
    """Flash and RAM by part, the sketch's included; totals, the model's share and what is over budget are
    the DWN plan's own accounting (`compiler.budget.Sizes`)."""

    board: Board
    flash: dict = field(default_factory=dict)  # bytes by part, the sketch included
    ram: dict = field(default_factory=dict)


def require_measured(board: Board):
    """The architecture record of `board`, or BaselineError where XGBoost's code size is not measured."""
    arch = architecture(board.arch)  # code and stack: measured per architecture (`dwn_mcu/architectures.py`)
    if arch.xgb_code is None:
        measured = sorted(a.name for a in ARCHITECTURES.values() if a.xgb_code is not None)
        raise BaselineError(f"XGBoost's code size on {board.arch} ({board.key}) has not been measured; "
                            f"supported: {', '.join(measured)}")
    return arch


def _parts(tables: XGBTables, board: Board) -> tuple:
    arch = require_measured(board)
    cost = arch.xgb_code
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
    plan = XGBPlan(board, *_parts(tables, board))
    budget = None
    if flash_budget is not None or ram_budget is not None:  # each unset share: no limit beyond the board's
        budget = Budget(board.flash if flash_budget is None else flash_budget,
                        board.ram if ram_budget is None else ram_budget)
    problems = plan.problems(budget)
    if problems:
        raise BudgetError(f"XGBoost model does not fit {board.name}: " + "; ".join(problems))
    return plan


def planned_flash(board):
    """A `size_fn` for `train_xgboost`: the model's planned flash share on `board`."""
    board = get_board(board)
    return lambda tables: XGBPlan(board, *_parts(tables, board)).model_flash
