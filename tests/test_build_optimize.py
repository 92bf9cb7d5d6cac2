"""`build` runs the exact optimizer by default: a smaller model in the project, the same answers."""

import json
import shutil

import numpy as np
import pytest

from dwn_mcu import load, save
from dwn_mcu.cli import main
from dwn_mcu.compiler import get_board, make_plan
from dwn_mcu.compiler.project import board_form
from dwn_mcu.frozen import LutLayer
from dwn_mcu.optimize import optimize
from dwn_mcu.optimize.netlist import replace
from dwn_mcu.optimize.planted import planted_model
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
    assert small.size_bits()["total_bits"] == opt["after"]["total_bits"]
    X = adversarial_inputs(original)
    assert np.array_equal(small.scores(X), original.scores(X))
    assert main(["verify", str(tmp_path / "opt")]) == 0


def test_no_optimize_keeps_the_model(tmp_path, model_file):
    assert main(["build", str(model_file), "--board", "nano", "-o", str(tmp_path / "raw"), "--no-optimize"]) == 0
    report = json.loads((tmp_path / "raw" / "dwn_report.json").read_text())
    assert report["optimizer"] is None
    assert (tmp_path / "raw" / "dwn" / "model.dwn").read_bytes() == model_file.read_bytes()


def test_board_form_is_the_smallest_plan_and_keeps_the_answers():
    nano = get_board("nano")
    # One LUT of 40 ignores its last input (address bit 5), and random mappings read some bit twice: the
    # optimizer leaves a few LUTs with fewer than six inputs, and a layer of mixed counts loses the AVR
    # unrolled layout's assembly path (one count per layer) unless padded back.
    model = random_model(seed=3, num_features=6, bits_per_feature=32, luts=(40,), n=6)
    table = model.layers[0].tables.reshape(40, 64).copy()
    table[0, 32:] = table[0, :32]
    model = replace(model, layers=(LutLayer.uniform(model.layers[0].mapping.reshape(40, 6), table),))
    mixed, _ = optimize(model, uniform=False)
    counts = mixed.layers[0].n_inputs
    assert counts.max() == 6 and counts.min() < 6
    X = adversarial_inputs(model)
    for layout in ("unrolled", "table"):
        form = board_form(mixed, nano, layout=layout)
        flash = make_plan(form, nano, layout=layout, check_budget=False).model_flash
        assert flash <= make_plan(mixed, nano, layout=layout, check_budget=False).model_flash
        assert np.array_equal(form.scores(X), model.scores(X))
    unrolled = board_form(mixed, nano, layout="unrolled")
    assert set(unrolled.layers[0].n_inputs.tolist()) == {6}
    assert (make_plan(unrolled, nano, layout="unrolled", check_budget=False).model_flash
            < make_plan(mixed, nano, layout="unrolled", check_budget=False).model_flash)
