"""The immediate encoder (`plan.encoder_search == "immediate"`): each feature's thresholds as constants in
a generated binary search over the float's bit pattern (or the integer). Its trees count the thresholds
below x exactly (NaN, infinities, zeros of both signs, subnormals, values equal to thresholds), the C
agrees with the reference on both encoders, and the planner chooses it only while the flash allows."""

import dataclasses
import re
import shutil

import numpy as np
import pytest

from dwn_mcu.compiler import get_board, make_plan
from dwn_mcu.compiler.budget import budget_for
from dwn_mcu.compiler.host import HostModel, compare
from dwn_mcu.compiler.pack import SearchLeaf, feature_search
from dwn_mcu.compiler.plan import PlanError
from dwn_mcu.compiler.program import pack_program
from dwn_mcu.compiler.render import render_library
from dwn_mcu.synthetic import adversarial_inputs, random_model
from test_compiler_integer import integer_model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
F32 = np.float32
TINY = np.float32(1e-45)  # the smallest subnormal

#: thresholds per feature: negatives only, both signs around zero (with -0.0, which is +0.0 to a
#: comparison), subnormals of both signs, the largest finite magnitudes, one threshold
THRESHOLDS = [
    [-3.5, -2.0, -1.0, -0.25],
    [-1.0, -TINY, -0.0, TINY, 0.5],
    [-2 * TINY, -TINY, TINY, 2 * TINY, 1.2e-38],
    [-3.4028235e38, -1.0, 1.0, 3.4028235e38],
    [0.75],
]


def special_model(seed=0):
    model = random_model(seed=seed, num_features=len(THRESHOLDS), bits_per_feature=[len(t) for t in THRESHOLDS],
                         luts=(20, 10), n=[6, 4], num_classes=2)
    return dataclasses.replace(model, thresholds=np.concatenate(THRESHOLDS).astype(F32)).validate()


def walk(search, x) -> int:
    """The rank the generated C computes, by walking the tree in Python."""
    u = int(np.asarray(x, dtype=F32).view(np.uint32))
    node, op = (search.negative, "<") if u & 0x80000000 else (search.positive, ">")
    if node is None:
        return 0
    while not isinstance(node, SearchLeaf):
        node = node.above if (u < node.literal if op == "<" else u > node.literal) else node.below
    return 0 if node.nan_guard and u > 0x7F800000 else node.rank


@pytest.mark.filterwarnings("ignore:overflow encountered in nextafter")
def test_trees_count_the_thresholds_below_x_exactly():
    model = special_model()
    X = adversarial_inputs(model)
    for f, t in enumerate(THRESHOLDS):
        search = feature_search(np.asarray(t, F32), True)
        got = np.array([walk(search, x) for x in X[:, f]])
        want = (X[:, f, None] > np.asarray(t, F32)[None, :]).sum(axis=1)  # NaN > t is False
        np.testing.assert_array_equal(got, want)
    assert any(np.isnan(X[:, 0])) and any(np.signbit(X[:, 1]) & (X[:, 1] == 0))


def test_integer_trees_compare_the_integer():
    search = feature_search(np.array([-129.0, -5.0, 0.0, 7.0, 127.0]), False)
    assert search.negative is None
    x = np.arange(-128, 128)

    def rank(v):
        node = search.positive
        while not isinstance(node, SearchLeaf):
            node = node.above if v > node.literal else node.below
        return node.rank

    np.testing.assert_array_equal([rank(v) for v in x], (x[:, None] > np.array([-129, -5, 0, 7, 127])).sum(axis=1))


def run_c(model, encoder, layout, X, build):
    plan = make_plan(model, get_board("nano"), "enc", layout, check_budget=False, encoder=encoder)
    assert plan.encoder_search == encoder
    host = HostModel(render_library(pack_program(model, plan)), "enc", model.num_classes, build, model.input_type)
    try:
        classes, scores = host.run(X)
    finally:
        host.close()
    return compare(model, X, classes, scores, build)


@needs_gcc
@pytest.mark.parametrize("layout", ["table", "unrolled"])
@pytest.mark.parametrize("encoder", ["immediate", "table"])
@pytest.mark.filterwarnings("ignore:overflow encountered in nextafter")  # adversarial_inputs at FLT_MAX
def test_c_equals_reference_on_special_floats(encoder, layout):
    model = special_model()
    X = adversarial_inputs(model, random_rows=200)
    for build in ("strict", "sanitize"):
        result = run_c(model, encoder, layout, X, build)
        assert result.ok, f"{result.mismatches} of {result.vectors} differ, first {result.first}"


@needs_gcc
@pytest.mark.parametrize("input_type", ["int8", "uint16"])
def test_c_equals_reference_on_integers_with_thresholds_below_the_type(input_type):
    _, model = integer_model(input_type)
    assert float(model.thresholds.min()) < {"int8": -128, "uint16": 0}[input_type]  # min - 1: always 1
    X = adversarial_inputs(model)
    for layout in ("table", "unrolled"):
        result = run_c(model, "immediate", layout, X, "sanitize")
        assert result.ok, f"{result.mismatches} of {result.vectors} differ, first {result.first}"


def test_planner_chooses_immediate_while_the_flash_allows():
    model = special_model()
    board = get_board("nano")
    plan = make_plan(model, board, "m")
    assert plan.encoder_search == "immediate" and "constants" in plan.encoder_reason
    assert plan.ram["feature ranks"] == model.num_features
    table = make_plan(model, board, "m", "table", encoder="table")
    assert "feature ranks" not in table.ram
    # unrolled, the table encoder stores the ranks layer 1 reads; its search keeps the keys and counts
    unrolled_table = make_plan(model, board, "m", plan.layout, encoder="table")
    assert unrolled_table.rank_inputs and unrolled_table.ram["feature ranks"] == model.num_features
    assert unrolled_table.flash["thresholds"] == table.flash["thresholds"] > 0
    # the immediate encoder keeps only the counts (the table layout; unrolled, layer 1 reads the ranks and
    # the counts go too), its code prices the comparisons
    tplan = make_plan(model, board, "m", "table")
    assert tplan.encoder_search == "immediate" and not tplan.rank_inputs
    assert tplan.flash["thresholds"] == model.num_features < table.flash["thresholds"]
    assert plan.layout == "unrolled" and plan.rank_inputs and plan.flash["thresholds"] == 0
    assert plan.flash["code"] > table.flash["code"]
    # a budget the comparisons' code does not fit, but the threshold table does (the table layout: the
    # unrolled one reading ranks also drops the bit writer's code, here about what the searches add)
    ttable = make_plan(model, board, "m", "table", encoder="table")
    tight = budget_for(board, flash=ttable.model_flash + 10)
    assert tplan.model_flash > tight.flash
    planned = make_plan(model, board, "m", "table", budget=tight)
    assert planned.encoder_search == "table" and "flash table" in planned.encoder_reason


def test_unknown_encoder_is_a_plan_error():
    with pytest.raises(PlanError, match="encoder 'fast' is not one of table, immediate"):
        make_plan(special_model(), get_board("nano"), "m", encoder="fast")


@needs_gcc
@pytest.mark.filterwarnings("ignore:overflow encountered in nextafter")  # adversarial_inputs at FLT_MAX
def test_unrolled_layer_1_reads_the_ranks():
    """Unrolled with either encoder: layer 1 compares ranks with constants, no bit writer and no layer-0
    buffer (two layers: nothing else uses buffer 0); the table layout keeps the bits."""
    model = special_model()
    board = get_board("nano")
    plan = make_plan(model, board, "enc", "unrolled", check_budget=False, encoder="immediate")
    assert plan.rank_inputs and "rank[f] > i" in plan.rank_reason and plan.buffers[0] == 0
    c = render_library(pack_program(model, plan))["enc.c"]
    assert "enc_encode" not in c and "enc_threshold_count" not in c and "enc_buf0" not in c
    assert "enc_ranks(features);" in c and "enc_layer1(enc_rank, ENC_B1);" in c
    layer1 = c.split("static void enc_layer1(const volatile uint8_t *in")[1].split("static void enc_layer2")[0]
    assert re.search(r"\(in\[\d\] > \du\)", layer1) and "& 0x" not in layer1.split("#else")[-1]
    other = make_plan(model, board, "enc", "table", check_budget=False, encoder="immediate")
    assert not other.rank_inputs and other.buffers[0] > 0
    assert "_encode(features, enc_buf0)" in render_library(pack_program(model, other))["enc.c"]
    # the table encoder searches its keys and stores the ranks: no bit writer either
    tplan = make_plan(model, board, "enc", "unrolled", check_budget=False, encoder="table")
    assert tplan.rank_inputs and tplan.encoder_search == "table" and tplan.buffers[0] == 0
    tc = render_library(pack_program(model, tplan))["enc.c"]
    assert "enc_encode" not in tc and "enc_buf0" not in tc and "enc_rank[f] = lo;" in tc
    assert "enc_thresholds[" in tc and "enc_threshold_count[" in tc and "enc_layer1(enc_rank, ENC_B1);" in tc
    # every input of layer 1 is in diagram form, then in table form, with each encoder: all agree with the
    # reference
    X = adversarial_inputs(model, random_rows=100)
    for base, forms in ((p, f) for p in (plan, tplan) for f in (True, False)):
        lp = dataclasses.replace(base.layers[0], diagram_luts=(forms,) * base.layers[0].num_luts)
        forced = dataclasses.replace(base, layers=(lp,) + base.layers[1:])
        host = HostModel(render_library(pack_program(model, forced)), "enc", model.num_classes, "sanitize",
                         model.input_type)
        try:
            classes, scores = host.run(X)
        finally:
            host.close()
        result = compare(model, X, classes, scores, "sanitize")
        assert result.ok, f"{result.mismatches} of {result.vectors} differ, first {result.first}"


def test_avr_rank_loads_keep_a_feature_in_its_register():
    from dwn_mcu.compiler.pack import AVR_RANK_REGISTERS, avr_rank_loads

    # slots 0..5 on features 0, 1, 0, 2, 1, 2: order 5, 4, 3, 1, 2, 0; each feature loaded once
    steps = avr_rank_loads(((0, 1), (1, 0), (0, 3), (2, 2), (1, 5), (2, 7)))
    assert [k for k, _, _ in steps] == [5, 4, 3, 1, 2, 0]
    assert [load for _, _, load in steps] == [True, True, False, False, True, False]
    assert len({r for _, r, _ in steps}) == 3
    # more features than registers: the last register is shared and reloaded when its feature changes
    ranks = tuple((f, 0) for f in (0, 1, 2, 3, 4, 5, 0, 5))
    steps = avr_rank_loads(ranks)
    assert max(r for _, r, _ in steps) == AVR_RANK_REGISTERS - 1
    held = {}
    for k, r, load in steps:  # every test reads the register holding its own feature's rank
        if load:
            held[r] = ranks[k][0]
        assert held[r] == ranks[k][0]
