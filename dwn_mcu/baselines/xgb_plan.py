"""Lower an XGBoost model for a board: an `XGBProgram` (the tables, their flash and RAM by part, the
budget), by the same rules as the DWN's lowering (`dwn_mcu.compiler.lower`): the same board files, the
same sketch allowance, the model's share counted apart from the sketch (`compiler.budget.Footprint`,
the shared accounting), and the compiler's `BudgetError` with a breakdown (`compiler.budget.check_fits`)
when it does not fit.

Two layouts (`xgb_inline.LAYOUTS`), chosen here and only here (`choose_layout`), by the DWN's rule
(`compiler.lower.choose`): the fastest by the latency price that fits the flash, RAM and latency budget.

* table: flash = the packed tables (exact) + the code of `NAME_predict` and the soft-float add it pulls
  in (measured per architecture: the model's share of a linked ELF minus its tables; see
  `bench/xgb_code_size.py`). RAM = the bins and margins on the stack plus the call's frame.
* inline: flash = the library's code by the fitted formula of its nodes, leaves, trees, keyed features
  and margins (`inline_size`, fitted per architecture by bench/calibrate_inline_size.py to the objects
  the board's compiler builds: a fit within its stated error, not a bound; `compare` judges the built
  ELF and searches again when it overshoots) + the soft-float add it links (`Architecture.inline_lib_code`,
  measured by bench/xgb_code_size.py); RAM = its frame by the formula's upper envelope (keys and
  margins included) plus `Architecture.inline_stack`. No compiler runs while the search prices models.
* The int16-input form (`xgb_integer`, what `compare` builds) has code of its own: its table layout's
  code and frame are measured apart (`Architecture.xgb_code_int16`, `xgb_stack_int16`), its inline
  layout's formula is fitted apart (`inline_size.constants_key`; where none fits, built), plus
  `inline_lib_code_int16` and `inline_stack_int16`. Its latency families are `latency.xgb_family`'s.
  Where no formula fits within its stated error (the Cortex-M targets: GCC duplicates tree code there,
  up to 46% off a linear price), the library's object is built for the board instead (`object_size`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from ..architectures import ARCHITECTURES, architecture
from ..compiler.boards import Board, get_board
from ..compiler.budget import Budget, Footprint, check_fits
from . import BaselineError
from .xgb_export import XGBTables
from .xgb_inline import LAYOUTS


@dataclass(frozen=True, eq=False)
class XGBProgram:
    """An XGBoost model lowered for a board (a `compiler.program.Lowered`, like the DWN's `Program`)."""

    model: XGBTables  # the tables as exported and rendered
    plan: Footprint  # flash and RAM by part, the sketch's included
    budget: Budget | None = None  # the budget it was priced against (None: the whole board)
    layout: str = "table"  # `xgb_inline.LAYOUTS`: what `render_sources` writes (`choose_layout` decides)


def require_measured(board: Board, input_type: str = "float32"):
    """The architecture record of `board`, or BaselineError where XGBoost's code size (with `input_type`
    inputs: float32 or int16) is not measured."""
    arch = architecture(board.arch)  # code and stack: measured per architecture (`dwn_mcu/architectures.py`)
    if _table_cost(arch, input_type)[0] is None:
        measured = sorted(a.name for a in ARCHITECTURES.values() if _table_cost(a, input_type)[0] is not None)
        raise BaselineError(f"XGBoost's code size on {board.arch} ({board.key}) has not been measured; "
                            f"supported: {', '.join(measured)}")
    return arch


def _table_cost(arch, input_type: str) -> tuple:
    """(code model, frame) of the table layout's C with `input_type` inputs on `arch` (None: not measured)."""
    return (arch.xgb_code, arch.xgb_stack) if input_type == "float32" else (arch.xgb_code_int16, arch.xgb_stack_int16)


def footprint(tables: XGBTables, board: Board, layout: str = "table") -> Footprint:
    """Flash and RAM of `tables` on `board` in `layout`, by part."""
    arch = require_measured(board, tables.input_type)
    if layout == "inline":
        return _inline_footprint(tables, board, arch)
    if layout != "table":
        raise BaselineError(f"unknown XGBoost layout {layout!r} ({', '.join(LAYOUTS)})")
    cost, stack = _table_cost(arch, tables.input_type)
    flash = {name: int(a.nbytes) for name, a in tables.arrays().items()}
    flash["code"] = cost["fixed"] + cost["per_margin"] * tables.num_margins
    flash["sketch"] = board.sketch_flash
    ram = {
        "bins": tables.num_features * tables.node_rank.dtype.itemsize,
        "margins": 4 * tables.num_margins,
        "stack": stack,
        "sketch input buffer": tables.input_bytes,
        "sketch": board.sketch_ram,
    }
    return Footprint(board, flash, ram)


_INLINE_SIZES = weakref.WeakKeyDictionary()  # tables -> {board key: (code, data, frame)}: one build each


def _inline_footprint(tables: XGBTables, board: Board, arch) -> Footprint:
    from .inline_size import can_size, inline_size

    lib, stack = (arch.inline_lib_code, arch.inline_stack) if tables.is_float else \
        (arch.inline_lib_code_int16, arch.inline_stack_int16)
    if lib is None:
        raise BaselineError(f"the inline tree layout's {tables.input_type} library code on {board.arch} has not "
                            "been measured")
    # the fitted formula (each input type's own): no compiler run while the search prices models
    if can_size(board.arch, tables.input_type):
        code, data, frame = inline_size(tables, board.arch)
    else:  # no formula within its stated error on this architecture: priced by building, once per board
        sizes = _INLINE_SIZES.setdefault(tables, {})
        if board.key not in sizes:
            from .object_size import object_size
            from .xgb_export import render_sources

            sizes[board.key] = object_size(render_sources(tables, "xgb_model", "inline"), "xgb_model", board,
                                           "XGBoost inline trees")
        code, data, frame = sizes[board.key]
    flash = {"code": code, "float add": lib, "sketch": board.sketch_flash}
    ram = {"data": data, "frame": frame, "stack": stack, "sketch input buffer": tables.input_bytes,
           "sketch": board.sketch_ram}
    return Footprint(board, flash, ram)


def choose_layout(tables: XGBTables, board, budget: Budget | None = None, layout: str | None = None) -> XGBProgram:
    """The one layout decision: `layout` when given, else the fastest layout (by the latency price;
    inline first where the architecture has none: it runs no search and no table walk) that fits
    `budget` (flash, RAM and its latency), else the table layout (the smallest; `lower_xgboost` then
    says why it does not fit)."""
    from ..latency import can_price, xgb_family, xgb_latency

    board = get_board(board)
    order = [layout] if layout else [lay for lay in ("inline", "table") if _measured(board, lay, tables)]
    if not layout and all(can_price(board.arch, xgb_family(tables, lay)) for lay in order):
        order.sort(key=lambda lay: xgb_latency(tables, board.arch, lay))
    for lay in order:
        program = XGBProgram(tables, footprint(tables, board, lay), budget, lay)
        if layout or (not program.plan.problems(budget) and not _over_latency(program)):
            return program
    return XGBProgram(tables, footprint(tables, board, "table"), budget, "table")


def _measured(board: Board, layout: str, tables: XGBTables) -> bool:
    arch = architecture(board.arch)
    return layout == "table" or (arch.inline_lib_code if tables.is_float else arch.inline_lib_code_int16) is not None


def _over_latency(program: XGBProgram) -> bool:
    from ..latency import can_price, xgb_family, xgb_latency

    budget, arch = program.budget, program.plan.board.arch
    if budget is None or budget.latency is None or not can_price(arch, xgb_family(program.model, program.layout)):
        return False
    return xgb_latency(program.model, arch, program.layout) > budget.latency


def lower_xgboost(tables: XGBTables, board, budget: Budget | None = None, check_budget: bool = True,
                  layout: str | None = None) -> XGBProgram:
    """`tables` on `board` in the layout `choose_layout` picks (or `layout`): the model must fit the board
    with its sketch and, under `budget`, its own share must fit the budget; otherwise `BudgetError` (not
    raised with `check_budget=False`)."""
    program = choose_layout(tables, board, budget, layout)
    if check_budget:
        check_fits(program.plan, budget, "XGBoost model", f" in the {program.layout} layout")
    return program


def planned_flash(board, budget: Budget | None = None):
    """A `size_fn` for `train_xgboost`: the model's planned flash share on `board` in the layout
    `choose_layout` picks under `budget` (None: the table layout, the smallest)."""
    board = get_board(board)
    if budget is None:
        return lambda tables: footprint(tables, board).model_flash
    return lambda tables: choose_layout(tables, board, budget).plan.model_flash


def planned_layout(board, budget: Budget):
    """A `layout_fn` for `train_xgboost`: the layout `choose_layout` picks (what its sizes are of)."""
    board = get_board(board)
    return lambda tables: choose_layout(tables, board, budget).layout


def planned_latency(board, budget: Budget | None = None):
    """A `latency_fn` for `train_xgboost`: the price of the layout `choose_layout` picks under `budget`
    (None where the architecture has no price for it)."""
    from ..latency import can_price, xgb_family, xgb_latency

    board = get_board(board)

    def price(tables):
        program = choose_layout(tables, board, budget)
        if not can_price(board.arch, xgb_family(tables, program.layout)):
            return None
        return xgb_latency(tables, board.arch, program.layout)
    return price
