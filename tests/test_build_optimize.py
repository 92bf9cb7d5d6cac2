"""`build` runs the exact optimizer by default: a smaller model in the project, the same answers."""

import json
import shutil

import numpy as np
import pytest

from dwn_mcu import load, save
from dwn_mcu.cli import main
from dwn_mcu.compiler import Budget, get_board, make_plan
from dwn_mcu.compiler.lower import choose
from dwn_mcu.frozen import LutLayer
from dwn_mcu.optimize import input_count_forms, optimize
from dwn_mcu.optimize.netlist import replace
from planted import planted_model
from dwn_mcu.synthetic import adversarial_inputs, random_model


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "waste.dwn"
    save(planted_model(seed=5, luts=(40, 12), n=4)[0], path)
    return path


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
def test_build_optimizes_and_verifies(tmp_path, model_file, capsys):
    original = load(model_file)
    assert main(["build", str(model_file), "--board", "nano", "-o", str(tmp_path / "opt")]) == 0
    assert "optimizer" in capsys.readouterr().out
    report = json.loads((tmp_path / "opt" / "dwn_report.json").read_text())
    opt = report["optimizer"]
    assert opt["after"]["total_bits"] < opt["before"]["total_bits"]
    small = load(tmp_path / "opt" / "dwn" / "model.dwn")
    # the stored model is one of the optimizer's input-count forms (the report's "after" is the unpadded
    # one; `choose` may store a padded form its price finds smaller, e.g. on AVR's unrolled assembly path)
    forms = {f.size_bits()["total_bits"] for f in input_count_forms(optimize(original, uniform=False)[0])}
    assert opt["after"]["total_bits"] in forms and small.size_bits()["total_bits"] in forms
    X = adversarial_inputs(original)
    assert np.array_equal(small.scores(X), original.scores(X))
    assert main(["verify", str(tmp_path / "opt")]) == 0


def test_no_optimize_keeps_the_model(tmp_path, model_file):
    assert main(["build", str(model_file), "--board", "nano", "-o", str(tmp_path / "raw"), "--no-optimize"]) == 0
    report = json.loads((tmp_path / "raw" / "dwn_report.json").read_text())
    assert report["optimizer"] is None
    assert (tmp_path / "raw" / "dwn" / "model.dwn").read_bytes() == model_file.read_bytes()


def test_board_form_is_small_and_fast_and_keeps_the_answers():
    nano = get_board("nano")
    # 30 LUTs of 40 ignore their last input (address bit 5), and random mappings read some bit twice: the
    # optimizer leaves many LUTs with fewer than six inputs, and a layer of mixed counts loses the AVR
    # unrolled layout's assembly path and the table layout's fast path (one count per layer) unless padded.
    # (Enough of them that padding costs more flash than the fast path's byte encoder saves.)
    model = random_model(seed=3, num_features=6, bits_per_feature=32, luts=(40,), n=6)
    table = model.layers[0].tables.reshape(40, 64).copy()
    table[:30, 32:] = table[:30, :32]
    model = replace(model, layers=(LutLayer.uniform(model.layers[0].mapping.reshape(40, 6), table),))
    mixed, _ = optimize(model, uniform=False)
    counts = mixed.layers[0].n_inputs
    assert counts.max() == 6 and counts.min() < 6
    X = adversarial_inputs(model)

    # (the threshold-table encoder throughout: the forms' flash, not the encoder's choice, is under test)
    def plan(m, layout):
        return make_plan(m, nano, layout=layout, check_budget=False, encoder="table")

    def board_form(mixed, board, layout, budget=None):  # the form `lower` chooses for a layout
        form, chosen = choose(input_count_forms(mixed), board, budget, layout=layout, encoder="table")
        assert chosen.layout == layout and chosen.model_flash == plan(form, layout).model_flash
        return form

    # unrolled: the smallest form is taken (with diagram-form LUTs, a LUT of fewer inputs is a smaller
    # diagram, so the mixed counts can beat the padded assembly path)
    unrolled = board_form(mixed, nano, "unrolled")
    assert plan(unrolled, "unrolled").model_flash == min(plan(f, "unrolled").model_flash
                                                         for f in input_count_forms(mixed))
    # table: mixed counts plan smaller, padding takes the fast path; the fast form where it fits the budget
    small = plan(mixed, "table").model_flash
    fast = board_form(mixed, nano, "table")
    assert plan(fast, "table").avr_bytes > 0 and not plan(mixed, "table").avr_bytes
    big = plan(fast, "table").model_flash
    assert big > small
    ram = nano.ram - nano.sketch_ram
    assert plan(board_form(mixed, nano, "table", budget=Budget(big, ram)), "table").avr_bytes > 0
    def unpadded(form):  # mixed counts as the optimizer left them (the identical model, or an equal copy)
        return np.array_equal(form.layers[0].n_inputs, mixed.layers[0].n_inputs) and not plan(form, "table").avr_bytes

    assert unpadded(board_form(mixed, nano, "table", budget=Budget(big - 1, ram)))
    assert unpadded(board_form(mixed, nano, "table", budget=Budget(small - 1, ram)))  # none fits: the smallest
    for form in (unrolled, fast):
        assert np.array_equal(form.scores(X), model.scores(X))
