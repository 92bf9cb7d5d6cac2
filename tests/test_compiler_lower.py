"""`lower`: the input-count form and the layout are one decision (`choose`), each candidate form planned
once per layout considered and priced by a pure function of its plan (`form_price`)."""

import importlib

import pytest

from dwn_mcu.compiler.boards import get_board
from dwn_mcu.compiler.budget import Budget
from dwn_mcu.compiler.lower import form_price, lower
from dwn_mcu.compiler.plan import make_plan
from dwn_mcu.optimize import input_count_forms, optimize
from planted import planted_model

lower_module = importlib.import_module("dwn_mcu.compiler.lower")  # the module (the package exports the function)


@pytest.fixture()
def model():
    return planted_model(seed=5, luts=(40, 12), n=4)[0]


def _count_plans(monkeypatch):
    calls = []

    def counted(*args, **kwargs):
        calls.append(args[0])
        return make_plan(*args, **kwargs)

    monkeypatch.setattr(lower_module, "make_plan", counted)
    return calls


@pytest.mark.parametrize("layout, budget, plans", [(None, None, 3), ("table", None, 3), ("unrolled", None, 3),
                                                   (None, Budget(1, 10**6), 6)])
def test_each_form_is_planned_once_per_layout(monkeypatch, model, layout, budget, plans):
    calls = _count_plans(monkeypatch)
    program = lower(model, "nano", budget, layout=layout, check_budget=False)
    assert len(calls) == plans
    forms = input_count_forms(optimize(model, uniform=False)[0])
    assert len({id(m) for m in calls}) == len(forms)  # the same three forms, each once per layout
    assert any(program.model is m for m in calls)  # the program's model is one of the priced forms


def test_the_program_keeps_the_chosen_plan(model):
    nano = get_board("nano")
    program = lower(model, nano, layout="table", check_budget=False)
    again = make_plan(program.model, nano, layout="table", check_budget=False)
    assert program.plan == again


def test_form_price_orders_fitting_fast_then_small(model):
    nano = get_board("nano")
    plans = [make_plan(m, nano, layout="table", check_budget=False)
             for m in input_count_forms(optimize(model, uniform=False)[0])]
    flash = max(p.model_flash for p in plans)
    for p in plans:
        fast_luts = sum(lp.num_luts for lp in p.layers if lp.avr_fast)
        assert form_price(p, flash) == (False, -fast_luts, p.model_flash)  # fits: fastest, then smallest
        assert form_price(p, p.model_flash - 1) == (True, 0, p.model_flash)  # does not fit: after all that do
    fast = [sum(lp.num_luts for lp in p.layers if lp.avr_fast) for p in plans]
    best = min(plans, key=lambda p: form_price(p, flash))
    assert sum(lp.num_luts for lp in best.layers if lp.avr_fast) == max(fast)
