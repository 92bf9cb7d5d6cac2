"""Lower: a frozen model, a board and a budget in, a `Program` out. The one place where every decision of
a build is made: the exact netlist passes, the input-count form of each layer (`board_form`), the layout
(the planner's rule, the user's choice, or under a budget the fastest that fits: `fit_budget`), every C
type, the fast paths and the memory map (`make_plan`), and the packed arrays (`pack_program`). Budget
search, `build` and `compare` all come through here.
"""

from __future__ import annotations

from dataclasses import replace

from ..frozen import FrozenDWN
from .boards import Board, get_board
from .budget import Budget
from .plan import LAYOUTS, Plan, make_plan
from .program import Program, pack_program


def lower(model: FrozenDWN, board, budget: Budget | None = None, name: str = "dwn_model",
          layout: str | None = None, selftest_count: int = 0, optimize: bool = True,
          check_budget: bool = True) -> Program:
    """The program of `model` on `board`, priced against `budget` (None: the whole board). `optimize`
    runs the exact passes and chooses each layer's input-count form; without it the model is compiled as
    it is. `layout` None: the planner's choice, or under a budget the fastest layout that fits it.
    `check_budget=False` plans a test firmware without the sketch (no BudgetError)."""
    model = model.validate()
    board = get_board(board)
    optimizer, chosen = None, layout
    if optimize:
        model, optimizer = optimize_for_board(model, board, name, layout, selftest_count, budget)
        if budget is not None and layout is None:
            model, chosen, _ = fit_budget(model, board, budget, name, selftest_count)
    elif budget is not None and layout is None:
        chosen = _fastest_fitting(model, board, budget, name, selftest_count)
    plan = make_plan(model, board, name, chosen, selftest_count, check_budget, budget)
    if budget is not None and layout is None:
        plan = replace(plan, layout_reason=_budget_reason(plan, budget))
    program = pack_program(model, plan, optimizer, budget)
    if check_budget:
        from ..latency import check_latency

        check_latency(program)  # the priced latency, where the budget sets one
    return program


def optimize_for_board(model: FrozenDWN, board: Board, name: str = "dwn_model", layout: str | None = None,
                       selftest_count: int = 0, budget: Budget | None = None) -> tuple[FrozenDWN, dict]:
    """Run the exact netlist optimizer, then give the model the input-count form that suits its layout
    (`board_form`); under a budget with no layout asked, the mixed form (`fit_budget` forms it per layout).
    Returns (model, optimizer report)."""
    from ..optimize import optimize

    mixed, opt = optimize(model, uniform=False)
    if budget is not None and layout is None:
        return mixed, opt.to_dict()
    return board_form(mixed, board, name, layout, selftest_count, budget), opt.to_dict()


def board_form(mixed: FrozenDWN, board: Board, name: str = "dwn_model", layout: str | None = None,
               selftest_count: int = 0, budget: Budget | None = None) -> FrozenDWN:
    """An optimized model with mixed input counts, or the same with layers padded back to one count
    (`make_layers_uniform`: where it pays by its bit count, or every layer). Of the forms whose planned
    model flash fits the budget (default: the board's flash less the sketch's), the one with the most
    LUTs on the AVR table layout's fast path (one count per layer; 2.8x fewer cycles per LUT, for a
    few more bytes), then the smallest (ties to one count per layer); none fitting: the smallest. The
    table loop pays a count byte per LUT of a mixed layer, and on AVR the unrolled layout's assembly path
    needs layers of one count (4..8), so padding often saves flash too."""
    from ..optimize import make_layers_uniform

    forms = [make_layers_uniform(mixed), make_layers_uniform(mixed, per_layer_bits=float("inf")), mixed]
    lay = layout or make_plan(mixed, board, name, None, selftest_count, check_budget=False, budget=budget).layout
    flash_budget = board.flash - board.sketch_flash if budget is None else budget.flash
    plans = [make_plan(m, board, name, lay, selftest_count, check_budget=False, budget=budget) for m in forms]
    keys = [(False, -sum(lp.num_luts for lp in p.layers if lp.avr_fast), p.model_flash)
            if p.model_flash <= flash_budget else (True, 0, p.model_flash) for p in plans]
    return forms[keys.index(min(keys))]


def _fits(plan: Plan, budget: Budget) -> bool:
    return plan.model_flash <= budget.flash and plan.model_ram <= budget.ram


def fit_budget(mixed: FrozenDWN, board: Board, budget: Budget, name: str = "dwn_model",
               selftest_count: int = 0) -> tuple[FrozenDWN, str, Plan]:
    """(form, layout, plan) of an optimized model under `budget`: the fastest layout whose model share
    fits it by the planner (unrolled, then table), in that layout's `board_form`; none fitting: the
    layout with the smallest model flash (its plan does not fit). The budget search and `build` both
    decide here."""
    best = None
    for layout in reversed(LAYOUTS):  # unrolled (fastest) first, then table (smallest)
        form = board_form(mixed, board, name, layout, selftest_count, budget)
        plan = make_plan(form, board, name, layout, selftest_count, check_budget=False, budget=budget)
        if _fits(plan, budget):
            return form, layout, plan
        if best is None or plan.model_flash < best[2].model_flash:
            best = (form, layout, plan)
    return best


def _fastest_fitting(model: FrozenDWN, board: Board, budget: Budget, name: str, selftest_count: int) -> str:
    """The fastest layout whose plan of `model` as it is fits `budget`; none fitting: the smallest."""
    plans = [make_plan(model, board, name, lay, selftest_count, check_budget=False, budget=budget)
             for lay in reversed(LAYOUTS)]
    fitting = [p for p in plans if _fits(p, budget)]
    return (fitting[0] if fitting else min(plans, key=lambda p: p.model_flash)).layout


def _budget_reason(plan: Plan, budget: Budget) -> str:
    return (f"{plan.layout} is the fastest layout whose model share fits the budget: {plan.model_flash} of "
            f"{budget.flash} bytes of flash, {plan.model_ram} of {budget.ram} bytes of RAM")
