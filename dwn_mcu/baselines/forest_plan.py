"""A forest's (`forest_export.ForestModel`) flash and RAM on a board, priced by building, as emlearn's
models are (`object_size`: the library's object for the board's architecture, its frame from
`-fstack-usage`), accounted by the DWN planner's rules (`compiler.budget.check_fits`). Integer code
only: nothing of a runtime library is linked beside it."""

from __future__ import annotations

from ..compiler.boards import get_board
from ..compiler.budget import Budget, Footprint, check_fits
from .forest_export import ForestModel, render_sources
from .object_size import object_size


def measure(model: ForestModel, board, name: str = "forest_model") -> tuple[int, int, int]:
    return object_size(render_sources(model, name), name, board, f"forest {model.kind}")


def plan_forest(model: ForestModel, board, budget: Budget | None = None, name: str = "forest_model") -> Footprint:
    """Flash and RAM of `model` on `board` by part; BudgetError when it does not fit the board or `budget`."""
    board = get_board(board)
    code, data, frame = measure(model, board, name)
    plan = Footprint(board, {"code": code, "sketch": board.sketch_flash},
                     {"data": data, "frame": frame, "scores": 2 * model.num_classes,
                      "sketch input buffer": 2 * model.num_features, "sketch": board.sketch_ram})
    check_fits(plan, budget, f"forest {model.kind}")
    return plan


def planned_flash(board, name: str = "forest_model"):
    """A `size_fn` for the search: the model's planned flash share on `board` (priced by building)."""
    board = get_board(board)
    return lambda model: measure(model, board, name)[0]
