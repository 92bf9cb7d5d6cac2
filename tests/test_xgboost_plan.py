"""XGBoost lowered by the planner's rules (same boards, same sketch allowance, same BudgetError): an
`XGBProgram`, a `Lowered` like the DWN's `Program`."""

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")

from dwn_mcu.baselines import BaselineError  # noqa: E402
from dwn_mcu.baselines.xgb_export import pack, parse_booster  # noqa: E402
from dwn_mcu.baselines.object_size import object_size  # noqa: E402
from dwn_mcu.baselines.xgb_export import render_sources  # noqa: E402
from dwn_mcu.baselines.xgb_plan import choose_layout, lower_xgboost, planned_flash, planned_layout  # noqa: E402
from dwn_mcu.latency import xgb_latency  # noqa: E402
from dwn_mcu.compiler import Budget, BudgetError, Lowered, get_board  # noqa: E402


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "nthread": 1, "seed": 0},
                        xgb.DMatrix(X, label=(X[:, 0] + X[:, 1] > 0)), 10)
    return pack(parse_booster(booster))


def test_plan_counts_tables_exactly_plus_code_and_the_boards_sketch(tables):
    board = get_board("nano")
    program = lower_xgboost(tables, board, layout="table")
    assert isinstance(program, Lowered) and program.model is tables and program.budget is None
    plan = program.plan
    assert plan.flash["sketch"] == board.sketch_flash
    assert plan.model_flash == tables.table_bytes + plan.flash["code"]
    assert plan.flash["leaves"] == tables.leaves.nbytes and plan.flash["thr_keys"] == 4 * tables.thr_keys.size
    assert plan.model_ram == 6 * tables.node_rank.dtype.itemsize + 4 + plan.ram["stack"]
    assert planned_flash("nano")(tables) == plan.model_flash


def test_over_budget_is_the_compilers_budget_error_with_a_breakdown(tables):
    nano = get_board("nano")
    small = lower_xgboost(tables, nano, layout="table").plan.model_flash - 1
    with pytest.raises(BudgetError, match=f"XGBoost model does not fit a budget of {small} bytes .* table layout: model flash "
                                          f"{small + 1} > budget {small} bytes"):
        lower_xgboost(tables, nano, Budget(small, nano.ram))
    with pytest.raises(BudgetError, match="RAM"):
        lower_xgboost(tables, nano, Budget(nano.flash, 10))
    unchecked = lower_xgboost(tables, nano, Budget(small, 10), check_budget=False)
    assert unchecked.plan.problems(unchecked.budget) and unchecked.budget == Budget(small, 10)


def test_unmeasured_architecture_is_refused(tables):
    with pytest.raises(BaselineError, match="not been measured"):
        lower_xgboost(tables, "esp32")  # xtensa: no emulator, so no measurement


def test_inline_layout_is_priced_by_its_code_formula_plus_the_float_add(tables):
    from dwn_mcu.baselines.inline_size import inline_size

    nano = get_board("nano")
    program = lower_xgboost(tables, nano, layout="inline")
    code, data, frame = inline_size(tables, "avr")  # held to the built object: tests/test_inline_size.py
    built = object_size(render_sources(tables, "xgb_model", "inline"), "xgb_model", nano, "x")[0]
    assert program.layout == "inline" and abs(code - built) <= 0.10 * built
    assert program.plan.flash["code"] == code and program.plan.flash["float add"] == 344
    assert program.plan.model_flash == code + 344 and program.plan.ram["frame"] == frame


def test_the_layout_is_the_fastest_that_fits(tables):
    nano = get_board("nano")
    table = lower_xgboost(tables, nano, layout="table").plan.model_flash
    inline = lower_xgboost(tables, nano, layout="inline").plan.model_flash
    assert table < inline  # this model: the inline code is larger than its tables ...
    assert xgb_latency(tables, "avr", "inline") < xgb_latency(tables, "avr", "table")  # ... and faster
    assert choose_layout(tables, nano, Budget(inline, nano.ram)).layout == "inline"
    assert choose_layout(tables, nano, Budget(inline - 1, nano.ram)).layout == "table"
    assert planned_layout(nano, Budget(inline - 1, nano.ram))(tables) == "table"
    assert planned_flash(nano, Budget(inline, nano.ram))(tables) == inline
    slow = xgb_latency(tables, "avr", "inline") - 1  # a latency budget the inline price is over
    assert choose_layout(tables, nano, Budget(inline, nano.ram, slow)).layout == "table"
    assert lower_xgboost(tables, nano, Budget(inline - 1, nano.ram)).layout == "table"
