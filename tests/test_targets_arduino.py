"""The Arduino sketch path: the generated project's `src/main.cpp` and model library, built against
Debian's arduino-core-avr for the Nano, run in simavr; feature lines typed into its serial port come
back as the reference's classes and scores, and the embedded self-test passes."""

import json
from pathlib import Path

import numpy as np

from dwn_mcu.compiler import build_project
from dwn_mcu.synthetic import adversarial_inputs, random_model
from dwn_mcu.compiler.project import load_project
from dwn_mcu.targets.project import decimal_safe_rows, format_table, verify_project_target, verify_sketch, write_report
from target_tools import require_arduino_core, require_target


def _project(tmp_path, layout="table"):
    model = random_model(seed=5, num_features=4, bits_per_feature=6, luts=(40, 20), n=6, num_classes=2)
    X = adversarial_inputs(model, seed=3, random_rows=24)
    out = tmp_path / "out"
    build_project(model, "nano", out, name="tm", layout=layout, selftest_vectors=X[::9], verify_vectors=X)
    return load_project(out)


def test_sketch_answers_serial_lines_and_passes_its_selftest(tmp_path):
    require_target("avr")
    require_arduino_core()
    project = _project(tmp_path)
    result = verify_sketch(project, count=10)
    assert result.vectors == 10 and result.first_mismatch is None and result.agree == 10
    assert result.selftest is not None and "PASS" in result.selftest


def test_decimal_safe_rows_keep_away_from_thresholds():
    model = random_model(seed=1, num_features=2, bits_per_feature=3, luts=(4,), n=2, num_classes=2)
    t = model.feature_thresholds
    X = np.array([[t[0][0], 5.0], [np.nextafter(t[0][1], np.float32(9)), 5.0], [9.0, 9.0], [np.nan, 9.0]],
                 np.float32)
    assert decimal_safe_rows(model, X).tolist() == [[9.0, 9.0]]


def test_verify_project_on_its_board_writes_the_report(tmp_path):
    require_target("avr")
    require_arduino_core()
    project = _project(tmp_path)
    row = verify_project_target(project, "avr")
    assert row["result"].ok and row["sketch"] is not None and row["sketch"].ok
    assert row["plan"] is not None
    table = format_table([row])
    assert table.splitlines()[1].split()[:3] == ["avr", str(project.vectors.shape[0]), "100.00%"]
    write_report(project.root, [row])
    report = json.loads((Path(project.root) / "dwn_report.json").read_text())
    assert report["targets"]["avr"]["agree"] == project.vectors.shape[0]
    assert report["targets"]["avr"]["latency_unit"] == "cycles"
    assert report["targets"]["avr"]["sketch"]["ok"] is True
    assert report["name"] == "tm"  # the compiler's own fields are kept
