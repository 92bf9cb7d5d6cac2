"""Decision diagrams of LUTs (compiler/bdd.py) and the unrolled layout's diagram form: every diagram
agrees with its truth table on every address, its order is the smallest there is (checked against every
order for n <= 5), and the generated branch code agrees with the reference on the host for LUTs of
n = 1..8, constants and one-input LUTs included."""

import itertools
import shutil

import numpy as np
import pytest

from dwn_mcu.compiler import bdd, get_board, make_plan, plan as plan_module, render_model_sources
from dwn_mcu.compiler.host import HostModel, compare
from dwn_mcu.compiler.lower import lower
from dwn_mcu.frozen import LutLayer
from dwn_mcu.synthetic import adversarial_inputs, random_model


def structured_table(rng, n: int) -> np.ndarray:
    """A LUT function of one of the kinds a diagram treats differently: constant, one input (either
    polarity), a function of a few inputs, or random."""
    kind = rng.integers(5)
    addr = np.arange(1 << n)
    if kind == 0:
        return np.full(1 << n, rng.integers(2), np.uint8)
    if kind == 1:
        return (((addr >> rng.integers(n)) & 1) ^ rng.integers(2)).astype(np.uint8)
    if kind == 2:
        keep = rng.choice(n, size=min(n, 1 + rng.integers(3)), replace=False)
        small = rng.integers(0, 2, 1 << keep.size)
        sub = sum(((addr >> int(s)) & 1) << k for k, s in enumerate(keep))
        return small[sub].astype(np.uint8)
    return rng.integers(0, 2, 1 << n).astype(np.uint8)


@pytest.mark.parametrize("n", range(1, 9))
def test_diagram_agrees_with_its_table_on_every_address(n):
    rng = np.random.default_rng(n)
    for _ in range(40 if n <= 6 else 10):
        table = structured_table(rng, n)
        d = bdd.diagram(table)
        assert [d.evaluate(a) for a in range(1 << n)] == table.tolist()
        assert sorted(d.order) == list(range(n))
        # reduced: no node with equal edges, no two nodes alike
        assert all(lo != hi for _, lo, hi in d.nodes)
        assert len(set(d.nodes)) == d.size
        assert 0 <= d.mean_path() <= d.max_path() <= n


@pytest.mark.parametrize("n", range(1, 6))
def test_best_order_is_the_smallest_of_every_order(n):
    rng = np.random.default_rng(100 + n)
    for _ in range(12):
        table = structured_table(rng, n)
        smallest = min(bdd.build(table, order).size for order in itertools.permutations(range(n)))
        assert bdd.diagram(table).size == smallest


def test_constants_and_one_input_luts_fall_out():
    assert bdd.diagram(np.zeros(64, np.uint8)).root == bdd.FALSE
    assert bdd.diagram(np.ones(8, np.uint8)).size == 0
    addr = np.arange(64)
    d = bdd.diagram(((addr >> 4) & 1) ^ 1)
    assert d.size == 1 and d.nodes[0] == (4, bdd.TRUE, bdd.FALSE)
    assert bdd.branch_code(bdd.diagram(np.zeros(4, np.uint8))) == bdd.BranchCode((), False, False, False)
    # x0 xor x1: the root and one node per value of x0 (a tree has the same three; reduction keeps them)
    xor = ((addr >> 0) ^ (addr >> 1)) & 1
    assert bdd.diagram(xor[:4]).size == 3


def test_branch_code_labels_only_what_is_jumped_to():
    rng = np.random.default_rng(7)
    for _ in range(30):
        d = bdd.diagram(rng.integers(0, 2, 32))
        code = bdd.branch_code(d)
        targets = {t for s in code.steps for t in (s.target, s.other) if t is not None}
        labels = {s.label for s in code.steps if s.label}
        assert labels == targets - {bdd.ONE, bdd.END}
        assert code.one_label == (bdd.ONE in targets) and code.end_label == (bdd.END in targets)


def test_bad_tables_are_refused():
    with pytest.raises(ValueError):
        bdd.diagram(np.zeros(6, np.uint8))
    with pytest.raises(ValueError):
        bdd.diagram(np.full(4, 2, np.uint8))


def structured_model(seed: int, n_values, luts: int = 24, classes: int = 2):
    """A one-layer model whose LUTs have `n_values` inputs (cycled) and structured tables."""
    rng = np.random.default_rng(seed)
    base = random_model(seed, num_features=6, bits_per_feature=8, luts=(luts,), n=max(n_values), num_classes=classes)
    ns = np.array([n_values[j % len(n_values)] for j in range(luts)], dtype=np.int64)
    mapping = np.concatenate([rng.choice(base.num_input_bits, size=n, replace=False) for n in ns])
    tables = np.concatenate([structured_table(rng, int(n)) for n in ns])
    layer = LutLayer(n_inputs=ns, mapping=mapping.astype(np.int64), tables=tables)
    return type(base)(thresholds=base.thresholds, bits_per_feature=base.bits_per_feature, layers=(layer,),
                      num_classes=classes, class_bias=base.class_bias).validate()


def all_diagrams(layer, lp, arch):
    return plan_module.replace(lp, diagram_luts=(True,) * lp.num_luts, form_reason="every LUT in diagram form")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
@pytest.mark.parametrize("build", ["strict", "sanitize"])
@pytest.mark.parametrize("n_values", [(1, 2, 3), (4, 5), (6,), (7, 8)])
def test_diagram_form_runs_bit_exact_on_the_host(monkeypatch, build, n_values):
    model = structured_model(sum(n_values), list(n_values))
    monkeypatch.setattr(plan_module, "lut_forms", all_diagrams)
    X = adversarial_inputs(model, 3).astype(np.float32)
    sources = render_model_sources(model, "nano", "dwn_model", "unrolled")
    assert "goto dwn_model_l1_" in sources["dwn_model.c"] and "_tab[" not in sources["dwn_model.c"]
    with HostModel(sources, "dwn_model", model.num_classes, build) as host:
        classes, scores = host.run(X)
        result = compare(model, X, classes, scores, host.build)
        assert result.ok, f"{result.mismatches} mismatches, first {result.first}"


def test_diagram_form_is_rendered_and_the_tables_leave_flash(monkeypatch):
    model = structured_model(3, [6])
    table = make_plan(model, get_board("nano"), layout="unrolled", check_budget=False)
    monkeypatch.setattr(plan_module, "lut_forms", all_diagrams)
    program = lower(model, "nano", layout="unrolled", optimize=False, check_budget=False)
    assert all(lp.diagram_luts == (True,) * lp.num_luts for lp in program.plan.layers)
    assert program.plan.flash["lut tables"] == 0 < table.flash["lut tables"]
    assert all(lut.offset is None and lut.immediate is None for pk in program.layers for lut in pk.luts)


def test_planner_chooses_per_lut_by_one_price():
    # constants and one-input LUTs are cheaper as branches; random 6-input LUTs are cheaper as tables
    model = structured_model(5, [6], luts=40)
    plan = make_plan(model, get_board("nano"), layout="unrolled", check_budget=False)
    lp = plan.layers[0]
    layer = model.layers[0]
    arch = plan_module.architecture("avr")
    cost, lat = arch.dwn_code, arch.latency["dwn"]
    for j, chosen in enumerate(lp.diagram_luts):
        d = bdd.diagram(layer.lut_table(j))
        diagram_price = sum(plan_module.diagram_form_price(d, cost, lat))
        table_price = sum(plan_module.table_form_price(6, lp.unrolled_asm, cost, lat))
        assert chosen == (diagram_price < table_price)
        if d.size <= 1:
            assert chosen
    assert 0 < sum(lp.diagram_luts) < lp.num_luts
    assert plan_module.FORM_RULE in lp.form_reason
