"""An emlearn model's flash and RAM on a board, priced by building: its library compiled for the board's
architecture with the emulated target's compiler and flags (`targets/toolchains.py`, without LTO, as
the targets' stack-usage build does), the object's sections summed (`predict_proba`, which no caller
links, left out) and `predict`'s frame read from `-fstack-usage`. Accounted by the DWN planner's rules
(`compiler.budget.Sizes`: the same board files and sketch allowance, `BudgetError` with a breakdown).

The price is the object's, not the linked firmware's (LTO may inline differently): `compare` builds the
chosen model and judges by the ELF, searching again when it overshoots, as for every family.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..compiler.boards import Board, get_board
from ..compiler.budget import Budget, BudgetError, Sizes
from .emlearn_export import EmlearnModel, render_sources
from .object_size import object_size


@dataclass(frozen=True)
class EmlearnPlan(Sizes):
    board: Board
    flash: dict = field(default_factory=dict)
    ram: dict = field(default_factory=dict)


def measure(model: EmlearnModel, board, name: str = "eml_model") -> tuple[int, int, int]:
    """(code and constant bytes, RAM data bytes, predict's stack frame) of the model's object for `board`."""
    return object_size(render_sources(model, name), name, board, f"emlearn {model.kind}",
                       skip=f"{name}_eml_predict_proba")


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
