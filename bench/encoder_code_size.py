"""Code bytes of the immediate encoder (thresholds as constants, `plan.encoder_search`) against the
threshold-table encoder, per architecture: the fit behind `imm` in dwn_mcu/architectures.py.

Random models (dwn_mcu.synthetic.random_model) of F features and B thresholds each (one layer of 8 LUTs,
n = 6), float32, uint8 and int16 inputs, are rendered twice (encoder="table" and "immediate", the table layout)
and compiled at -Os with each architecture's gcc (bench/flash_per_lut.py's compilers); the object's flash
difference is fitted by least squares as imm_fixed + imm_feature * F + imm_threshold * F * B.

    python bench/encoder_code_size.py [--arch avr ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from flash_per_lut import COMPILERS, object_flash  # noqa: E402

from dwn_mcu.compiler import get_board, make_plan  # noqa: E402
from dwn_mcu.compiler.program import pack_program  # noqa: E402
from dwn_mcu.compiler.render import render_library  # noqa: E402
from dwn_mcu.frozen import INPUT_TYPES  # noqa: E402
from dwn_mcu.integer_inputs import to_integer_model  # noqa: E402
from dwn_mcu.synthetic import random_model  # noqa: E402

SHAPES = ((2, 8), (5, 22), (8, 16), (16, 8), (19, 4), (4, 60))


def model_of(features: int, bits: int, input_type: str, seed: int):
    """A random model; integer types: converted with its range standing for [-6, 6] (thresholds inside)."""
    model = random_model(num_features=features, bits_per_feature=bits, luts=(8,), n=6, num_classes=2, seed=seed)
    if input_type == "float32":
        return model
    lo, hi = INPUT_TYPES[input_type]
    scale = 12.0 / (hi - lo)
    return to_integer_model(model, input_type, scale, -6.0 - lo * scale)


def measure(arch: str, input_type: str) -> list[tuple[int, int, int]]:
    """(features, thresholds, immediate minus table object bytes) per shape."""
    board = get_board(COMPILERS[arch][2])
    rows = []
    for i, (f, b) in enumerate(SHAPES):
        model = model_of(f, b, input_type, i)
        sizes = []
        for enc in ("table", "immediate"):
            plan = make_plan(model, board, layout="table", check_budget=False, encoder=enc)
            sizes.append(object_flash(render_library(pack_program(model, plan)), plan.name, arch))
        rows.append((f, model.num_input_bits, sizes[1] - sizes[0]))
    return rows


def fit(rows) -> np.ndarray:
    a = np.array([[1.0, f, t] for f, t, _ in rows])
    return np.linalg.lstsq(a, np.array([d for *_, d in rows], dtype=float), rcond=None)[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="*", default=list(COMPILERS))
    args = ap.parse_args(argv)
    for arch in args.arch:
        for input_type in ("float32", "uint8", "int16"):
            rows = measure(arch, input_type)
            c = fit(rows)
            worst = max(abs(c[0] + c[1] * f + c[2] * t - d) for f, t, d in rows)
            print(f"{arch} {input_type}: fixed {c[0]:.0f} feature {c[1]:.1f} threshold {c[2]:.2f} "
                  f"(worst {worst:.0f} bytes off; rows {rows})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
