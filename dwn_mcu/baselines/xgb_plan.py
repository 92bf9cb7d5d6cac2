"""Lower an XGBoost model for a board: an `XGBProgram` (the tables, their flash and RAM by part, the
budget), by the same rules as the DWN's lowering (`dwn_mcu.compiler.lower`): the same board files, the
same sketch allowance, the model's share counted apart from the sketch (`compiler.budget.Footprint`,
the shared accounting), and the compiler's `BudgetError` with a breakdown (`compiler.budget.check_fits`)
when it does not fit.

Flash = the packed tables (exact) + the code of `NAME_predict` and the soft-float add it pulls in
(measured per architecture: the model's share of a linked ELF minus its tables; see
`bench/compare_nano.py`). RAM = the bins and margins on the stack plus the call's frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..architectures import ARCHITECTURES, architecture
from ..compiler.boards import Board, get_board
from ..compiler.budget import Budget, Footprint, check_fits
from . import BaselineError
from .xgb_export import XGBTables


@dataclass(frozen=True, eq=False)
class XGBProgram:
    """An XGBoost model lowered for a board (a `compiler.program.Lowered`, like the DWN's `Program`)."""

    model: XGBTables  # the tables as exported and rendered
    plan: Footprint  # flash and RAM by part, the sketch's included
    budget: Budget | None = None  # the budget it was priced against (None: the whole board)


def require_measured(board: Board):
    """The architecture record of `board`, or BaselineError where XGBoost's code size is not measured."""
    arch = architecture(board.arch)  # code and stack: measured per architecture (`dwn_mcu/architectures.py`)
    if arch.xgb_code is None:
        measured = sorted(a.name for a in ARCHITECTURES.values() if a.xgb_code is not None)
        raise BaselineError(f"XGBoost's code size on {board.arch} ({board.key}) has not been measured; "
                            f"supported: {', '.join(measured)}")
    return arch


def footprint(tables: XGBTables, board: Board) -> Footprint:
    """Flash and RAM of `tables` on `board`, by part."""
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
    return Footprint(board, flash, ram)


def lower_xgboost(tables: XGBTables, board, budget: Budget | None = None, check_budget: bool = True) -> XGBProgram:
    """`tables` on `board`: the model must fit the board with its sketch and, under `budget`, its own share
    must fit the budget; otherwise `BudgetError` (not raised with `check_budget=False`)."""
    program = XGBProgram(tables, footprint(tables, get_board(board)), budget)
    if check_budget:
        check_fits(program.plan, budget, "XGBoost model")
    return program


def planned_flash(board):
    """A `size_fn` for `train_xgboost`: the model's planned flash share on `board`."""
    board = get_board(board)
    return lambda tables: footprint(tables, board).model_flash
