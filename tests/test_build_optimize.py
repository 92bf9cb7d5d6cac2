"""`build` runs the exact optimizer by default: a smaller model in the project, the same answers."""

import json
import shutil

import numpy as np
import pytest

from dwn_mcu import load, save
from dwn_mcu.cli import main
from dwn_mcu.optimize.planted import planted_model
from dwn_mcu.synthetic import adversarial_inputs


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
