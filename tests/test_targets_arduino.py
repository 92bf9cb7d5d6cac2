"""The Arduino sketch path: the sketch and model library built against Debian's arduino-core-avr for
the Nano, run in simavr with feature lines typed into its serial port; its printed classes must match
the reference."""

from pathlib import Path

import numpy as np

from dwn_mcu.synthetic import random_model
from dwn_mcu.targets.arduino import build_sketch, run_sketch
from dwn_mcu.targets.testing import require_arduino_core, require_target
from fixtures.standin.render import render_standin

FIXTURE = Path(__file__).parent / "fixtures" / "standin"


def test_sketch_classifies_serial_lines_in_simavr(tmp_path):
    require_target("avr")
    require_arduino_core()
    model = random_model(seed=5, num_features=3, bits_per_feature=4, luts=(30,), n=4, num_classes=2)
    lib = tmp_path / "lib"
    lib.mkdir()
    for fname, text in render_standin(model, "tm").items():
        (lib / fname).write_text(text)
    elf = build_sketch(FIXTURE / "sketch.cpp", [lib], tmp_path / "build")
    X = np.array([[0.5, 1.0, -2.0], [1.0, 2.0, 3.0], [-1.5, 0.25, 0.0], [2.0, -2.0, 0.5]], np.float32)
    lines = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in X)
    out = run_sketch(elf, lines)
    printed = [int(line.split()[1]) for line in out.text.splitlines() if line.startswith("class ")]
    assert printed == model.predict(X).tolist()
