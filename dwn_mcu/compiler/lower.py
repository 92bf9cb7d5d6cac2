"""Lower: a frozen model, a board and a budget in, a `Program` out. The one place where every decision of
a build is made: the exact netlist passes, the input-count form of the model together with its layout
(`choose`: each candidate form planned once per layout considered, priced by `form_price`, a pure
function of its plan), every C type, the fast paths and the memory map (`make_plan`), and the packed
arrays (`pack_program`). Budget search, `build` and `compare` all come through here.
"""

from __future__ import annotations

from dataclasses import replace

from ..frozen import FrozenDWN
from .boards import Board, get_board
from .budget import Budget
from .plan import LAYOUTS, Plan, check_fits, make_plan
from .program import Program, pack_program


def lower(model: FrozenDWN, board, budget: Budget | None = None, name: str = "dwn_model",
          layout: str | None = None, selftest_count: int = 0, optimize: bool = True,
          check_budget: bool = True, encoder: str | None = None) -> Program:
    """The program of `model` on `board`, priced against `budget` (None: the whole board). `optimize`
    runs the exact passes and chooses the input-count form (`input_count_forms`); without it the model is
    compiled as it is. `layout` None: the planner's rule, or under a budget the fastest layout that fits
    it. `check_budget=False` plans a test firmware without the sketch (no BudgetError). `encoder` forces
    the encoder's search (`plan.encoder_search`; benchmarks)."""
    from ..optimize import input_count_forms, optimize as exact_passes

    model = model.validate()
    board = get_board(board)
    optimizer, forms = None, (model,)
    if optimize:
        mixed, report = exact_passes(model, uniform=False)
        optimizer, forms = report.to_dict(), input_count_forms(mixed)
    model, plan = choose(forms, board, budget, name, layout, selftest_count, encoder)
    if check_budget:
        check_fits(plan, budget)
    if budget is not None and layout is None:
        plan = replace(plan, layout_reason=_budget_reason(plan, budget))
    program = pack_program(model, plan, optimizer, budget)
    if check_budget:
        from ..latency import check_latency

        check_latency(program)  # the priced latency, where the budget sets one
    return program


def form_price(plan: Plan, flash_limit: int) -> tuple:
    """The price of one candidate form's plan (lowest wins): a plan whose model flash fits `flash_limit`
    before any that does not; among those that fit, the most LUTs on the AVR table layout's fast path
    (one count per layer; 2.8x fewer cycles per LUT, for a few more bytes), then the smallest model
    flash; among those that do not, the smallest. The table loop pays a count byte per LUT of a mixed
    layer, and on AVR the unrolled layout's assembly path needs layers of one count (4..8), so padding
    often saves flash too."""
    if plan.model_flash > flash_limit:
        return (True, 0, plan.model_flash)
    return (False, -sum(lp.num_luts for lp in plan.layers if lp.avr_fast), plan.model_flash)


def _fits(plan: Plan, budget: Budget) -> bool:
    return plan.model_flash <= budget.flash and plan.model_ram <= budget.ram


def choose(forms, board: Board, budget: Budget | None = None, name: str = "dwn_model",
           layout: str | None = None, selftest_count: int = 0, encoder: str | None = None) -> tuple[FrozenDWN, Plan]:
    """(form, plan): of the candidate `forms` of one model (equal answers; ties go to the smaller model, then the first), the
    one with the lowest `form_price` against the budget's flash (default: the board's flash less the
    sketch's). The layout: the one asked; without a budget each form's own by the planner's rule; under
    a budget the fastest layout whose cheapest form fits it (unrolled, then table), none fitting: the
    layout whose cheapest form has the smallest model flash (its plan does not fit). Each form is
    planned once per layout considered. The budget search and `build` both decide here."""
    layouts = (layout,) if layout is not None or budget is None else tuple(reversed(LAYOUTS))
    limit = board.flash - board.sketch_flash if budget is None else budget.flash
    best = None
    for lay in layouts:
        plans = [make_plan(f, board, name, lay, selftest_count, check_budget=False, budget=budget, encoder=encoder)
                 for f in forms]
        # equal prices (a padded input a LUT's diagram ignores costs nothing): the smaller model, then the first
        i = min(range(len(forms)), key=lambda k: (form_price(plans[k], limit), forms[k].size_bits()["total_bits"]))
        if budget is None or _fits(plans[i], budget):
            return forms[i], plans[i]
        if best is None or plans[i].model_flash < best[1].model_flash:
            best = forms[i], plans[i]
    return best


def _budget_reason(plan: Plan, budget: Budget) -> str:
    return (f"{plan.layout} is the fastest layout whose model share fits the budget: {plan.model_flash} of "
            f"{budget.flash} bytes of flash, {plan.model_ram} of {budget.ram} bytes of RAM")
